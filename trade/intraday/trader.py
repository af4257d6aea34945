"""IntradayTrader: completed bars -> indicators -> strategy -> risk -> bracket orders; flatten.

An orchestrator of small parts (STYLE.md): indicators, strategy and risk rules, the bar feed, the
fill recorder, the exit keeper (protection, repricing, repairs), broker sync (reconcile), the
flatten routine and safe records each live in their own module. The per-bar path is synchronous
computation; only talking to the broker is awaited (in supervised jobs), so the same trader runs
against IB, the Gateway simulator and an in-process paper broker.

Money-safety invariants this class keeps, under any schedule of faults:
- never short: exits are one OCA group per position sized to what is held; an oversold book is
  covered at once;
- exposure never above allocation x net liquidation: entries in flight count as exposure;
- exits live at the broker: entries are brackets (take-profit, stop, and a broker-held backstop
  flatten); a held position whose exits are not exactly one correct group for `exit_grace_s` has
  them replaced; the exits are moved to the fill price once the entry fills;
- flat by the flatten time, retried through disconnects until the session closes, and the
  broker-held backstop sells at `flatten + backstop_delay` if the bot or the Gateway is down;
- every execution applied once (exec id) and recorded (at once or, DB trouble, later);
- an order is sent once: refs are fresh sequences never reused (refs.py);
- only the bot's own book is traded; quantity another book or account owns is never touched;
- a failure of the DB, the tracer or a background job never stops the protection: each loop
  step and each job catches, logs and goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from evaluation.health import (
    PAUSE_ENTRIES,
    RECONNECT,
    RESUBSCRIBE,
    RESUME_ENTRIES,
    HealthThresholds,
)
from observability import tracing
from observability.history import HistoryDB
from observability.tracing import SpanNames
from trade.broker import Broker, ConnectionState
from trade.calendar import Session
from trade.indicators import IndicatorState
from trade.intraday.bar_feed import BarFeed
from trade.intraday.day_end import DayEnd
from trade.intraday.entries import EntryDesk, trace_key
from trade.intraday.exits import ExitKeeper
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.flatten import flatten, flatten_refs, owned_by_book
from trade.intraday.health_keeper import HealthKeeper
from trade.intraday.records import SafeRecords
from trade.intraday.refs import RefBook
from trade.intraday.run_log import RunLog
from trade.intraday.status import TraderControls
from trade.intraday.supervisor import Supervisor
from trade.intraday.symbol_book import SymbolBook
from trade.intraday.sync import BrokerSync
from trade.models import Bar, Fill, OrderRef, OrderTicket, Params
from trade.risk import RiskManager

log = logging.getLogger(__name__)

BOT = "DT"
BOOK = "intraday"
OTHER_BOOKS = ("weekly",)
STALE_BAR = timedelta(minutes=1)  # a bar older than this when it arrives never opens a position


@dataclass(slots=True)
class TraderOptions:
    allocation: float
    variant: str = ""
    exit_grace_s: float = 2.0  # real seconds a held position may lack its correct exits
    entry_grace_s: float = 10.0  # real seconds an entry may stay working before it is settled
    health_interval_s: float = 60.0  # market seconds between health checks
    resubscribe_every_s: float = 300.0  # market seconds between forced data re-subscriptions
    tick_s: float = 0.02  # real seconds between clock checks
    guard_interval_s: float = 0.25  # real seconds between two looks at every position's exits
    flush_interval_s: float = 1.0  # real seconds between retries of DB writes that had to wait
    shutdown_flush_s: float = 30.0  # at the end of the day, how long to wait for a locked DB
    settle_after_close_s: float = 120.0  # real seconds to wait for the backstop's executions
    settle_poll_s: float = 1.0  # real seconds between two reconciles while settling
    progress_every_s: float = 1800.0  # market seconds between two progress lines (0: none)
    warmup_duration: str = "2 D"
    broker_backstop: bool = True  # attach the broker-held backstop flatten to every exit group
    backstop_delay: timedelta = timedelta(minutes=2)  # after the flatten time (15:57 / 12:57)
    thresholds: HealthThresholds = field(default_factory=HealthThresholds)


class IntradayTrader(TraderControls, DayEnd):
    def __init__(
        self,
        broker: Broker,
        db: HistoryDB,
        session: Session,
        params: dict[str, Params],
        risk: RiskManager,
        options: TraderOptions,
        run_log: RunLog,
    ) -> None:
        self.broker = broker
        self.session = session
        self.day: date = session.date
        self.risk = risk
        self.options = options
        self.run_log = run_log
        self.records = SafeRecords(db)
        self.refs = RefBook(self.records, BOT, BOOK, self.day, options.variant, broker.now,
                            run_log.run_id)
        self.books = {
            s: SymbolBook(s, p, IndicatorState.from_params(p)) for s, p in params.items()
        }
        self.fills = FillRecorder(self.records, BOT, BOOK, self.day, options.variant, run_log,
                                  self.books, broker.now)
        self.health = HealthKeeper(self.records, run_log, options.thresholds)
        self.jobs = Supervisor()
        self.feed = BarFeed(broker, self.books, self._process_bar, self.jobs, session.open,
                            options.warmup_duration)
        self.orders: dict[int, OrderTicket] = {}  # our working orders, by id
        backstop = session.flatten_at + options.backstop_delay if options.broker_backstop else None
        self.exits = ExitKeeper(
            broker, BOT, self.books, self.orders, self.refs, self.jobs, backstop,
            exit_grace_s=options.exit_grace_s, entry_grace_s=options.entry_grace_s,
            flattening=lambda: self._flattening,
        )
        self.sync = BrokerSync(broker, BOT, BOOK, OTHER_BOOKS, self.books, self.orders,
                               self.fills, self.refs, self.records, self.exits, self.jobs,
                               run_log, self._on_fill)
        self.entries = EntryDesk(broker, session, risk, self.books, self.orders, self.refs,
                                 self.exits, self.fills, run_log, options.variant)
        self._bars_to_record: list[Bar] = []  # the day's minute bars, written once a second
        self._entries_paused: str | None = "starting"
        self._flattening = False
        self._flat_confirmed = False
        self._flatten_requested: str | None = None
        self._flat_event = asyncio.Event()
        self._stop_reason: str | None = None
        self._started = False
        self._wired = self._replayed = False  # start()'s one-time steps, done
        self._last_bar_end: datetime | None = None
        self._next_health: datetime | None = None
        self._next_progress: datetime | None = None
        self._last_resubscribe: datetime | None = None
        self._connection = ConnectionState.CONNECTED
        self._reconnects = 0

    # == lifecycle ========================================================================
    async def start(self, warmup: Mapping[str, Sequence[Bar]] | None = None,
                    daily_atr_pct: Mapping[str, float] | None = None) -> None:
        """Sync with the broker, warm the indicators (from `warmup` bars where the pre-market
        analyst already fetched them), then subscribe to live bars. Safe to call again when a
        dropped connection interrupted it: what was done is not done twice."""
        db = self.records.db
        if not self._wired:
            self.broker.add_fill_handler(self._on_fill)
            self.broker.add_order_status_handler(self._on_order_status)
            self.broker.add_connection_handler(self._on_connection)
            for symbol, value in (daily_atr_pct or {}).items():
                if symbol in self.books:
                    self.books[symbol].daily_atr_pct = value
            for position in self.records.read("book_positions", lambda: db.book_positions(BOOK), []):
                book = self.books.get(position.symbol) or self.books.setdefault(
                    position.symbol, SymbolBook.outside_watchlist(position.symbol))
                book.qty, book.avg_cost = position.qty, position.avg_cost
            self._wired = True
        if not self._replayed:
            at_broker = await self.broker.executions()
            start_of_day = self.session.open.replace(hour=0, minute=0)
            recorded = self.records.read("executions_since",
                                         lambda: db.executions_since(start_of_day, book=BOOK), [])
            self.fills.replay(recorded, {f.exec_id for f in at_broker})
            self._replayed = True
        await self._refresh_account()
        if self.entries.day_start_equity is None:
            self.entries.day_start_equity = self._starting_equity()
        await self.reconcile(reason="start")
        self._resume_report()
        await self.feed.warm_up(warmup or {})
        await self.feed.subscribe()
        self._started = True
        self._entries_paused = None

    async def run(self) -> RunLog:
        """Trade until the bot is flat after the flatten time, the session has closed, or
        `stop()` is called. Every step is guarded: one failing step never ends the loop."""
        self.run_log.started_at = self.broker.now()
        self.health.restart_cpu_window()
        self._next_health = self.run_log.started_at + timedelta(seconds=self.options.health_interval_s)
        next_guard = next_flush = 0.0
        closed_unflat = False
        while self._stop_reason is None:
            now = self.broker.now()
            mono = time.monotonic()
            try:
                if (now >= self.session.flatten_at or self._flatten_requested) and not self._flat_confirmed:
                    await self._flatten()
                if self._flat_confirmed and now >= self.session.flatten_at:
                    break
                if now >= self.session.close and not self._flat_confirmed \
                        and await self.broker.server_now() >= self.session.close:
                    closed_unflat = True  # asked afresh: an estimate may run ahead of a simulator
                    break
                if mono >= next_guard:
                    next_guard = mono + self.options.guard_interval_s
                    if self._may_protect(now):
                        self.exits.guard(now)
                if mono >= next_flush:
                    next_flush = mono + self.options.flush_interval_s
                    self._record_bars()
                    self.records.flush()
                if self._next_health is None or now >= self._next_health:
                    await self._health_check(now)
                if self.options.progress_every_s and (
                        self._next_progress is None or now >= self._next_progress):
                    self._progress(now)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("trader loop step failed; continuing")
            await asyncio.sleep(self.options.tick_s)
        if closed_unflat:
            if self._held() and self._stop_reason is None:
                await self._settle_after_close()
            self._report_left_open()
        await self.jobs.drain(2.0)
        await self.jobs.stop()
        self.broker.remove_handlers(self._on_fill, self._on_order_status, self._on_connection)
        self._record_bars()
        await self._flush_before_exit()
        self._finish_run_log()
        return self.run_log

    def stop(self, reason: str) -> None:
        """SIGINT/SIGTERM: no new entries; broker-side exits stay in place; `run` returns."""
        log.info("stopping (%s): no new entries, exits stay at the broker", reason)
        self._entries_paused = reason
        self._stop_reason = reason

    def _may_protect(self, now: datetime) -> bool:
        return (self._started and not self._flattening and now < self.session.close
                and self._connection != ConnectionState.LOST)

    # == per-bar path (synchronous) =======================================================
    def _process_bar(self, book: SymbolBook, bar: Bar) -> None:
        state = book.indicators
        state.update(bar)
        book.last_bar_start = bar.start
        if self._last_bar_end is None or bar.end > self._last_bar_end:
            self._last_bar_end = bar.end
        self._bars_to_record.append(bar)
        if self.broker.now() - bar.end > STALE_BAR:
            return  # a backfilled or held bar: indicators only, never a decision on the past
        if book.qty != 0 or book.pending_entry is not None:
            return
        if self._entries_paused or self._flattening:
            self.entries.count(book.symbol, "entries paused")
            return
        self.entries.consider(book, bar)

    # == broker events ====================================================================
    def _on_order_status(self, ticket: OrderTicket) -> None:
        ref = OrderRef.parse(ticket.order_ref)
        if ref is None or ref.bot != BOT:
            return
        if ticket.status.is_working:
            self.orders[ticket.order_id] = ticket
        else:
            self.orders.pop(ticket.order_id, None)
            self.exits.note_dead_leg(ticket, ref)
        if ref.leg == "ENTRY":
            self.entries.on_entry_status(ticket)

    def _on_fill(self, fill: Fill) -> None:
        ref = self.fills.is_new(fill)
        if ref is None:
            return
        with tracing.span_under(self.entries.trace_of.get(trace_key(ref)), SpanNames.FILL, symbol=fill.symbol,
                                side=fill.side.value, qty=fill.qty, price=fill.price,
                                order_ref=fill.order_ref, variant=self.options.variant):
            self.fills.record(fill, ref)

    def _on_connection(self, state: ConnectionState) -> None:
        self._connection = state
        if state == ConnectionState.LOST:
            self._entries_paused = self._entries_paused or "connection lost"
            self.run_log.health_events.append({
                "time": self._safe_now(), "status": "critical", "detail": "connection lost",
                "actions": [RECONNECT, PAUSE_ENTRIES],
            })
        elif state == ConnectionState.RESTORED:
            self._reconnects += 1
            self.run_log.reconnects = self._reconnects
            self.jobs.run("reconcile", lambda: self.reconcile(reason="reconnect"))

    # == reconcile, flatten ================================================================
    async def reconcile(self, reason: str) -> None:
        """Broker truth vs our book: adopt, protect, apply missed executions, cancel orphans."""
        now = self.broker.now()
        may_trade = self.session.open - timedelta(hours=2) <= now < self.session.close
        await self.sync.reconcile(reason, may_trade=may_trade, flattening=self._flattening)
        if reason == "reconnect" and self._entries_paused == "connection lost":
            self._entries_paused = None

    async def _flatten(self) -> None:
        if not self._flattening:
            why = (f"flatten requested ({self._flatten_requested})" if self._flatten_requested
                   else f"flatten time {self.session.flatten_at:%H:%M}")
            log.info("%s: closing own positions (a whole exit group by releasing its backstop, "
                     "the rest cancelled and sold)", why)
        self._flattening = True
        self._entries_paused = "flatten"
        await self.jobs.drain(2.0)  # let a repair or reprice in progress finish first
        with tracing.span(SpanNames.FLATTEN):
            result = await flatten(self.broker, BOT, owned_by_book(self.books, self.sync.others),
                                   flatten_refs(self.refs), until=self.session.close, poll=0.005)
        if result.flat:
            self._flat_confirmed = True
            self._flat_event.set()
            self.run_log.flat_at = result.flat_at
            log.info("flat confirmed at %s after %d round(s)", result.flat_at, result.rounds)
            if self._flatten_requested and self.broker.now() < self.session.flatten_at:
                # a person's flatten: done, and no new entries until that person resumes
                self._flattening = False
                self._entries_paused = self._paused_by = self._flatten_requested
        else:
            log.error("NOT FLAT after %d rounds: %s still held", result.rounds, result.remaining)

    # == account, health ===================================================================
    async def _refresh_account(self) -> None:
        try:
            self.entries.account = await self.broker.account()
        except Exception as exc:  # keep the last known account values
            log.warning("account refresh failed: %s", exc)

    def _starting_equity(self) -> float | None:
        """Net liquidation at the start of today's trading: today's realised P&L (replayed from
        the DB after a restart) is added back, so a restart after a loss does not reset the
        daily loss cap's base to the post-loss equity."""
        account = self.entries.account
        if account is None:
            return None
        return account.net_liquidation - self.fills.realized_pnl

    async def _health_check(self, now: datetime) -> None:
        self._next_health = now + timedelta(seconds=self.options.health_interval_s)
        await self._refresh_account()
        connected = self._connection != ConnectionState.LOST
        staleness = 0.0
        if self._last_bar_end is not None and self.session.open <= now < self.session.close:
            staleness = max(0.0, (now - self._last_bar_end).total_seconds())
        reading, verdict = await self.health.measure(now, connected, staleness)
        self.health.record(reading, verdict, self._heal(verdict.actions, now))

    def _heal(self, actions: list[str], now: datetime) -> list[str]:
        taken = []
        for action in actions:
            if action == PAUSE_ENTRIES and not self._entries_paused:
                self._entries_paused = "health"
                taken.append(action)
            elif action == RESUME_ENTRIES and self._entries_paused == "health":
                self._entries_paused = None
                taken.append(action)
            elif action == RESUBSCRIBE and self._resubscribe_due(now):
                # a fresh subscription needs a minute or two to complete a bar: never replace
                # it again before it had that time
                self._last_resubscribe = now
                self.jobs.run("resubscribe", self.feed.subscribe)
                taken.append(action)
            elif action == RECONNECT:
                taken.append(action)  # the connection watchdog is already reconnecting
        return taken

    def _resubscribe_due(self, now: datetime) -> bool:
        last = self._last_resubscribe
        return last is None or (now - last).total_seconds() >= self.options.resubscribe_every_s

    def _safe_now(self) -> str:
        try:
            return self.broker.now().isoformat()
        except RuntimeError:
            return ""

