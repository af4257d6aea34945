"""One chaos session: the real `day_trader.py` against the Gateway simulator, faults on schedule,
the invariants checked from the simulator's ground truth while it runs and after.

The simulator runs in this process (its own event loop in a thread: faults and the ground truth
are direct calls); the bot is the unmodified entry script in its own process, talking TWS over
loopback, so a SIGKILL is a real SIGKILL and a DB lock is held by another connection. The clock
waits while the bot starts (as a bot started before the open would), runs fast through the
afternoon and slowly (one market minute per real second) around the flatten, where "flat by
flatten + 60 s" must be judged fairly, and whenever a position of the bot lacks its correct exits:
the bot reacts in real seconds, so the 5-second protection deadline is judged at a pace where 5
real seconds are 5 market minutes, not two market hours.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from observability.history import HistoryDB
from sim.chaos.invariants import (
    RECONNECT_GRACE_S,
    RESTART_GRACE_S,
    RESTORE_GRACE_S,
    STARTUP_GRACE_S,
    Context,
    InvariantChecker,
)
from sim.chaos.schedule import SECOND_ACCOUNT_ID, SESSION_WIDE, Fault, FaultEvent, SessionSetup
from sim.gateway import GatewaySimulator
from sim.market.bar_sources import CsvBarSource
from sim.market.sessions import NY, session_bounds
from sim.tws.faults import OrderFilter
from sim.tws.runner import GatewayThread

REPO = Path(__file__).resolve().parents[2]
# the bot under test: this checkout, or another one (CHAOS_BOT_REPO) to show what the campaign
# catches in an older version of the bot against today's simulator
BOT_REPO = Path(os.environ.get("CHAOS_BOT_REPO") or REPO)
MAIN_ACCOUNT = "DU1234567"
CLIENT_ID = 2
ALLOCATION = 0.25
FAST, SLOW = 1500.0, 60.0
SLOW_FROM, SLOW_UNTIL = timedelta(seconds=-30), timedelta(minutes=2, seconds=30)  # around flatten
POLL_S = 0.05
TIMEOUT_S = 240.0
CRASH_MARKERS = ("Traceback (most recent call last)", "Task exception was never retrieved")


@dataclass
class SessionResult:
    name: str
    day: str
    symbols: list[str]
    faults: list[str] = field(default_factory=list)  # kinds injected, one entry per injection
    violations: list[str] = field(default_factory=list)
    trades: int = 0
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "day": self.day, "symbols": self.symbols, "faults": self.faults,
                "violations": self.violations, "trades": self.trades,
                "wall_s": round(self.wall_s, 1), "notes": self.notes}


class _Bot:
    """`day_trader.py` as a user runs it, in its own process."""

    def __init__(self, workdir: Path, port: int, watchlist: Path, account: str) -> None:
        self.workdir = workdir
        self.port = port
        self.watchlist = watchlist
        self.account = account
        self.db = workdir / "history.db"
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(LOGS_DIR=str(self.workdir / "logs"), REPORTS_DIR=str(self.workdir / "reports"),
                   PYTHONPATH=str(BOT_REPO))
        script = BOT_REPO / "day_trader.py"
        extra = ["--status-port", "0"] if "status-port" in _flags_of(script) else []
        out = (self.workdir / f"bot-{self.runs}.out").open("wb")
        err = (self.workdir / f"bot-{self.runs}.err").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(script), "--allocation", str(ALLOCATION),
             "--port", str(self.port), "--client-id", str(CLIENT_ID), "--account", self.account,
             "--db", str(self.db), "--watchlist", str(self.watchlist), "--no-improve",
             "--log-level", "WARNING", *extra],
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


class ChaosSession:
    def __init__(self, setup: SessionSetup, workdir: Path, data_dir: Path) -> None:
        self.setup = setup
        self.workdir = workdir
        self.data_dir = data_dir
        self.result = SessionResult(setup.name, setup.day.isoformat(), list(setup.symbols))
        opened, close = session_bounds(setup.day)
        self.close = close
        self.flatten_at = close - timedelta(minutes=5)
        self.pending: list[tuple[float, str, Any]] = []  # (wall time, action, argument)
        self.reachable_from = 0.0  # wall time the Gateway accepts connections again
        self.settled_from = 0.0  # wall time from which the bot is expected to have acted

    # -- set-up ---------------------------------------------------------------------------------
    def _gateway(self) -> GatewayThread:
        setup = self.setup
        start = datetime.combine(setup.day, setup.start, tzinfo=NY)
        sim = GatewaySimulator.build(
            CsvBarSource(self.data_dir, setup.symbols), setup.day, list(setup.symbols),
            speed=None, start=start, port=0, master_client_id=77,
            second_account=SECOND_ACCOUNT_ID if setup.second_account else None,
            second_positions=dict(setup.second_account) or None,
        )
        self.sim = sim
        return sim.start_in_thread()

    def _seed_books(self, gw: GatewayThread) -> None:
        """The weekly book's shares: at the broker (bought earlier) and in the shared DB."""
        if not self.setup.weekly:
            return
        now = gw.call(self.sim.now)
        db = HistoryDB.open(self.workdir / "history.db")
        try:
            for symbol, qty in self.setup.weekly.items():
                price = gw.call(self.sim.replay.price_at, symbol, now) or 100.0
                gw.call(self.sim.engine.ledger.apply, symbol, float(qty), float(price), 0.0)
                db.set_book_position("weekly", symbol, qty, float(price), now)
        finally:
            db.close()

    def _watchlist(self) -> Path:
        path = self.workdir / "watchlist.json"
        known = (BOT_REPO / "trade" / "models.py").read_text()  # an older bot lacks new params
        params = {k: v for k, v in self.setup.params.items() if k in known}
        body = {"symbols": list(self.setup.symbols),
                "overrides": {s: dict(params) for s in self.setup.symbols}}
        path.write_text(json.dumps(body))
        return path

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> SessionResult:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        gw = self._gateway()
        bot = _Bot(self.workdir, gw.port, self._watchlist(), MAIN_ACCOUNT)
        try:
            self._seed_books(gw)
            # the session-wide conditions are in force from the start: they count as injected
            self.result.faults += [k.value for k in self.setup.faults if k in SESSION_WIDE]
            state = gw.call(self.sim.state)
            checker = InvariantChecker(
                MAIN_ACCOUNT, ALLOCATION, self.flatten_at, self.close,
                self.flatten_at + timedelta(minutes=2), dict(self.setup.weekly),
                {a: {s: p["qty"] for s, p in v["positions"].items()}
                 for a, v in state["accounts"].items() if a != MAIN_ACCOUNT},
            )
            self._start_bot(gw, bot)
            self._loop(gw, bot, checker)
            bot.stop()
            final = gw.call(self.sim.state)
            checker.observe(final, self._context(bot))
            checker.finish(final, self._recorded(bot.db))
            self.result.violations = checker.violations + [f"X1 {c}" for c in bot.crashes()]
            self.result.trades = self._trades(bot.db)
        except Exception as exc:  # the campaign reports a broken session, it does not crash
            self.result.violations.append(f"X0 campaign error: {type(exc).__name__}: {exc}")
        finally:
            bot.kill()
            gw.stop()
        self.result.wall_s = time.monotonic() - started
        return self.result

    def _start_bot(self, gw: GatewayThread, bot: _Bot) -> None:
        """Start the bot with the clock held, run it once it subscribed (or gave up)."""
        gw.call(self.sim.set_speed, None)
        bot.start()
        deadline = time.monotonic() + 40.0
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline and bot.running:
            count = gw.call(self._subscriptions)
            if count != last:
                last, stable_since = count, time.monotonic()
            elif count > 0 and time.monotonic() - stable_since > 0.3:
                break
            time.sleep(0.05)
        gw.call(self.sim.set_speed, self._speed_at(gw.call(self.sim.now)))
        self._settle(STARTUP_GRACE_S)

    def _settle(self, grace_s: float) -> None:
        self.settled_from = max(self.settled_from, time.monotonic() + grace_s)

    def _subscriptions(self) -> int:
        return sum(len(s.subs.realtime_bars) for s in list(self.sim._sessions))

    def _speed_at(self, now: datetime) -> float:
        slow = self.flatten_at + SLOW_FROM <= now < self.flatten_at + SLOW_UNTIL
        return SLOW if slow else FAST

    def _context(self, bot: _Bot) -> Context:
        wall = time.monotonic()
        reachable = wall >= self.reachable_from and not self.sim.refusing
        return Context(wall, bot.running, reachable, self.settled_from)

    def _loop(self, gw: GatewayThread, bot: _Bot, checker: InvariantChecker) -> None:
        events = list(self.setup.events)
        speed = FAST
        deadline = time.monotonic() + TIMEOUT_S
        end = self.close + timedelta(minutes=3)
        while True:
            now = gw.call(self.sim.now)
            if now >= end and not bot.running and not self._restart_pending():
                return
            if time.monotonic() > deadline:
                checker.violate("X2", f"session still running after {TIMEOUT_S:g} s real "
                                      f"(market {now:%H:%M}; the bot {'runs' if bot.running else 'ended'})")
                return
            wanted = SLOW if checker.exposed else self._speed_at(now)
            if wanted != speed:
                speed = wanted
                gw.call(self.sim.set_speed, speed)
            while events and now.time() >= events[0].at:
                self._inject(gw, bot, events.pop(0), now)
            self._run_pending(gw, bot, now)
            checker.observe(gw.call(self.sim.state), self._context(bot))
            time.sleep(POLL_S)

    # -- faults ---------------------------------------------------------------------------------
    def _inject(self, gw: GatewayThread, bot: _Bot, event: FaultEvent, now: datetime) -> None:
        kind, args, sim = event.kind, event.args, self.sim
        wall = time.monotonic()
        if kind is Fault.GATEWAY_RESTART:
            gw.call(sim.restart, args["refuse_s"])
            self.reachable_from = wall + args["refuse_s"]
            # the bot's reconnect backoff doubles from 0.5 s: it may try again up to the
            # refusal's length after the Gateway is back
            self._settle(2 * args["refuse_s"] + RECONNECT_GRACE_S)
        elif kind is Fault.CONNECTIVITY:
            gw.call(sim.connectivity_lost)
            self.pending.append((wall + args["for_s"], "restore", args["data_kept"]))
            self.reachable_from = wall + args["for_s"]
            self._settle(args["for_s"] + RESTORE_GRACE_S)
        elif kind is Fault.REJECT_ENTRY:
            gw.call(sim.reject_next_order, 201, OrderFilter(role="parent", ref="-ENTRY"))
        elif kind is Fault.REJECT_CHILD:
            gw.call(sim.reject_next_child, 201, OrderFilter(role="child"))
        elif kind is Fault.REJECT_STOP:
            gw.call(sim.reject_next_order, 201, OrderFilter(order_type="STP", ref="DT-"))
        elif kind is Fault.PARTIAL_FILL:
            gw.call(sim.partial_fill_next, args["fraction"], OrderFilter(role=args["role"], ref="DT-"))
        elif kind is Fault.CANCEL_FROM_TWS:
            target = self._working_exit(gw)
            if target is None:
                self.result.notes.append(f"{event.label()}: no working exit to cancel")
                return
            gw.call(sim.cancel_order_from_tws, target)
        elif kind is Fault.DB_LOCK:
            threading.Thread(target=_lock_db, args=(bot.db, args["for_s"]), daemon=True).start()
        elif kind is Fault.KILL_RESTART:
            bot.kill()
            self._settle(float("inf"))  # until it is back (see _run_pending)
            mode = args["mode"]
            if mode == "after_close":
                self.pending.append((0.0, "restart_after_close", None))
            else:
                if mode == "empty_db":
                    self._fresh_db(bot, now)
                self.pending.append((wall + args["down_s"], "restart", None))
        self.result.faults.append(kind.value)

    def _run_pending(self, gw: GatewayThread, bot: _Bot, now: datetime) -> None:
        wall = time.monotonic()
        keep = []
        for due, action, arg in self.pending:
            if action == "restart_after_close":
                due = wall if now >= self.close + timedelta(minutes=1) else float("inf")
            if wall < due:
                keep.append((due, action, arg))
                continue
            if action == "restore":
                gw.call(self.sim.connectivity_restored, arg)
            elif action in ("restart", "restart_after_close"):
                bot.start()
                self.settled_from = wall + RESTART_GRACE_S
        self.pending = keep

    def _restart_pending(self) -> bool:
        return any(action.startswith("restart") for _, action, _ in self.pending)

    def _working_exit(self, gw: GatewayThread) -> int | None:
        state = gw.call(self.sim.state)
        exits = [o for o in state["open_orders"] if o["ref"].startswith("DT-")
                 and o["ref"].rsplit("-", 1)[-1] in ("TP", "SL", "BKS")]
        if not exits:
            return None
        # the stop first: a position left with only its take-profit is the dangerous case
        exits.sort(key=lambda o: (o["type"] != "STP", o["order_id"]))
        return int(exits[0]["order_id"])

    def _fresh_db(self, bot: _Bot, now: datetime) -> None:
        """The bot restarts on an empty DB (the file was lost); the weekly bot's book is
        recorded again, as that bot would on its own next start."""
        bot.db = self.workdir / f"history-{bot.runs + 1}.db"
        if self.setup.weekly:
            db = HistoryDB.open(bot.db)
            try:
                for symbol, qty in self.setup.weekly.items():
                    db.set_book_position("weekly", symbol, qty, 0.0, now)
            finally:
                db.close()

    # -- after the run --------------------------------------------------------------------------
    @staticmethod
    def _recorded(db_path: Path) -> list[tuple[str, float]]:
        if not db_path.exists():
            return []
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            return [(r[0], float(r[1])) for r in conn.execute(
                "SELECT exec_id, commission FROM executions WHERE book = 'intraday'")]

    @staticmethod
    def _trades(db_path: Path) -> int:
        if not db_path.exists():
            return 0
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM trades WHERE book = 'intraday'").fetchone()[0])


def _flags_of(script: Path) -> str:
    """The entry script's source and its option modules (older versions lack some flags)."""
    parts = [script, script.parent / "ui" / "status" / "cli.py"]
    return "".join(p.read_text() for p in parts if p.exists())


def _lock_db(path: Path, seconds: float) -> None:
    """Another process's write lock on the bot's DB (BEGIN EXCLUSIVE) for `seconds`."""
    if not path.exists():
        return
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        conn.execute("COMMIT")
    except sqlite3.Error:
        pass
    finally:
        conn.close()
