"""IntradayTrader: completed bars -> indicators -> strategy -> risk -> bracket orders; flatten.

An orchestrator of small parts (STYLE.md): indicators, strategy, risk, reconcile planning, the
ledger and the flatten routine each live in their own module. The per-bar path is synchronous
computation; only talking to the broker is awaited (in tasks), so the same trader runs against IB,
the Gateway simulator and an in-process paper broker.

Money-safety invariants this class keeps:
- exits live at the broker: entries are brackets; a held position found without a working stop
  for longer than `exit_grace_s` gets protective exits;
- an order is sent once: each intent gets a fresh `order_ref` sequence recorded in the DB before
  sending, and after a reconnect the broker's open orders/executions are matched by ref;
- every execution is applied and recorded once (exec id, DB unique key);
- only the bot's own book is traded; quantity another book owns is never sold;
- at the flatten time everything the bot owns is sold and the broker is re-queried until flat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from evaluation.health import (
    PAUSE_ENTRIES,
    RECONNECT,
    RESUBSCRIBE,
    RESUME_ENTRIES,
    HealthThresholds,
)
from observability import tracing
from observability.history import HistoryDB
from observability.schema import IntentRow, IntentState
from observability.tracing import SpanNames
from trade import strategy
from trade.broker import Broker, BrokerError, ConnectionState
from trade.calendar import Session
from trade.indicators import IndicatorState
from trade.intraday.bar_feed import BarFeed
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.flatten import flatten
from trade.intraday.health_keeper import HealthKeeper
from trade.intraday.reconcile import plan_reconcile
from trade.intraday.run_log import RunLog
from trade.intraday.symbol_book import SymbolBook
from trade.models import Account, Bar, Fill, OrderRef, OrderTicket, Params, Side
from trade.risk import EntryRequest, RiskManager

log = logging.getLogger(__name__)

BOT = "DT"
BOOK = "intraday"
OTHER_BOOKS = ("weekly",)


@dataclass(slots=True)
class TraderOptions:
    allocation: float
    variant: str = ""
    exit_grace_s: float = 2.0  # real seconds a held position may lack a working stop
    health_interval_s: float = 60.0  # market seconds between health checks
    tick_s: float = 0.02  # real seconds between clock checks
    warmup_duration: str = "2 D"
    thresholds: HealthThresholds = field(default_factory=HealthThresholds)


class IntradayTrader:
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
        self.db = db
        self.session = session
        self.day: date = session.date
        self.risk = risk
        self.options = options
        self.run_log = run_log
        self.books = {
            s: SymbolBook(s, p, IndicatorState.from_params(p)) for s, p in params.items()
        }
        self.fills = FillRecorder(db, BOT, BOOK, self.day, options.variant, run_log, self.books,
                                  broker.now)
        self.health = HealthKeeper(db, run_log, options.thresholds)
        self.feed = BarFeed(broker, self.books, self._process_bar, self._spawn,
                            options.warmup_duration)
        self._orders: dict[int, OrderTicket] = {}  # our working orders, by id
        self._account: Account | None = None
        self._day_start_equity: float | None = None
        self._entries_paused: str | None = "starting"
        self._flattening = False
        self._flat_confirmed = False
        self._stop_reason: str | None = None
        self._last_bar_end: datetime | None = None
        self._next_health: datetime | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconcile_lock = asyncio.Lock()
        self._daystr = self.day.strftime("%Y%m%d")
        self._trace_of: dict[str, Any] = {}  # "<SYM>-<seq>" -> the decision's trace context

    # == lifecycle ========================================================================
    async def start(self, warmup: Mapping[str, Sequence[Bar]] | None = None) -> None:
        """Sync with the broker, warm the indicators (from `warmup` bars where the pre-market
        analyst already fetched them), then subscribe to live bars."""
        self.broker.add_fill_handler(self._on_fill)
        self.broker.add_order_status_handler(self._on_order_status)
        self.broker.add_connection_handler(self._on_connection)
        at_broker = {f.exec_id for f in await self.broker.executions()}
        start_of_day = self.session.open.replace(hour=0, minute=0)
        self.fills.replay(self.db.executions_since(start_of_day, book=BOOK), at_broker)
        await self._refresh_account()
        self._day_start_equity = self._account.net_liquidation if self._account else None
        await self.reconcile(reason="start")
        await self.feed.warm_up(warmup or {})
        await self.feed.subscribe()
        self._entries_paused = None

    async def run(self) -> RunLog:
        """Trade until the bot is flat after the flatten time, or until `stop()` is called."""
        self.run_log.started_at = self.broker.now()
        self.health.restart_cpu_window()
        self._next_health = self.run_log.started_at + timedelta(seconds=self.options.health_interval_s)
        while self._stop_reason is None:
            now = self.broker.now()
            if now >= self.session.flatten_at and not self._flat_confirmed:
                await self._flatten()
            if self._flat_confirmed and now >= self.session.flatten_at:
                break
            self._guard_exits()
            if self._next_health is None or now >= self._next_health:
                await self._health_check(now)
            await asyncio.sleep(self.options.tick_s)
        for task in list(self._tasks):
            await asyncio.wait([task], timeout=2.0)
        self.run_log.ended_at = self.broker.now()
        if self._stop_reason is not None:
            self.run_log.stopped_by = self._stop_reason
        return self.run_log

    def stop(self, reason: str) -> None:
        """SIGINT/SIGTERM: no new entries; broker-side exits stay in place; `run` returns."""
        log.info("stopping (%s): no new entries, exits stay at the broker", reason)
        self._entries_paused = reason
        self._stop_reason = reason

    # == per-bar path (synchronous) =======================================================
    def _process_bar(self, book: SymbolBook, bar: Bar) -> None:
        book.indicators.update(bar)
        book.last_bar_start = bar.start
        if self._last_bar_end is None or bar.end > self._last_bar_end:
            self._last_bar_end = bar.end
        if self._entries_paused or self._flattening or book.qty > 0 or book.pending_entry:
            return
        state, params, now = book.indicators, book.params, bar.end
        verdict = strategy.entry_verdict(
            state.close, state.vwap, state.rsi, state.atr, params, now, self.session, True
        )
        if verdict is not strategy.Verdict.ENTER:
            return
        signal = strategy.signal_for(book.symbol, verdict, state, params, now, self.session)
        with (
            tracing.span(SpanNames.bar(book.symbol), symbol=book.symbol, price=state.close),
            tracing.span(SpanNames.DECIDE, variant=self.options.variant,
                         attrs={"trading.reason": signal.reason, "trading.rsi": state.rsi,
                                "trading.vwap": state.vwap, "trading.atr": state.atr}),
        ):
            with tracing.span(SpanNames.RISK_CHECK) as risk_span:
                result = self.risk.check_entry(self._entry_request(book.symbol, state.close))
                tracing.set_attrs(risk_span, qty=result.shares, attrs={"trading.risk": result.reason})
            if not result.allowed:
                log.info("%s: %s; risk says no: %s", book.symbol, signal.reason, result.reason)
                return
            take_profit, stop_loss = strategy.bracket_prices(state.close, params)
            ref = self._reserve_ref(book.symbol, "ENTRY", "BUY", result.shares, state.close,
                                    take_profit, stop_loss, IntentState.PENDING)
            book.pending_entry = str(ref)
            book.entry_snapshot = {
                "rsi": state.rsi, "vwap": state.vwap, "atr": state.atr, "reason": signal.reason,
            }
            self._trace_of[_group(ref)] = tracing.current_context()
            self._enter(book, ref, result.shares, take_profit, stop_loss)

    def _entry_request(self, symbol: str, price: float) -> EntryRequest:
        exposure, held, unrealized = 0.0, 0, 0.0
        for book in self.books.values():
            last = self.broker.last_price(book.symbol) or book.avg_cost
            if book.qty > 0:
                held += 1
                exposure += book.qty * last
                unrealized += (last - book.avg_cost) * book.qty
            elif book.pending_entry:
                held += 1
        realized = self.fills.realized_pnl
        account = self._account or Account("", 0.0, 0.0, 0.0)
        return EntryRequest(
            symbol=symbol, price=price, account=account, open_exposure=exposure,
            open_positions=held, day_pnl=realized + unrealized,
            day_start_equity=self._day_start_equity,
        )

    # == orders ===========================================================================
    def _enter(
        self, book: SymbolBook, ref: OrderRef, qty: int, take_profit: float, stop_loss: float
    ) -> None:
        """Send the bracket now, inside the decision (no event-loop turn in between)."""
        now = self.broker.now()
        with tracing.span(SpanNames.PLACE_BRACKET, symbol=book.symbol, side="BUY", qty=qty,
                          order_ref=str(ref), variant=self.options.variant):
            try:
                tickets = self.broker.submit_bracket(
                    book.symbol, qty, None, take_profit, stop_loss, str(ref)
                )
            except BrokerError as exc:
                log.warning("%s: bracket %s not sent: %s", book.symbol, ref, exc)
                self.db.update_intent_state(str(ref), IntentState.REJECTED, self.broker.now())
                self.run_log.rejections.append({"order_ref": str(ref), "symbol": book.symbol,
                                                "reason": str(exc), "time": now.isoformat()})
                book.pending_entry = None
                return
        for ticket in tickets.legs:
            self._orders[ticket.order_id] = ticket
        self.db.update_intent_state(str(ref), IntentState.WORKING, self.broker.now())
        log.info("%s: bracket %s sent: buy %d, target %.2f, stop %.2f",
                 book.symbol, ref, qty, take_profit, stop_loss)

    def _reserve_ref(
        self, symbol: str, leg: str, side: str, qty: int, price: float,
        target: float | None, stop: float | None, state: IntentState,
    ) -> OrderRef:
        """A sequence never used before for this symbol today, recorded as an intent in the
        same (synchronous) step, so neither a concurrent order nor a restart can reuse it."""
        used = self.db.max_sequence(BOT, self.day, symbol)
        for ticket in self._orders.values():
            ref = OrderRef.parse(ticket.order_ref)
            if ref is not None and ref.symbol == symbol and ref.day == self._daystr:
                used = max(used, ref.seq)
        ref = OrderRef(BOT, self._daystr, symbol, used + 1, leg)
        self.db.record_intent(IntentRow(
            order_ref=str(ref), bot=BOT, trading_date=self.day, symbol=symbol, seq=ref.seq,
            side=side, qty=qty, entry_price=price, target_price=target, stop_price=stop,
            book=BOOK, created_time=self.broker.now(), variant=self.options.variant, state=state,
        ))
        return ref

    def _flatten_ref(self, symbol: str, qty: int) -> OrderRef:
        return self._reserve_ref(symbol, "FLAT", "SELL", qty, 0.0, None, None, IntentState.WORKING)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # == broker events ====================================================================
    def _on_order_status(self, ticket: OrderTicket) -> None:
        ref = OrderRef.parse(ticket.order_ref)
        if ref is None or ref.bot != BOT:
            return
        if ticket.status.is_working:
            self._orders[ticket.order_id] = ticket
        else:
            self._orders.pop(ticket.order_id, None)
        book = self.books.get(ticket.symbol)
        if book is None or ref.leg != "ENTRY" or book.pending_entry != ticket.order_ref:
            return
        if not ticket.status.is_working:
            book.pending_entry = None
            if ticket.filled == 0:
                state = IntentState.REJECTED if ticket.status.value == "Inactive" else IntentState.CANCELLED
                self.db.update_intent_state(ticket.order_ref, state, self.broker.now())
                self.run_log.rejections.append({
                    "order_ref": ticket.order_ref, "symbol": ticket.symbol,
                    "reason": f"entry {ticket.status.value} by the broker",
                    "time": self.broker.now().isoformat(),
                })

    def _on_fill(self, fill: Fill) -> None:
        ref = self.fills.is_new(fill)
        if ref is None:
            return
        with tracing.span_under(self._trace_of.get(_group(ref)), SpanNames.FILL, symbol=fill.symbol,
                                side=fill.side.value, qty=fill.qty, price=fill.price,
                                order_ref=fill.order_ref, variant=self.options.variant):
            self.fills.record(fill, ref)

    def _on_connection(self, state: ConnectionState) -> None:
        if state == ConnectionState.LOST:
            self._entries_paused = "connection lost"
            self.run_log.health_events.append({
                "time": self._safe_now(), "status": "critical", "detail": "connection lost",
                "actions": [RECONNECT, PAUSE_ENTRIES],
            })
        elif state == ConnectionState.RESTORED:
            self.run_log.reconnects += 1
            self._spawn(self.reconcile(reason="reconnect"))

    # == reconcile ========================================================================
    async def reconcile(self, reason: str) -> None:
        """Broker truth vs our book: adopt, protect, apply missed executions, cancel orphans."""
        async with self._reconcile_lock:
            with tracing.span(SpanNames.SYNC, attrs={"trading.reason": reason}):
                for fill in await self.broker.executions():
                    self._on_fill(fill)  # executions missed while away (dedup by exec id)
                positions = await self.broker.positions()
                orders = await self.broker.open_orders()
                self._orders = {
                    o.order_id: o for o in orders
                    if (r := OrderRef.parse(o.order_ref)) is not None and r.bot == BOT and o.status.is_working
                }
                recorded = {p.symbol: p for p in self.db.book_positions(BOOK)}
                own = {symbol: p.qty for symbol, p in recorded.items()}
                others = self._other_books()
                plan = plan_reconcile(BOT, self.books, positions, orders, own, others)
                for warning in plan.warnings:
                    log.warning("reconcile: %s", warning)
                    if warning not in self.run_log.warnings:
                        self.run_log.warnings.append(warning)
                for symbol, holding in plan.holdings.items():
                    book = self.books.get(symbol) or self.books.setdefault(
                        symbol, SymbolBook.outside_watchlist(symbol))
                    if holding.adopted_qty:
                        note = f"{symbol}: adopted {holding.adopted_qty} shares found at the broker"
                        log.warning("reconcile: %s", note)
                        self.run_log.warnings.append(note)
                    # our own recorded cost when we have one: the broker's average mixes in
                    # shares another book owns
                    mine = recorded.get(symbol)
                    cost = holding.avg_cost
                    if mine is not None and mine.avg_cost > 0 and not holding.adopted_qty:
                        cost = mine.avg_cost
                    book.qty, book.avg_cost = holding.qty, cost
                    self.db.set_book_position(BOOK, symbol, holding.qty, cost, self.broker.now())
                    if self.fills.ledger.open_trip(symbol) is None:
                        self.fills.ledger.adopt(symbol, holding.qty, cost, self.broker.now(),
                                          OrderRef(BOT, self._daystr, symbol, 0, "ENTRY"))
                for symbol, book in self.books.items():
                    if symbol not in plan.holdings and book.qty > 0:
                        log.warning("reconcile: %s no longer held at the broker", symbol)
                        book.qty, book.avg_cost = 0, 0.0
                        self.db.set_book_position(BOOK, symbol, 0, 0.0, self.broker.now())
                for order in plan.stale_orders:
                    log.info("reconcile: cancelling orphaned exit %s", order.order_ref)
                    await self.broker.cancel(order.order_id)
                if not self._flattening:
                    for holding in plan.needs_exits:
                        await self._protect(holding.symbol, holding.qty - holding.protected_qty)
            if self._entries_paused in ("connection lost", "starting") and reason == "reconnect":
                self._entries_paused = None

    def _other_books(self) -> dict[str, int]:
        others: dict[str, int] = {}
        for name in OTHER_BOOKS:
            for position in self.db.book_positions(name):
                others[position.symbol] = others.get(position.symbol, 0) + position.qty
        return others

    async def _protect(self, symbol: str, qty: int) -> None:
        """Protective OCA exits for held shares that have no working stop."""
        book = self.books[symbol]
        if qty <= 0 or book.avg_cost <= 0:
            return
        take_profit, stop_loss = strategy.bracket_prices(book.avg_cost, book.params)
        ref = self._reserve_ref(symbol, "PROT", "SELL", qty, book.avg_cost, take_profit, stop_loss,
                                IntentState.OPEN)
        with tracing.span("order.place_exits", symbol=symbol, side="SELL", qty=qty,
                          order_ref=str(ref)):
            try:
                take, stop = await self.broker.place_exits(symbol, qty, take_profit, stop_loss, str(ref))
            except BrokerError as exc:
                log.error("%s: protective exits not placed: %s", symbol, exc)
                return
        self._orders[take.order_id], self._orders[stop.order_id] = take, stop
        book.unprotected_since = None
        log.warning("%s: placed protective exits for %d shares (target %.2f, stop %.2f)",
                    symbol, qty, take_profit, stop_loss)

    def _guard_exits(self) -> None:
        """A held position without a working stop for `exit_grace_s` gets protective exits."""
        if self._flattening or self._entries_paused == "connection lost":
            return
        now = time.monotonic()
        for book in self.books.values():
            if book.qty <= 0:
                book.unprotected_since = None
                continue
            protected = sum(
                o.remaining for o in self._orders.values()
                if o.symbol == book.symbol and o.side is Side.SELL and o.stop_price is not None
            )
            if protected >= book.qty:
                book.unprotected_since = None
            elif book.unprotected_since is None:
                book.unprotected_since = now
            elif now - book.unprotected_since >= self.options.exit_grace_s:
                book.unprotected_since = now
                self._spawn(self._protect(book.symbol, book.qty - protected))

    # == flatten, warm-up, health =========================================================
    async def _flatten(self) -> None:
        if not self._flattening:
            log.info("flatten time %s: cancelling own orders, selling own positions",
                     self.session.flatten_at.strftime("%H:%M"))
        self._flattening = True
        self._entries_paused = "flatten"
        for task in list(self._tasks):
            await asyncio.wait([task], timeout=2.0)

        def owned(held: dict[str, int]) -> dict[str, int]:
            others = self._other_books()
            result = {}
            for symbol, qty in held.items():
                book = self.books.get(symbol)
                mine = book.qty if book is not None else 0
                result[symbol] = max(0, min(mine, qty - others.get(symbol, 0)))
            return result

        with tracing.span(SpanNames.FLATTEN):
            result = await flatten(self.broker, BOT, owned, self._flatten_ref)
        if result.flat:
            self._flat_confirmed = True
            self.run_log.flat_at = result.flat_at
            log.info("flat confirmed at %s after %d round(s)", result.flat_at, result.rounds)
        else:
            log.error("NOT FLAT after %d rounds: %s still held; retrying", result.rounds, result.remaining)

    async def _refresh_account(self) -> None:
        try:
            self._account = await self.broker.account()
        except BrokerError as exc:
            log.warning("account refresh failed: %s", exc)

    async def _health_check(self, now: datetime) -> None:
        self._next_health = now + timedelta(seconds=self.options.health_interval_s)
        await self._refresh_account()
        connected = getattr(self.broker, "connection_state", ConnectionState.CONNECTED) != ConnectionState.LOST
        staleness = 0.0
        if self._last_bar_end is not None and self.session.open <= now < self.session.close:
            staleness = max(0.0, (now - self._last_bar_end).total_seconds())
        reading, verdict = await self.health.measure(now, connected, staleness)
        self.health.record(reading, verdict, self._heal(verdict.actions))

    def _heal(self, actions: list[str]) -> list[str]:
        taken = []
        for action in actions:
            if action == PAUSE_ENTRIES and not self._entries_paused:
                self._entries_paused = "health"
                taken.append(action)
            elif action == RESUME_ENTRIES and self._entries_paused == "health":
                self._entries_paused = None
                taken.append(action)
            elif action == RESUBSCRIBE:
                self._spawn(self.feed.subscribe())
                taken.append(action)
            elif action == RECONNECT:
                taken.append(action)  # the connection watchdog is already reconnecting
        return taken

    def _safe_now(self) -> str:
        try:
            return self.broker.now().isoformat()
        except RuntimeError:
            return ""


def _group(ref: OrderRef) -> str:
    """The legs of one intent (entry, take-profit, stop) share symbol and sequence."""
    return f"{ref.symbol}-{ref.seq}"
