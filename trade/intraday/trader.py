"""IntradayTrader: completed bars -> indicators -> strategy -> risk -> bracket orders; flatten.

An orchestrator of small parts, each in its own module and each the only writer of what it owns
(docs/architecture.md draws them): the bar feed, the entry desk, the exit keeper (protection,
repricing, repairs), the fill recorder over the lots, broker sync (reconcile), the flatten
routine, the day's end, and the trader's state (state.py: the phase and why entries are paused).
They share one `TraderContext`. The per-bar path is synchronous computation; only talking to
the broker is awaited (in supervised jobs), so the same trader runs against IB, the Gateway
simulator and an in-process paper broker.

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
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from evaluation.health import (
    PAUSE_ENTRIES,
    RECONNECT,
)
from observability import tracing
from observability.alerts import events as ev
from observability.history import HistoryDB
from observability.schema import BookPosition, ExecutionRow
from observability.tracing import SpanNames
from trade.broker import Broker, ConnectionState
from trade.calendar import Session
from trade.indicators import IndicatorState
from trade.intraday.bar_feed import BarFeed
from trade.intraday.closing import Closing
from trade.intraday.context import BOOK, BOT, OTHER_BOOKS, AlertSink, TraderContext
from trade.intraday.day_end import DayEnd, DayEndOptions
from trade.intraday.entries import EntryDesk, trace_key
from trade.intraday.exits import ExitKeeper
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.health_keeper import HealthKeeper
from trade.intraday.lots import Lots
from trade.intraday.options import TraderOptions, backstop_time
from trade.intraday.protection import EXIT_LEGS
from trade.intraday.records import SafeRecords
from trade.intraday.refs import RefBook
from trade.intraday.run_log import RunLog
from trade.intraday.state import Phase, TraderState
from trade.intraday.status import snapshot
from trade.intraday.supervisor import Supervisor
from trade.intraday.symbol_book import SymbolBook
from trade.intraday.sync import BrokerSync
from trade.intraday.upkeep import Upkeep
from trade.models import Bar, Fill, OrderRef, OrderStatus, OrderTicket, Params
from trade.risk import RiskManager

log = logging.getLogger(__name__)

__all__ = ["BOOK", "BOT", "IntradayTrader", "TraderOptions"]  # TraderOptions: trade/intraday/options.py

STALE_BAR = timedelta(minutes=1)  # a bar older than this when it arrives never opens a position


class IntradayTrader:
    """Implements the status page's `ui.status.controls.TraderControls` (its four calls)."""

    def __init__(
        self,
        broker: Broker,
        db: HistoryDB,
        session: Session,
        params: dict[str, Params],
        risk: RiskManager,
        options: TraderOptions,
        run_log: RunLog,
        alerts: AlertSink | None = None,
    ) -> None:
        self.broker = broker
        self.session = session
        self.day = session.date
        self.options = options
        self.run_log = run_log
        self.state = TraderState()
        records = SafeRecords(db)
        self.records = records
        books = {s: SymbolBook(s, p, IndicatorState.from_params(p)) for s, p in params.items()}
        self.books = books
        self.orders: dict[int, OrderTicket] = {}  # our working orders, by id
        self.jobs = Supervisor()
        self.refs = RefBook(records, BOT, BOOK, self.day, options.variant, broker.now,
                            run_log.run_id)
        ctx = self.ctx = TraderContext(broker, session, books, self.orders, self.refs, records,
                                       self.jobs, run_log, self.state, options.variant)
        ctx.ownership.confirm_s = options.ownership_confirm_s
        ctx.ownership.quiet_s = options.ownership_quiet_s
        # today's foreign baselines outlive a restart (unreadable: computed afresh, the same
        # rule as a first start)
        ctx.ownership.recorded = records.read(
            "foreign_baselines", lambda: db.foreign_baselines(BOOK, self.day), {})
        ctx.ownership.on_baseline = lambda symbol, qty: records.write(
            "set_foreign_baseline",
            lambda: db.set_foreign_baseline(BOOK, self.day, symbol, qty, broker.now()))
        if alerts is not None:
            ctx.alerts = alerts
            records.on_failing = lambda reason, deferred: alerts.notify(
                ev.history_db_unwritable(ev.DAY_TRADER, reason, deferred))
        self.lots = Lots(books, records, BOOK, broker.now, self.ctx.ownership)
        self.fills = FillRecorder(ctx, self.lots)
        self.health = HealthKeeper(records, run_log, options.thresholds)
        self.feed = BarFeed(ctx, self._process_bar, options.warmup_duration)
        backstop = backstop_time(session, options) if options.broker_backstop else None
        self.exits = ExitKeeper(ctx, self.fills, backstop, exit_grace_s=options.exit_grace_s,
                                entry_grace_s=options.entry_grace_s,
                                unprotected_alert_s=options.unprotected_alert_s)
        self.entries = EntryDesk(ctx, risk, self.exits, self.fills)
        self.sync = BrokerSync(ctx, self.lots, self.fills, self.exits, self.entries, OTHER_BOOKS,
                               self._on_fill)
        self.closing = Closing(ctx, self.fills, self.sync,
                               release_backstop=options.release_backstop)
        self.upkeep = Upkeep(ctx, self.entries, self.fills, self.health, self.feed,
                             health_interval_s=options.health_interval_s,
                             resubscribe_every_s=options.resubscribe_every_s)
        self.day_end = DayEnd(ctx, self.fills, self.entries, self.exits, DayEndOptions(
            options.progress_every_s, options.settle_after_close_s, options.settle_poll_s,
            options.shutdown_flush_s), lambda reason: self.reconcile(reason=reason))
        self._wired = self._replayed = False  # start()'s one-time steps, done
        self._flatten_clock_ok = False  # the broker's own clock has reached the flatten time
        self._lost_at: float | None = None  # monotonic time the connection was lost
        self._unreachable_told = False

    # == lifecycle ========================================================================
    async def start(self, warmup: Mapping[str, Sequence[Bar]] | None = None,
                    daily_atr_pct: Mapping[str, float] | None = None) -> None:
        """Sync with the broker, warm the indicators (from `warmup` bars where the pre-market
        analyst already fetched them), then subscribe to live bars. Safe to call again when a
        dropped connection interrupted it: what was done is not done twice."""
        db = self.records.db
        if self.lots.began is None:
            self.lots.began = self.broker.now()
        if not self._wired:
            self.broker.add_fill_handler(self._on_fill)
            self.broker.add_commission_handler(self.fills.on_commission)
            self.broker.add_order_status_handler(self._on_order_status)
            self.broker.add_connection_handler(self._on_connection)
            self.broker.add_data_refused_handler(self._on_data_refused)
            self.broker.add_position_handler(self._on_position)
            for symbol, value in (daily_atr_pct or {}).items():
                if symbol in self.books:
                    self.books[symbol].daily_atr_pct = value
            positions: list[BookPosition] = self.records.read(
                "book_positions", lambda: db.book_positions(BOOK), [])
            for position in positions:
                self.lots.restore(position.symbol, position.qty, position.avg_cost)
            self._wired = True
        if not self._replayed:
            await self.sync.refuse_other_client_orders()
            finished = await self.broker.completed_orders()  # before the executions: an order
            at_broker = await self.broker.executions()  # finishing between the reads is in both
            start_of_day = self.session.open.replace(hour=0, minute=0)
            recorded: list[ExecutionRow] = self.records.read(
                "executions_since", lambda: db.executions_since(start_of_day, book=BOOK), [])
            log.info("start: %d execution(s) of today at the broker for this client id, %d "
                     "recorded before", len(at_broker), len(recorded))
            self.sync.refuse_unseen_executions(at_broker, finished)
            self.fills.replay(recorded, {f.exec_id for f in at_broker})
            self._replayed = True
        await self.upkeep.refresh_account()
        if self.options.adopt:
            await self.sync.adopt(self.options.adopt)
            self.options.adopt = {}  # once: a retried start must not adopt twice
        await self.reconcile(reason="start")
        self.day_end.resume_report()
        await self.feed.warm_up(warmup or {})
        await self.feed.subscribe()
        self.state.started()

    async def run(self) -> RunLog:
        """Trade until the bot is flat after the flatten time, the session has closed, or
        `stop()` is called. Every step is guarded: one failing step never ends the loop."""
        state, session = self.state, self.session
        self.run_log.started_at = self.broker.now()
        self.health.restart_cpu_window()
        self.upkeep.next_health = self.run_log.started_at + timedelta(
            seconds=self.options.health_interval_s)
        next_guard = next_flush = next_positions = 0.0
        closed_unflat = False
        while not state.stopped:
            now = self.broker.now()
            mono = time.monotonic()
            try:
                if state.flatten_due(now, session.flatten_at) and await self._flatten_time(now):
                    await self.closing.flatten()
                if state.phase is Phase.FLAT:
                    break
                if now >= session.close and await self.broker.server_now() >= session.close:
                    closed_unflat = True  # asked afresh: an estimate may run ahead of a simulator
                    break
                if mono >= next_guard:
                    next_guard = mono + self.options.guard_interval_s
                    self.entries.settle_executed()  # executions a reconcile's catch-up applied
                    if self._may_protect(now):
                        self.exits.guard(now)
                if mono >= next_positions:
                    next_positions = mono + self.options.positions_check_s
                    # a sale the bot did not make, noticed intraday (one look at a time)
                    if self._may_protect(now) and not self.jobs.running("positions"):
                        self.jobs.run("positions", self.sync.check_positions, retry=False)
                if mono >= next_flush:
                    next_flush = mono + self.options.flush_interval_s
                    self.day_end.record_bars()
                    self.records.flush()
                if self.upkeep.health_due(now):
                    await self.upkeep.health_check(now)
                if self.day_end.progress_due(now):
                    self.day_end.progress(now)
                self._alert_if_unreachable(mono)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("trader loop step failed; continuing")
            await asyncio.sleep(self.options.tick_s)
        day_end = self.day_end
        if closed_unflat:
            if day_end.held() and not state.stopped:
                await day_end.settle_after_close()
            day_end.report_left_open()
        await self.jobs.drain(2.0)
        await self.jobs.stop()
        await day_end.await_commissions()
        self.broker.remove_handlers(self._on_fill, self.fills.on_commission,
                                    self._on_order_status, self._on_connection,
                                    self._on_data_refused, self._on_position)
        day_end.record_bars()
        await day_end.flush_before_exit()
        day_end.finish_run_log()
        return self.run_log

    async def _flatten_time(self, now: datetime) -> bool:
        """The flatten starts on the broker's clock read afresh, not on the estimate of it (a
        fast simulator's estimate runs ahead: the flatten's fills came stamped 15:54). A
        person's flatten needs no clock."""
        if self._flatten_clock_ok or now < self.session.flatten_at:
            return True
        self._flatten_clock_ok = await self.broker.server_now() >= self.session.flatten_at
        return self._flatten_clock_ok

    def stop(self, reason: str) -> None:
        """SIGINT/SIGTERM: no new entries; broker-side exits stay in place; `run` returns."""
        log.info("stopping (%s): no new entries, exits stay at the broker", reason)
        self.state.stop(reason)

    def _may_protect(self, now: datetime) -> bool:
        return (self.state.phase is Phase.TRADING and now < self.session.close
                and self.state.connected)

    # == the status page's controls (ui/status/controls.py) ================================
    def status_snapshot(self) -> dict[str, Any]:
        """Positions with their exits, working orders, P&L, trades, last decisions, health."""
        return snapshot(self.ctx, self.entries, self.fills, self.health.last)

    def pause_entries(self, by: str) -> None:
        """No new entries until resumed; positions keep their broker-held exits."""
        self.state.person_pause(by)

    def resume_entries(self, by: str) -> None:
        """Entries allowed again after a person's pause or flatten (a pause for another reason
        — a lost connection, the flatten time — stays)."""
        self.state.person_resume(by)

    async def flatten_now(self, by: str, timeout_s: float = 60.0) -> None:
        """Cancel own orders and flatten now, through the same double safety net as the
        flatten time; no new entries afterwards until resumed."""
        log.warning("flatten requested by %s", by)
        self.state.request_flatten(by)
        try:
            await asyncio.wait_for(self.state.wait_flat(), timeout_s)
        except TimeoutError:
            log.error("flatten requested by %s not confirmed within %.0fs; still trying", by,
                      timeout_s)

    # == per-bar path (synchronous) =======================================================
    def _process_bar(self, book: SymbolBook, bar: Bar) -> None:
        book.indicators.update(bar)
        if self.upkeep.last_bar_end is None or bar.end > self.upkeep.last_bar_end:
            self.upkeep.last_bar_end = bar.end
        self.day_end.keep_bar(bar)
        if self.broker.now() - bar.end > STALE_BAR:
            return  # a backfilled or held bar: indicators only, never a decision on the past
        if book.busy:  # held, or an entry in flight: said as such in "why no entry"
            self.entries.count(book.symbol, "held")
            return
        if not self.state.may_enter:
            self.entries.count(book.symbol, "entries paused")
            return
        self.entries.consider(book, bar)

    # == broker events ====================================================================
    def _on_order_status(self, ticket: OrderTicket) -> None:
        ref = OrderRef.parse(ticket.order_ref)
        if ref is None or ref.bot != BOT:
            return
        self.fills.note_status(ticket)
        if ticket.status.is_working:
            self.orders[ticket.order_id] = ticket
        else:
            self.orders.pop(ticket.order_id, None)
            self.exits.note_dead_leg(ticket, ref)
            if ticket.rejected and ref.leg in EXIT_LEGS:
                self.exits.leg_refused(ticket.symbol)
            if ticket.status is OrderStatus.INACTIVE:
                # IB: "not currently working", not necessarily final: cancelled explicitly,
                # so it can never come back beside whatever replaces it
                self.jobs.run(f"cancel-inactive:{ticket.order_id}",
                              partial(self.exits.cancel_quietly, ticket.order_id), retry=False)
        if ref.leg == "ENTRY":
            self.entries.on_entry_status(ticket)

    def _on_fill(self, fill: Fill) -> None:
        ref = self.fills.is_new(fill)
        if ref is None:
            return
        with tracing.span_under(self.entries.trace_of.get(trace_key(ref)), SpanNames.FILL,
                                symbol=fill.symbol, side=fill.side.value, qty=fill.qty,
                                price=fill.price, order_ref=fill.order_ref,
                                variant=self.options.variant):
            self.fills.record(fill, ref)
            self.entries.on_entry_executions(fill.symbol)  # an entry's may end it

    def _on_connection(self, state: ConnectionState) -> None:
        if state == ConnectionState.LOST:
            self.state.connection_lost()
            self._lost_at = time.monotonic()
            self.run_log.health_events.append({
                "time": self._safe_now(), "status": "critical", "detail": "connection lost",
                "actions": [RECONNECT, PAUSE_ENTRIES],
            })
        elif state == ConnectionState.RESTORED:
            self.state.reconnected()
            self.run_log.reconnects = self.state.reconnects
            down = time.monotonic() - self._lost_at if self._lost_at is not None else None
            self._lost_at, self._unreachable_told = None, False
            self.ctx.alerts.notify(ev.reconnected(ev.DAY_TRADER, down, at=self.broker.now()))
            self.jobs.run("reconcile", lambda: self.reconcile(reason="reconnect"))

    def _on_position(self, symbol: str, broker_qty: int) -> None:
        """IB pushed a changed position: if the bot holds the symbol, look now."""
        book = self.books.get(symbol)
        if book is not None:
            self.sync.ownership.position_pushed(symbol, broker_qty, book.qty)
        if book is not None and book.qty and self._may_protect(self.broker.now()) \
                and not self.jobs.running("positions"):
            self.jobs.run("positions", self.sync.check_positions, retry=False)

    def _on_data_refused(self, symbol: str, code: int, reason: str) -> None:
        """IB refused a symbol's market data (354 and friends): it cannot be traded today."""
        self.ctx.alerts.notify(ev.market_data_refused(ev.DAY_TRADER, symbol, code, reason,
                                                      at=self._safe_time()))

    def _alert_if_unreachable(self, mono: float) -> None:
        """IB unreachable for `unreachable_alert_s` while the bot holds shares: a person is
        told once per outage (the broker-held exits keep working meanwhile)."""
        if self._lost_at is None or self._unreachable_told:
            return
        down = mono - self._lost_at
        held = self.day_end.held()
        if down >= self.options.unreachable_alert_s and held:
            self._unreachable_told = True
            self.ctx.alerts.notify(ev.gateway_unreachable(ev.DAY_TRADER, down, dict(held),
                                                          at=self._safe_time()))

    def _safe_time(self) -> datetime | None:
        try:
            return self.broker.now()
        except RuntimeError:
            return None

    # == reconcile, flatten ================================================================
    async def reconcile(self, reason: str) -> None:
        """Broker truth vs our book: adopt, protect, apply missed executions, cancel orphans."""
        now = self.broker.now()
        may_trade = self.session.open - timedelta(hours=2) <= now < self.session.close
        await self.sync.reconcile(reason, may_trade=may_trade, flattening=self.state.flattening)
        if reason == "reconnect":
            self.state.resynchronised()

    def _safe_now(self) -> str:
        try:
            return self.broker.now().isoformat()
        except RuntimeError:
            return ""

