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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evaluation.health import (
    PAUSE_ENTRIES,
    RECONNECT,
    RESUBSCRIBE,
    RESUME_ENTRIES,
    HealthThresholds,
)
from observability import tracing
from observability.alerts import events as ev
from observability.history import HistoryDB
from observability.tracing import SpanNames
from trade.broker import Broker, ConnectionState
from trade.calendar import Session
from trade.indicators import IndicatorState
from trade.intraday.bar_feed import BarFeed
from trade.intraday.context import BOOK, BOT, OTHER_BOOKS, AlertSink, TraderContext
from trade.intraday.day_end import DayEnd, DayEndOptions
from trade.intraday.entries import EntryDesk, trace_key
from trade.intraday.exits import ExitKeeper
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.flatten import Holdings, flatten, flatten_refs
from trade.intraday.health_keeper import HealthKeeper
from trade.intraday.lots import Lots
from trade.intraday.ownership import CONFIRM_AFTER_S, QUIET_AFTER_OWN_EXECUTION_S
from trade.intraday.records import SafeRecords
from trade.intraday.refs import RefBook
from trade.intraday.run_log import RunLog
from trade.intraday.state import Phase, TraderState
from trade.intraday.status import snapshot
from trade.intraday.supervisor import Supervisor
from trade.intraday.symbol_book import SymbolBook
from trade.intraday.sync import BrokerSync
from trade.models import Bar, Fill, OrderRef, OrderStatus, OrderTicket, Params
from trade.refusal import Refused
from trade.risk import RiskManager

log = logging.getLogger(__name__)

__all__ = ["BOOK", "BOT", "IntradayTrader", "TraderOptions"]

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
    positions_check_s: float = 2.0  # real seconds between two looks at the broker's positions
    # a sale the bot did not make is believed when seen twice this far apart, and never within
    # `ownership_quiet_s` of the bot's own execution in the symbol (positions lag executions)
    ownership_confirm_s: float = CONFIRM_AFTER_S
    ownership_quiet_s: float = QUIET_AFTER_OWN_EXECUTION_S
    flush_interval_s: float = 1.0  # real seconds between retries of DB writes that had to wait
    shutdown_flush_s: float = 30.0  # at the end of the day, how long to wait for a locked DB
    settle_after_close_s: float = 120.0  # real seconds to wait for the backstop's executions
    settle_poll_s: float = 1.0  # real seconds between two reconciles while settling
    progress_every_s: float = 1800.0  # market seconds between two progress lines (0: none)
    warmup_duration: str = "2 D"
    broker_backstop: bool = True  # attach the broker-held backstop flatten to every exit group
    release_backstop: bool = True  # the flatten sells by releasing it (else cancel-confirm-sell)
    backstop_delay: timedelta = timedelta(minutes=2)  # after the flatten time (15:57 / 12:57)
    thresholds: HealthThresholds = field(default_factory=HealthThresholds)
    adopt: dict[str, int | None] = field(default_factory=dict)  # --adopt SYMBOL[:QTY] (None: all)
    unreachable_alert_s: float = 120.0  # real seconds without IB while holding before an alert


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
                                entry_grace_s=options.entry_grace_s)
        self.entries = EntryDesk(ctx, risk, self.exits, self.fills)
        self.sync = BrokerSync(ctx, self.lots, self.fills, self.exits, self.entries, OTHER_BOOKS,
                               self._on_fill)
        self.day_end = DayEnd(ctx, self.fills, self.entries, self.exits, DayEndOptions(
            options.progress_every_s, options.settle_after_close_s, options.settle_poll_s,
            options.shutdown_flush_s), lambda reason: self.reconcile(reason=reason))
        self._wired = self._replayed = False  # start()'s one-time steps, done
        self._last_bar_end: datetime | None = None
        self._next_health: datetime | None = None
        self._last_resubscribe: datetime | None = None
        self._lost_at: float | None = None  # monotonic time the connection was lost
        self._unreachable_told = False

    # == lifecycle ========================================================================
    async def start(self, warmup: Mapping[str, Sequence[Bar]] | None = None,
                    daily_atr_pct: Mapping[str, float] | None = None) -> None:
        """Sync with the broker, warm the indicators (from `warmup` bars where the pre-market
        analyst already fetched them), then subscribe to live bars. Safe to call again when a
        dropped connection interrupted it: what was done is not done twice."""
        db = self.records.db
        if not self._wired:
            self.broker.add_fill_handler(self._on_fill)
            self.broker.add_commission_handler(self.fills.on_commission)
            self.broker.add_order_status_handler(self._on_order_status)
            self.broker.add_connection_handler(self._on_connection)
            self.broker.add_data_refused_handler(self._on_data_refused)
            for symbol, value in (daily_atr_pct or {}).items():
                if symbol in self.books:
                    self.books[symbol].daily_atr_pct = value
            for position in self.records.read("book_positions", lambda: db.book_positions(BOOK), []):
                self.lots.restore(position.symbol, position.qty, position.avg_cost)
            self._wired = True
        if not self._replayed:
            await self._refuse_other_client_orders()
            at_broker = await self.broker.executions()
            start_of_day = self.session.open.replace(hour=0, minute=0)
            recorded = self.records.read("executions_since",
                                         lambda: db.executions_since(start_of_day, book=BOOK), [])
            self.fills.replay(recorded, {f.exec_id for f in at_broker})
            self._replayed = True
        await self._refresh_account()
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
        self._next_health = self.run_log.started_at + timedelta(seconds=self.options.health_interval_s)
        next_guard = next_flush = next_positions = 0.0
        closed_unflat = False
        while not state.stopped:
            now = self.broker.now()
            mono = time.monotonic()
            try:
                if state.flatten_due(now, session.flatten_at):
                    await self._flatten()
                if state.phase is Phase.FLAT:
                    break
                if now >= session.close and await self.broker.server_now() >= session.close:
                    closed_unflat = True  # asked afresh: an estimate may run ahead of a simulator
                    break
                if mono >= next_guard:
                    next_guard = mono + self.options.guard_interval_s
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
                if self._next_health is None or now >= self._next_health:
                    await self._health_check(now)
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
                                    self._on_data_refused)
        day_end.record_bars()
        await day_end.flush_before_exit()
        day_end.finish_run_log()
        return self.run_log

    async def _refuse_other_client_orders(self) -> None:
        """IB shows a client only the orders it placed itself: exits a run of today left under
        another client id would be invisible to this one, which would then add a second group
        beside them (and miss today's executions, resetting the loss cap). Such a start is
        refused, naming the id to use."""
        mine = {o.order_ref for o in await self.broker.open_orders()}
        daystr = self.refs.daystr
        for order in await self.broker.all_open_orders():
            ref = OrderRef.parse(order.order_ref)
            if ref is None or ref.bot != BOT or ref.day != daystr or order.order_ref in mine:
                continue
            who = f"client id {order.client_id}" if order.client_id else "another client id"
            raise Refused(f"the bot's order {order.order_ref} is working under {who}: this run "
                          "cannot see or manage it; restart with "
                          f"--client-id {order.client_id or '<the id of the earlier run>'}")

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
        if self._last_bar_end is None or bar.end > self._last_bar_end:
            self._last_bar_end = bar.end
        self.day_end.keep_bar(bar)
        if self.broker.now() - bar.end > STALE_BAR:
            return  # a backfilled or held bar: indicators only, never a decision on the past
        if book.busy:
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
            if ticket.status is OrderStatus.INACTIVE:
                # IB: "not currently working", not necessarily final: cancelled explicitly,
                # so it can never come back beside whatever replaces it
                self.jobs.run(f"cancel-inactive:{ticket.order_id}",
                              lambda i=ticket.order_id: self.exits.cancel_quietly(i), retry=False)
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

    async def _flatten(self) -> None:
        first = self.state.flatten_started(self.broker.now(), self.session.flatten_at)
        if first is not None:
            log.info("%s: closing own positions (%s)", first,
                     "a whole exit group by releasing its backstop, the rest cancelled and sold"
                     if self.options.release_backstop else "every exit cancelled, confirmed "
                     "gone, then sold at market: no release of the backstop on this account")
        await self.jobs.drain(2.0)  # let a repair or reprice in progress finish first
        with tracing.span(SpanNames.FLATTEN):
            result = await flatten(self.broker, BOT, self._holdings, flatten_refs(self.refs),
                                   settled=self._settled,
                                   release_backstop=self.options.release_backstop,
                                   until=self.session.close, poll=0.005)
        if result.flat:
            assert result.flat_at is not None
            self.state.flat_confirmed(result.flat_at, self.broker.now(), self.session.flatten_at)
            self.run_log.flat_at = result.flat_at
            log.info("flat confirmed at %s after %d round(s)", result.flat_at, result.rounds)
        else:
            log.error("NOT FLAT after %d rounds: %s still held", result.rounds, result.remaining)

    async def _holdings(self) -> Holdings:
        """What the bot still owns and may trade now: every execution the broker reports
        applied first, a confirmed sale the bot did not make taken into account."""
        await self.fills.catch_up()
        positions = await self.broker.positions()
        self.sync.judge(positions)
        held = {p.symbol: p.qty for p in positions}
        remaining, tradable = {}, {}
        for symbol, book in self.books.items():
            lot = book.qty
            if lot == 0:
                continue
            remaining[symbol] = lot
            if lot < 0:
                tradable[symbol] = lot
            elif (sellable := self.ctx.ownership.sellable(symbol, held.get(symbol, 0), lot)) > 0:
                tradable[symbol] = sellable
        return Holdings(remaining, tradable)

    async def _settled(self) -> bool:
        """No exit of the bot reported filled whose execution has not been applied."""
        if any(self.fills.unsettled(symbol) for symbol in self.books):
            await self.fills.catch_up()
            return not any(self.fills.unsettled(symbol) for symbol in self.books)
        return True

    # == account, health ===================================================================
    async def _refresh_account(self) -> None:
        try:
            self.entries.account = await self.broker.account()
        except Exception as exc:  # keep the last known account values
            log.warning("account refresh failed: %s", exc)
        if self.entries.day_start_equity is None:
            self.entries.day_start_equity = self._starting_equity()

    def _starting_equity(self) -> float | None:
        """Net liquidation at the start of today's trading: today's realised P&L (replayed from
        the DB after a restart) is added back, so a restart after a loss does not lower the
        daily loss cap's base. None while the account values are not in (a net liquidation of
        0 is no base)."""
        account = self.entries.account
        if account is None or account.net_liquidation <= 0.0:
            return None
        return account.net_liquidation - self.fills.realized_pnl

    async def _health_check(self, now: datetime) -> None:
        self._next_health = now + timedelta(seconds=self.options.health_interval_s)
        await self._refresh_account()
        staleness = 0.0
        if self._last_bar_end is not None and self.session.open <= now < self.session.close:
            staleness = max(0.0, (now - self._last_bar_end).total_seconds())
        reading, verdict = await self.health.measure(now, self.state.connected, staleness)
        self.health.record(reading, verdict, self._heal(verdict.actions, now))

    def _heal(self, actions: list[str], now: datetime) -> list[str]:
        taken = []
        for action in actions:
            if action == PAUSE_ENTRIES and self.state.health_pause():
                taken.append(action)
            elif action == RESUME_ENTRIES and self.state.health_resume():
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


def backstop_time(session: Session, options: TraderOptions) -> datetime:
    """When the broker-held backstop sells: `backstop_delay` after the flatten time, and always
    a minute before the close at the latest (a later one would never execute: no net at all)."""
    return min(session.flatten_at + options.backstop_delay, session.close - timedelta(minutes=1))
