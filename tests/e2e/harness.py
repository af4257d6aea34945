"""Drive the entry scripts as a user would: subprocesses, the Gateway simulator as its own process,
its admin port for faults, and a separate ib_async client to read what the "broker" really did.

Every run happens in its own working directory (tmp_path), so `.env`, `logs/` and the DB of one
test never leak into another or into the checkout.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.paths import DATA as DATA  # re-exported: the e2e tests take it from here
from tests.paths import REPO

PYTHON = sys.executable
_LISTENING = re.compile(r"listening on [\d.]+:(\d+)(?: \(admin [\d.]+:(\d+)\))?")


def write_watchlist(directory: Path, symbols: Sequence[str], overrides: dict[str, Any] | None = None,
                    name: str = "watchlist.json") -> Path:
    body: dict[str, Any] = {"symbols": list(symbols)}
    if overrides:
        body["overrides"] = overrides
    path = directory / name
    path.write_text(json.dumps(body))
    return path


def bot_env(workdir: Path) -> dict[str, str]:
    # a developer's exported tracing or alert settings never reach a test run (no test pushes
    # to a real phone); a test that wants alerts passes ALERT_URLS itself
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ALERT_"))}
    env["LOGS_DIR"] = str(workdir / "logs")
    env["PYTHONPATH"] = str(REPO)
    return env


def run_bot(workdir: Path, *args: str, timeout: float = 120.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, str(REPO / "day_trader.py"), *args], cwd=workdir,
        env={**bot_env(workdir), **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


def start_bot(workdir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, str(REPO / "day_trader.py"), *args], cwd=workdir, env=bot_env(workdir),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run_log_path(workdir: Path, day: str) -> Path:
    """The newest run log of `day` (real runs in logs/, a simulator's in its namespace
    sim_runs/<id>/logs/, those of a --db of the test's choosing in logs/sim/)."""
    found = sorted([*(workdir / "logs").rglob(f"day_trader_run_{day}*.json"),
                    *(workdir / "sim_runs").rglob(f"day_trader_run_{day}*.json")],
                   key=lambda p: p.name)
    assert found, f"no run log of {day} under {workdir / 'logs'} or {workdir / 'sim_runs'}"
    return found[-1]


def sim_namespaces(workdir: Path) -> list[Path]:
    """The simulators' record namespaces a run left in `workdir` (trade/records_routing.py)."""
    return sorted(p for p in (workdir / "sim_runs").glob("*") if p.is_dir())


def run_log(workdir: Path, day: str) -> dict[str, Any]:
    return json.loads(run_log_path(workdir, day).read_text())


@dataclass
class GatewayProcess:
    """`python -m sim.gateway` in its own process, with its admin port."""

    process: subprocess.Popen[str]
    port: int
    admin_port: int

    @classmethod
    def start(cls, *args: str) -> GatewayProcess:
        process = subprocess.Popen(
            [PYTHON, "-m", "sim.gateway", "--port", "0", "--admin-port", "0",
             "--master-client-id", "77", *args],  # 77 = broker_executions' client: sees every client's
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        match = _LISTENING.search(line)
        if match is None:
            process.kill()
            raise RuntimeError(f"simulator did not start: {line!r} {process.stderr.read() if process.stderr else ''}")
        return cls(process, int(match.group(1)), int(match.group(2)))

    def admin(self, command: str) -> str:
        with socket.create_connection(("127.0.0.1", self.admin_port), timeout=5) as conn:
            conn.sendall(command.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                reply += chunk
        return reply.decode().strip()

    def state(self) -> dict[str, Any]:
        reply = self.admin("state")
        assert reply.startswith("OK "), reply
        return json.loads(reply[3:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def broker_executions(port: int, client_id: int = 77) -> list[Any]:
    """Every execution the simulator reports (clientId filter 0 = all clients), via ib_async."""
    from ib_async import IB, ExecutionFilter

    async def fetch() -> list[Any]:
        ib = IB()
        await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=10)
        try:
            return list(await ib.reqExecutionsAsync(ExecutionFilter()))
        finally:
            ib.disconnect()

    return asyncio.run(fetch())


def wait_until(predicate: Any, timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


class ProtectionMonitor:
    """Polls the simulator's state and measures, in real seconds, the longest time any position
    had fewer shares covered by working stop orders than it held (a position without exits)."""

    def __init__(self, gateway: GatewayProcess, poll: float = 0.05) -> None:
        import threading

        self.gateway = gateway
        self.poll = poll
        self.longest_unprotected = 0.0
        self.max_position: dict[str, float] = {}
        self.samples = 0
        self._since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProtectionMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                state = self.gateway.state()
            except (OSError, AssertionError, ValueError):
                time.sleep(self.poll)
                continue
            self.samples += 1
            now = time.monotonic()
            for symbol, qty in state["positions"].items():
                self.max_position[symbol] = max(self.max_position.get(symbol, 0.0), qty)
            for symbol in set(self._since) | set(state["positions"]):
                qty = state["positions"].get(symbol, 0.0)
                covered = sum(o["remaining"] for o in state["open_orders"]
                              if o["symbol"] == symbol and o["action"] == "SELL" and o["type"] == "STP")
                if qty > 0 and covered < qty:
                    start = self._since.setdefault(symbol, now)
                    self.longest_unprotected = max(self.longest_unprotected, now - start)
                else:
                    self._since.pop(symbol, None)
            time.sleep(self.poll)
