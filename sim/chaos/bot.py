"""The bot under test in a chaos session: the unmodified `day_trader.py` in its own process, as a
user runs it (so a SIGKILL is a real SIGKILL), started under the client id a fault asks for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# the bot under test: this checkout, or another one (CHAOS_BOT_REPO) to show what the campaign
# catches in an older version of the bot against today's simulator
BOT_REPO = Path(os.environ.get("CHAOS_BOT_REPO") or REPO)
CLIENT_ID = 2
ALLOCATION = 0.25
CRASH_MARKERS = ("Traceback (most recent call last)", "Task exception was never retrieved")


class BotProcess:
    """`day_trader.py` in its own process; `start(client_id)` (re)starts it."""

    def __init__(self, workdir: Path, port: int, watchlist: Path, account: str) -> None:
        self.workdir = workdir
        self.port = port
        self.watchlist = watchlist
        self.account = account
        self.db = workdir / "history.db"
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.client_id = CLIENT_ID

    def start(self, client_id: int = CLIENT_ID) -> None:
        self.runs += 1
        self.client_id = client_id
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(LOGS_DIR=str(self.workdir / "logs"), REPORTS_DIR=str(self.workdir / "reports"),
                   PYTHONPATH=str(BOT_REPO))
        script = BOT_REPO / "day_trader.py"
        extra = ["--status-port", "0"] if "status-port" in flags_of(script) else []
        out = (self.workdir / f"bot-{self.runs}.out").open("wb")
        err = (self.workdir / f"bot-{self.runs}.err").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(script), "--allocation", str(ALLOCATION),
             "--port", str(self.port), "--client-id", str(client_id), "--account", self.account,
             "--db", str(self.db), "--watchlist", str(self.watchlist), "--no-improve",
             "--log-level", os.environ.get("CHAOS_BOT_LOG_LEVEL", "INFO"), *extra],
            cwd=self.workdir, env=env, stdout=out, stderr=err,
        )
        out.close()
        err.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def crashes(self) -> list[str]:
        found = []
        for path in sorted(self.workdir.glob("bot-*.err")):
            text = path.read_text(errors="replace")
            found += [f"{path.name}: {m}" for m in CRASH_MARKERS if m in text]
        return found


def flags_of(script: Path) -> str:
    """The entry script's source and its option modules (older versions lack some flags)."""
    parts = [script, script.parent / "ui" / "status" / "cli.py"]
    return "".join(p.read_text() for p in parts if p.exists())
