"""Drive `main.py` as a user would, against a Gateway simulator replaying the shared DAILY data.

`python -m tests.e2e.weekly_harness --day D --symbols ... [--hold SYM=QTY@COST ...]` serves one
session of the daily files as minute paths (sim/market/daily_path.py) in its own process, with
the admin port of `python -m sim.gateway` (faults, `speed`, `state`). `--hold` opens the account
with positions, as the paper account stands after an earlier session: the simulator replays one
session per process, so a later cycle's broker is given the shares the earlier cycle bought
(cash reduced by their cost) instead of replaying the weeks in between.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from tests.e2e.harness import _LISTENING, PYTHON, GatewayProcess, bot_env
from tests.paths import DATA, REPO

MAIN = REPO / "main.py"


def write_universe(directory: Path, symbols: Sequence[str], rules: dict[str, Any] | None = None,
                   name: str = "universe.json") -> Path:
    path = directory / name
    path.write_text(json.dumps({"symbols": list(symbols), "rules": rules or {}}))
    return path


def weekly_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = bot_env(workdir)
    env["REPORTS_DIR"] = str(workdir / "reports")
    for name in ("FMP_API_KEY", "DEEPSEEK_API_KEY", "LOCAL_LLM_BASE_URL", "WEEKLY_ALLOCATION"):
        env.pop(name, None)
    return {**env, **(extra or {})}


def run_weekly(workdir: Path, *args: str, timeout: float = 120.0,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, str(MAIN), *args], cwd=workdir, env=weekly_env(workdir, env),
                          capture_output=True, text=True, timeout=timeout)


def start_weekly(workdir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([PYTHON, str(MAIN), *args], cwd=workdir, env=weekly_env(workdir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def report(workdir: Path, day: str) -> dict[str, Any]:
    return json.loads((workdir / "reports" / "weekly" / f"weekly_report_{day}.json").read_text())


def start_gateway(day: str, symbols: Sequence[str], *, speed: float = 600.0, at: str = "10:00",
                  hold: dict[str, tuple[int, float]] | None = None,
                  paused: bool = False) -> GatewayProcess:
    """The daily-data simulator in its own process (see the module doc)."""
    args = [PYTHON, "-m", "tests.e2e.weekly_harness", "--day", day, "--symbols", *symbols,
            "--speed", "0" if paused else str(speed), "--at", at]
    for symbol, (qty, cost) in (hold or {}).items():
        args += ["--hold", f"{symbol}={qty}@{cost}"]
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert process.stdout is not None
    line = process.stdout.readline()
    match = _LISTENING.search(line)
    if match is None or match.group(2) is None:
        process.kill()
        raise RuntimeError(f"weekly gateway did not start: {line!r} "
                           f"{process.stderr.read() if process.stderr else ''}")
    return GatewayProcess(process, int(match.group(1)), int(match.group(2)))


# -- the gateway process ------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.e2e.weekly_harness")
    p.add_argument("--day", type=date.fromisoformat, required=True)
    p.add_argument("--symbols", nargs="+", required=True)
    p.add_argument("--speed", type=float, default=600.0, help="0 = stepping (paused)")
    p.add_argument("--at", default="10:00", help="New York time the clock starts at")
    p.add_argument("--hold", action="append", default=[], help="SYM=QTY@COST")
    p.add_argument("--cash", type=float, default=100_000.0)
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    from sim.gateway import GatewaySimulator
    from sim.market.daily_path import DailyPathSource
    from sim.market.sessions import NY

    hh, mm = (int(x) for x in args.at.split(":"))
    start = datetime.combine(args.day, time(hh, mm), tzinfo=NY)
    symbols = [s.upper() for s in args.symbols]
    sim = GatewaySimulator.build(DailyPathSource(DATA, symbols, day=args.day), args.day, symbols,
                                 speed=args.speed or None, start=start, cash=args.cash, port=0,
                                 admin_port=0, master_client_id=77)  # broker_executions' client
    for held in args.hold:
        symbol, rest = held.split("=")
        qty, cost = rest.split("@")
        sim.engine.ledger.apply(symbol.upper(), float(qty), float(cost), 0.0)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await sim.start()
    print(f"weekly gateway listening on 127.0.0.1:{sim.port} (admin 127.0.0.1:{sim.admin_port})",
          flush=True)
    await stopped.wait()
    await sim.stop()


if __name__ == "__main__":
    asyncio.run(_serve(_parse(sys.argv[1:])))


class ServerThread:
    """An async loopback server (FakeFMPServer, FakeOpenAIServer) on its own event loop in a
    daemon thread, so a subprocess under test can talk to it while the test blocks."""

    def __init__(self, server: Any) -> None:
        import threading

        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
