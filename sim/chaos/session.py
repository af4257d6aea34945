"""One chaos session: the real `day_trader.py` against the Gateway simulator, faults on schedule,
the invariants checked from the simulator's ground truth while it runs and after.

The simulator runs in this process (its own event loop in a thread: faults and the ground truth
are direct calls); the bot is the unmodified entry script in its own process, talking TWS over
loopback, so a SIGKILL is a real SIGKILL and a DB lock is held by another connection. The clock
waits while the bot starts (as a bot started before the open would), runs fast through the
afternoon and slowly (one market minute per real second) around the flatten while the bot holds
anything, where "flat by flatten + 60 s" must be judged fairly, and whenever a position of the
bot lacks its correct exits: the bot reacts in real seconds, so the 5-second protection deadline
is judged at a pace where 5 real seconds are 5 market minutes, not two market hours.

With `realism` (on in `python -m sim.chaos`, `--realism off` to disable) the simulator answers
with IB's timing (`sim/tws/realism.py`) and the session's drawn variants of it. A bot up at the
close must have ended `SETTLE_BOUND_S` real seconds later (I9): one that has not is killed, so a
hung bot costs the campaign a bounded time.
"""

from __future__ import annotations

import json
import sqlite3
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from observability.history import HistoryDB, HistoryDBError
from sim.chaos.bot import ALLOCATION, BOT_REPO, CLIENT_ID, BotProcess
from sim.chaos.faults import REAL_PACE, WRONG_ID, WRONG_ID_S, FaultInjection
from sim.chaos.invariants import (
    RESTART_GRACE_S,
    SETTLE_BOUND_S,
    STARTUP_GRACE_S,
    Context,
    InvariantChecker,
)
from sim.chaos.ownership import OwnershipTruth
from sim.chaos.schedule import SECOND_ACCOUNT_ID, SESSION_WIDE, FaultEvent, SessionSetup
from sim.gateway import GatewaySimulator
from sim.market.bar_sources import CsvBarSource
from sim.market.sessions import NY, previous_sessions, session_bounds
from sim.tws.realism import Realism
from sim.tws.runner import GatewayThread

MAIN_ACCOUNT = "DU1234567"
FAST, SLOW = 3000.0, 60.0
SLOW_FROM, SLOW_UNTIL = timedelta(seconds=-30), timedelta(minutes=2, seconds=30)  # around flatten
# The flatten's minute while the bot holds anything: 60 market seconds are 6 real ones. The bot's
# flatten takes real time (reads, a modification's answer, cancels, a sale's fill: IB's replies
# take tens to hundreds of milliseconds each); at SLOW the minute was 1 real second and a flatten
# of 1.2 s failed I4 that in a real market would finish in its first seconds.
FLATTEN_PACE = 10.0
FLATTEN_FROM = timedelta(seconds=-5)
# ... and on until the close while it still holds: a flatten delayed by a fault (a Gateway down
# over 15:55) finishing at 1500x would see the close come within a real second (seed 287)
POLL_S = 0.05
TIMEOUT_S = 240.0
STARTS = ("restart", "restart_after_close", "start_wrong_id", "replace_wrong_id")  # launch a bot


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
    realism: dict[str, Any] = field(default_factory=dict)  # the timing model's variants, if on
    exposed_s: float = 0.0  # real seconds at the slow pace because a position lacked its exits
    startup_s: float = 0.0  # real seconds the clock was held while the bot started

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "day": self.day, "symbols": self.symbols, "faults": self.faults,
                "violations": self.violations, "trades": self.trades,
                "wall_s": round(self.wall_s, 1), "notes": self.notes, "realism": self.realism,
                "exposed_s": round(self.exposed_s, 1), "startup_s": round(self.startup_s, 1)}


class ChaosSession(FaultInjection):
    def __init__(self, setup: SessionSetup, workdir: Path, data_dir: Path,
                 realism: Realism | None = None) -> None:
        self.setup = setup
        self.workdir = workdir
        self.data_dir = data_dir
        self.realism = realism if realism is not None and realism.enabled else None
        self.result = SessionResult(setup.name, setup.day.isoformat(), list(setup.symbols))
        _opened, close = session_bounds(setup.day)
        self.close = close
        self.flatten_at = close - timedelta(minutes=5)
        self.pending: list[tuple[float, str, Any]] = []  # (wall time, action, argument)
        self.waiting: list[FaultEvent] = []  # faults with nothing to act on yet
        self.paced_by_fault = False  # a fault set the clock's speed on the simulator's thread
        self.foreign_changed: tuple[float, datetime] | None = None  # (wall, market): a weekly fill
        self.real_pace_until = 0.0  # a fault waits for real seconds to pass (wall time)
        self.reachable_from = 0.0  # wall time the Gateway accepts connections again
        self.settled_from = 0.0  # wall time from which the bot is expected to have acted
        self.ownership = OwnershipTruth(MAIN_ACCOUNT, foreign={**setup.weekly}, start_lot=dict(setup.leftover))
        for symbol, qty in setup.owner.items():
            self.ownership.add_foreign(symbol, qty)
        self.bot_started_wall = 0.0  # when the bot (re)started
        self.closed_wall: float | None = None  # when the market clock reached the close
        self.ended_after_close: float | None = None
        self.wrong_since: datetime | None = None  # market time the bot started under WRONG_ID
        # (wall, market time, what): the pace set, the faults and the bot's requests, so a kept
        # session shows when the bot acted on the simulator's clock (its log has its estimate)
        self.trace: list[tuple[float, datetime, str]] = []

    # -- set-up ---------------------------------------------------------------------------------
    def _gateway(self) -> GatewayThread:
        setup = self.setup
        start = datetime.combine(setup.day, setup.start, tzinfo=NY)
        realism = None
        if self.realism is not None:
            realism = self.realism.varied(seed=zlib.crc32(setup.name.encode()), **setup.realism)
            self.result.realism = dict(setup.realism)
        sim = GatewaySimulator.build(
            CsvBarSource(self.data_dir, setup.replayed), setup.day, list(setup.replayed),
            speed=None, start=start, port=0, master_client_id=77,
            second_account=SECOND_ACCOUNT_ID if setup.second_account else None,
            second_positions=dict(setup.second_account) or None, realism=realism,
        )
        self.sim = sim
        sim.request_observers.append(self._trace_request)
        return sim.start_in_thread()

    def _seed_books(self, gw: GatewayThread) -> None:
        """Shares in the account before the bot starts: the weekly book's (at the broker and in
        the shared DB), the owner's (at the broker only), yesterday's leftover of the bot (at the
        broker and in the bot's book, bought at the previous close)."""
        setup = self.setup
        if not (setup.weekly or setup.owner or setup.leftover):
            return
        now = gw.call(self.sim.now)
        yesterday = session_bounds(previous_sessions(setup.day, 1)[0])[1]
        db = HistoryDB.open(self.workdir / "history.db")
        try:
            for book, held in (("weekly", setup.weekly), ("", setup.owner), ("intraday", setup.leftover)):
                for symbol, qty in held.items():
                    price = gw.call(self.sim.replay.price_at, symbol, now) or 100.0
                    gw.call(self.sim.engine.ledger.apply, symbol, float(qty), float(price), 0.0)
                    if book:
                        db.set_book_position(book, symbol, qty, float(price),
                                             yesterday if book == "intraday" else now)
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
        bot = BotProcess(self.workdir, gw.port, self._watchlist(), MAIN_ACCOUNT)
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
                ownership=self.ownership,
            )
            self._start_bot(gw, bot)
            self._loop(gw, bot, checker)
            bot.stop()
            final = gw.call(self.sim.state)
            checker.observe(final, self._context(bot))
            checker.finish(final, self._recorded(bot.db), pending=self._pending(bot.db),
                           last_client_id=bot.client_id)
            if checker.unknowable:
                self.result.notes.append(
                    f"commission pending for {len(checker.unknowable)} execution(s) of another "
                    f"client id than the last run's ({bot.client_id}): IB reports it only to "
                    "the client that placed the order")
            self.result.violations = checker.violations + [f"X1 {c}" for c in bot.crashes()]
            self.result.trades = self._trades(bot.db)
        except Exception as exc:  # the campaign reports a broken session, it does not crash
            self.result.violations.append(f"X0 campaign error: {type(exc).__name__}: {exc}")
        finally:
            bot.kill()
            gw.stop()
            self._write_trace()
        self.result.wall_s = time.monotonic() - started
        return self.result

    def _start_bot(self, gw: GatewayThread, bot: BotProcess) -> None:
        """Start the bot with the clock held, run it once it subscribed (or gave up)."""
        self._held_launch(gw, bot, CLIENT_ID, then=None)
        self.result.startup_s = time.monotonic() - self.bot_started_wall
        self._settle(STARTUP_GRACE_S)

    def _held_launch(self, gw: GatewayThread, bot: BotProcess, client_id: int,
                     then: float | None) -> None:
        """(Re)start the bot with the market clock held until it has subscribed its bars (or
        ended), then run the clock at `then` (None: the pace for the time of day). A supervisor
        restarts a bot in real seconds; at the campaign's pace those would be market minutes,
        and a restart at 15:56 found the close already passed (seed 101): nothing it did could
        be judged fairly."""
        gw.call(self.sim.set_speed, None)
        self._launch(bot, client_id)
        deadline = time.monotonic() + 40.0
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline and bot.running:
            count = gw.call(self._subscriptions)
            if count != last:
                last, stable_since = count, time.monotonic()
            elif count > 0 and time.monotonic() - stable_since > 0.3:
                break
            time.sleep(0.05)
        gw.call(self.sim.set_speed, then if then is not None else self._speed_at(gw.call(self.sim.now)))

    def _launch(self, bot: BotProcess, client_id: int) -> None:
        bot.start(client_id)
        self.bot_started_wall = time.monotonic()

    def _settle(self, grace_s: float) -> None:
        self.settled_from = max(self.settled_from, time.monotonic() + grace_s)

    def _subscriptions(self) -> int:
        return sum(len(s.subs.realtime_bars) for s in list(self.sim._sessions))

    def _pace(self, checker: InvariantChecker, bot: BotProcess, now: datetime) -> float:
        """The clock's speed for what can be judged now (never slowed for a bot the campaign
        keeps down: nothing it could do is being judged)."""
        if not self._bot_up(bot, now):
            return self._speed_at(now, holding=checker.holding)
        if checker.at_risk or time.monotonic() < self.real_pace_until:
            return REAL_PACE
        if checker.holding and self.flatten_at + FLATTEN_FROM <= now < self.close:
            return FLATTEN_PACE
        if checker.exposed:
            return SLOW
        return self._speed_at(now, holding=checker.holding)

    def _speed_at(self, now: datetime, holding: bool = True) -> float:
        """SLOW around the flatten while the bot holds shares or has working orders (its
        flatten and the backstop are judged there); FAST otherwise: entries stop 30 minutes
        before the close, so a bot holding nothing then has nothing left to flatten."""
        slow = holding and self.flatten_at + SLOW_FROM <= now < self.flatten_at + SLOW_UNTIL
        return SLOW if slow else FAST

    def _context(self, bot: BotProcess, now: datetime | None = None) -> Context:
        wall = time.monotonic()
        reachable = wall >= self.reachable_from and not self.sim.refusing
        return Context(wall, self._bot_up(bot, now), reachable, self.settled_from)

    def _bot_up(self, bot: BotProcess, now: datetime | None) -> bool:
        """Running, or ended by itself before the close: its positions are its to protect
        then too (only the campaign's kills excuse it)."""
        if bot.running:
            return True
        return now is not None and now < self.close and not self._restart_pending()

    def _loop(self, gw: GatewayThread, bot: BotProcess, checker: InvariantChecker) -> None:
        events = list(self.setup.events)
        speed = FAST
        deadline = time.monotonic() + TIMEOUT_S
        end = self.close + timedelta(minutes=3)
        step_at = time.monotonic()
        exposed: set[str] = set()
        at_risk: set[str] = set()
        while True:
            now = gw.call(self.sim.now)
            self._judge_the_end(bot, checker, now)
            if now >= end and not bot.running and not self._restart_pending():
                return
            if time.monotonic() > deadline:
                checker.violate("X2", f"session still running after {TIMEOUT_S:g} s real "
                                      f"(market {now:%H:%M}; the bot {'runs' if bot.running else 'ended'})")
                return
            wanted = self._pace(checker, bot, now)
            if wanted != speed:
                speed = wanted
                gw.call(self.sim.set_speed, speed)
                self._trace(now, f"pace {speed:g}x")
            step_at, last_step = time.monotonic(), step_at
            if speed == SLOW and checker.exposed:
                self.result.exposed_s += step_at - last_step
            while events and now.time() >= events[0].at:
                event = events.pop(0)
                if not self._inject(gw, bot, event, now):
                    self.waiting.append(event)
                else:
                    self._trace(now, f"fault {event.kind.value} {event.args}")
            self._retry_waiting(gw, bot, now)
            if self.paced_by_fault:  # a fault set the pace itself (a person's sale)
                self.paced_by_fault, speed = False, REAL_PACE
            self._run_pending(gw, bot, now, speed)
            checker.observe(gw.call(self.sim.state), self._context(bot, now))
            if checker.exposed != exposed or checker.at_risk != at_risk:
                exposed, at_risk = set(checker.exposed), set(checker.at_risk)
                self._trace(now, f"exposed {sorted(exposed)} at risk {sorted(at_risk)}")
            # what this round did or saw (a fault, an exposure) sets the pace before the nap: at
            # 1500x the 50 ms nap ran 75 market seconds past a fault and through the flatten
            # time (seed 359)
            wanted = self._pace(checker, bot, now)
            if wanted != speed:
                speed = wanted
                gw.call(self.sim.set_speed, speed)
                self._trace(now, f"pace {speed:g}x")
            self._arm_brake(gw, now, speed, checker)
            time.sleep(POLL_S)

    def _arm_brake(self, gw: GatewayThread, now: datetime, speed: float,
                   checker: InvariantChecker) -> None:
        """The slower pace ahead starts exactly on the simulator's clock, not at the next
        round: while the bot holds, 30 s before the flatten (SLOW) and 5 s before it
        (FLATTEN_PACE)."""
        marks = []
        if checker.holding:
            marks += [(self.flatten_at + SLOW_FROM, SLOW), (self.flatten_at + FLATTEN_FROM, FLATTEN_PACE)]
        ahead = [(at, pace) for at, pace in marks if at > now and pace < speed]
        if ahead:
            gw.call(self.sim.brake_at, *min(ahead))

    def _trace(self, now: datetime, what: str) -> None:
        self.trace.append((time.monotonic(), now, what))

    def _trace_request(self, session: Any, request: Any) -> None:
        """On the simulator's thread: one of the bot's requests, on the simulator's clock."""
        self._trace(self.sim.now(), f"client {session.client_id}: {type(request).__name__}"
                                    f"{' ' + str(getattr(request, 'msg_id', '')) if hasattr(request, 'msg_id') else ''}")

    def _write_trace(self) -> None:
        lines = [f"{wall:.3f} {now:%H:%M:%S.%f} {what}" for wall, now, what in list(self.trace)]
        (self.workdir / "trace.txt").write_text("\n".join(lines) + "\n")

    def _judge_the_end(self, bot: BotProcess, checker: InvariantChecker, now: datetime) -> None:
        """I9: a bot running after the close ends within SETTLE_BOUND_S (else it is killed)."""
        wall = time.monotonic()
        if now < self.close:
            return
        if self.closed_wall is None:
            self.closed_wall = wall
        if not bot.running or self._restart_pending():
            if self.ended_after_close is None and not bot.running:
                self.ended_after_close = wall - max(self.closed_wall, self.bot_started_wall)
                self.result.notes.append(f"the bot ended {self.ended_after_close:.1f} s after the close")
            return
        ran = wall - max(self.closed_wall, self.bot_started_wall)
        if ran > SETTLE_BOUND_S:
            checker.overran_close(ran)
            bot.kill()

    # -- pending actions ------------------------------------------------------------------------
    def _run_pending(self, gw: GatewayThread, bot: BotProcess, now: datetime, speed: float) -> None:
        """Due actions; a (re)start holds the clock while the bot starts, then runs it at `speed`."""
        wall = time.monotonic()
        keep = []
        for due, action, arg in self.pending:
            if action == "restart_after_close":
                due = wall if now >= self.close + timedelta(minutes=1) else float("inf")
            elif action == "replace_wrong_id" and not bot.running:
                due = wall  # it refused (or died) before its time was up
            if wall < due or (action in STARTS and self.sim.refusing):
                # (a supervisor starts the bot again once the Gateway answers: started into a
                # refusal it fails in one line and nothing would complete the day's records;
                # seed 145: both starts of the wrong-id fault did, the backstop's sales unrecorded)
                keep.append((due, action, arg))
                continue
            if action == "restore":
                gw.call(self.sim.connectivity_restored, arg)
            elif action in ("restart", "restart_after_close"):
                if arg == "empty_db":
                    self._disown_leftover(gw)
                self._held_launch(gw, bot, CLIENT_ID, then=speed)
                self.settled_from = time.monotonic() + RESTART_GRACE_S
            elif action == "start_wrong_id":
                self.wrong_since = now
                self._held_launch(gw, bot, WRONG_ID, then=speed)
                keep.append((wall + WRONG_ID_S, "replace_wrong_id", None))
            elif action == "replace_wrong_id":
                self._replace_wrong_id(gw, bot, speed)
                self.settled_from = time.monotonic() + RESTART_GRACE_S
            elif action == "book_weekly":
                symbol, qty = arg
                try:
                    self._book_weekly(bot.db, symbol, qty, now)
                except HistoryDBError:  # the DB is locked (a db_lock fault): the weekly bot
                    keep.append((wall + 0.5, action, arg))  # writes its book a moment later
        self.pending = keep

    def _disown_leftover(self, gw: GatewayThread) -> None:
        """A run on the empty DB starts: yesterday's leftover of the bot was only in the lost
        DB, so what is left of it is from now on not provably the bot's (foreign). Not at the
        kill: while the bot is down its exits, placed when the shares were provably its own,
        still protect them at the broker, and a stop that sells them then sells the bot's own
        shares (seed 156 at 3000x: 1.3 real seconds down were 65 market minutes)."""
        moved = self.ownership.disown_leftover(gw.call(self.sim.state)["fills"])
        if moved:
            self.result.notes.append(f"empty_db: leftover {moved} no longer provably the bot's")

    def _replace_wrong_id(self, gw: GatewayThread, bot: BotProcess, speed: float) -> None:
        """The bot under the wrong client id had its time: it must not have traded (X3); the
        campaign starts it again under the right one."""
        refused = not bot.running
        bot.kill()
        assert self.wrong_since is not None
        placed = gw.call(self._wrong_id_orders(self.wrong_since))
        if placed:
            self.result.violations.append(
                f"X3 restarted under client id {WRONG_ID}, the bot traded beside the exits of "
                f"client id {CLIENT_ID} instead of refusing: {placed[:3]}")
        self.result.notes.append(f"restart_other_client: the bot under id {WRONG_ID} "
                                 f"{'ended by itself' if refused else 'was still running'}")
        # Its orders may now work, or have executed, under the wrong id: with nothing of the bot's
        # working or executed under the right one (a "Cancel all" before it), it rightly took
        # over. A person then restarts it under the id its refusal names, the one whose orders
        # it can see (seeds 64, 449).
        owner = WRONG_ID if gw.call(self._used_under(WRONG_ID)) else CLIENT_ID
        self._held_launch(gw, bot, owner, then=speed)

    def _fresh_db(self, bot: BotProcess, now: datetime) -> None:
        """The bot will restart on an empty DB (the file was lost); the weekly bot's book is
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
    def _pending(db_path: Path) -> set[str]:
        if not db_path.exists():
            return set()
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            return {r[0] for r in conn.execute(
                "SELECT exec_id FROM executions WHERE book = 'intraday' AND commission_pending")}

    @staticmethod
    def _trades(db_path: Path) -> int:
        if not db_path.exists():
            return 0
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM trades WHERE book = 'intraday'").fetchone()[0])
