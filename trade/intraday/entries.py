"""The entry half of the per-bar path: the rules' verdict, risk, the bracket sent inside the
decision.

Synchronous on purpose (docs/architecture.md: the per-bar path is plain computation; only talking to the broker
is awaited): `submit_bracket` hands every leg to the broker before it returns, so an entry goes
out the moment it is decided instead of one event-loop turn later, behind the other bars of the
same burst. Every "no" is counted per symbol and rule (`no_entry`: the run log's "why no entry"
table) and the last verdict per symbol is kept (`decisions`: the status page) — both cheap, one
dict write per bar.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from observability import tracing
from observability.alerts import events as ev
from observability.schema import IntentState
from observability.tracing import SpanNames
from trade import strategy
from trade.intraday.context import TraderContext
from trade.intraday.exits import ExitKeeper
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.symbol_book import EntryInFlight, SymbolBook
from trade.models import Account, Bar, BracketTickets, Fill, OrderRef, OrderStatus, OrderTicket
from trade.risk import DailyLossCap, EntryRequest, RiskManager

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EntryDecision:
    """The last verdict on a symbol, kept cheaply per bar; its reason is built when asked."""

    time: datetime
    verdict: strategy.Verdict | None  # None: the rules said enter, risk said no
    close: float
    vwap: float
    rsi: float
    atr: float
    risk_reason: str = ""


class EntryDesk:
    """The only writer of each symbol's entry in flight (`SymbolBook.entry`)."""

    def __init__(self, ctx: TraderContext, risk: RiskManager, exits: ExitKeeper,
                 fills: FillRecorder) -> None:
        self.ctx = ctx
        self.broker = ctx.broker
        self.session = ctx.session
        self.books = ctx.books
        self.orders = ctx.orders
        self.refs = ctx.refs
        self.run_log = ctx.run_log
        self.variant = ctx.variant
        self.risk = risk
        self.exits = exits
        self.fills = fills
        self.account: Account | None = None  # refreshed by the trader's health checks
        self.day_start_equity: float | None = None
        self.decisions: dict[str, EntryDecision] = {}
        self.no_entry: dict[str, Counter[str]] = {s: Counter() for s in ctx.books}
        self.trace_of: dict[str, Any] = {}  # "<SYM>-<seq>" -> the decision's trace context
        self._loss_cap_told = False
        self.loss_cap_pct = next((100.0 * r.max_loss_pct for r in risk.rules
                                  if isinstance(r, DailyLossCap)), 0.0)

    def count(self, symbol: str, why: str) -> None:
        counter = self.no_entry.get(symbol)
        if counter is None:
            counter = self.no_entry[symbol] = Counter()
        counter[why] += 1

    def consider(self, book: SymbolBook, bar: Bar) -> None:
        """A flat symbol's fresh bar: the rules, then (on ENTER) risk and the bracket."""
        state, params = book.indicators, book.params
        verdict = strategy.entry_verdict(state.close, state.vwap, state.rsi, state.atr, params,
                                         bar.end, self.session, True, book.daily_atr_pct)
        decision = EntryDecision(bar.end, verdict, state.close, state.vwap, state.rsi, state.atr)
        self.decisions[book.symbol] = decision
        if verdict is not strategy.Verdict.ENTER:
            self.count(book.symbol, verdict.name)
            return
        self._decide(book, bar, decision)

    def _decide(self, book: SymbolBook, bar: Bar, decision: EntryDecision) -> None:
        state, params = book.indicators, book.params
        signal = strategy.signal_for(book.symbol, strategy.Verdict.ENTER, state, params, bar.end,
                                     self.session, daily_atr_pct=book.daily_atr_pct)
        with (
            tracing.span(SpanNames.bar(book.symbol), symbol=book.symbol, price=state.close),
            tracing.span(SpanNames.DECIDE, variant=self.variant,
                         attrs={"trading.reason": signal.reason, "trading.rsi": state.rsi,
                                "trading.vwap": state.vwap, "trading.atr": state.atr,
                                "trading.daily_atr_pct": book.daily_atr_pct}),
        ):
            with tracing.span(SpanNames.RISK_CHECK) as risk_span:
                result = self.risk.check_entry(self.entry_request(book, state.close, bar.end))
                tracing.set_attrs(risk_span, qty=result.shares, attrs={"trading.risk": result.reason})
            if not result.allowed:
                log.info("%s: %s; risk says no: %s", book.symbol, signal.reason, result.reason)
                if result.rule == "daily_loss_cap" and not self._loss_cap_told \
                        and self.day_start_equity is not None:
                    self._loss_cap_told = True  # once a day: no entry until tomorrow
                    request = self.entry_request(book, state.close, bar.end)
                    self.ctx.alerts.notify(ev.loss_cap_hit(
                        ev.DAY_TRADER, request.day_pnl, self.loss_cap_pct, at=bar.end))
                self.decisions[book.symbol] = EntryDecision(
                    decision.time, None, decision.close, decision.vwap, decision.rsi,
                    decision.atr, result.reason)
                self.count(book.symbol, f"risk: {result.rule or 'sizing'}")
                return
            take_profit, stop_loss = strategy.bracket_prices(state.close, params)
            ref = self.refs.next_ref(book.symbol, "ENTRY", "BUY", result.shares, state.close,
                                     take_profit, stop_loss, IntentState.PENDING)
            entry = book.entry = EntryInFlight(str(ref), result.shares, state.close,
                                               time.monotonic())
            self.ctx.signals[str(ref)] = {
                "rsi": state.rsi, "vwap": state.vwap, "atr": state.atr, "reason": signal.reason,
            }
            self.trace_of[trace_key(ref)] = tracing.current_context()
            self._send(book, entry, ref, take_profit, stop_loss)

    def entry_request(self, book: SymbolBook, price: float, now: datetime) -> EntryRequest:
        """The bot's exposure counts what it holds at market AND what its entries in flight
        will buy: all symbols' minute bars complete at the same instant, so the entries of
        one burst are sized while the others are still pending."""
        exposure, held, unrealized = 0.0, 0, 0.0
        for other in self.books.values():
            entry = other.entry
            last = (self.broker.last_price(other.symbol) or other.avg_cost
                    or (entry.price if entry is not None else 0.0))
            if other.qty > 0:
                exposure += other.qty * last
                unrealized += (last - other.avg_cost) * other.qty
            if entry is not None:
                exposure += max(entry.qty - max(other.qty, 0), 0) * (last or entry.price)
            if other.qty > 0 or entry is not None:
                held += 1
        account = self.account or Account("", 0.0, 0.0, 0.0)
        return EntryRequest(
            symbol=book.symbol, price=price, account=account, open_exposure=exposure,
            open_positions=held, day_pnl=self.fills.realized_pnl + unrealized,
            day_start_equity=self.day_start_equity, params=book.params, now=now,
            last_exit=self.fills.ledger.last_exit(book.symbol),
        )

    def on_entry_status(self, ticket: OrderTicket) -> None:
        """An entry's status: once it is done (filled, or dead), its exits are repriced to the
        fill or cancelled, and a refusal is logged as a rejection."""
        book = self.books.get(ticket.symbol)
        entry = book.entry if book is not None else None
        if book is None or entry is None or entry.ref != ticket.order_ref:
            return
        if ticket.status.is_working and ticket.filled < ticket.qty:
            return
        if ticket.filled > self.fills.executed(ticket.order_ref):
            # done at the broker, its executions not here yet: the shares are not in the lot,
            # so the entry stays in flight (seed 26: a Filled status before execDetails freed
            # the symbol and a second entry doubled the position past the allocation)
            entry.final = ticket
            return
        book.entry = None
        if ticket.filled == 0:
            refused = ticket.status is OrderStatus.INACTIVE
            self.refs.set_state(ticket.order_ref,
                                IntentState.REJECTED if refused else IntentState.CANCELLED)
            self.run_log.rejections.append({
                "order_ref": ticket.order_ref, "symbol": ticket.symbol,
                "reason": f"entry {ticket.status.value} by the broker",
                "time": self.broker.now().isoformat(),
            })
        if entry.legs is not None:
            self.exits.entry_done(book, entry.legs, ticket)
        elif not entry.resumed:
            entry.result = ticket  # still inside submit_bracket: `_send` finishes the job

    def on_entry_executions(self, symbol: str) -> None:
        """Executions of `symbol` were applied: an entry whose final status waited for them is
        done now."""
        book = self.books.get(symbol)
        entry = book.entry if book is not None else None
        if entry is not None and entry.final is not None \
                and self.fills.executed(entry.ref) >= entry.final.filled:
            self.on_entry_status(entry.final)

    def settle_executed(self) -> None:
        for symbol in self.books:
            self.on_entry_executions(symbol)

    def resume_working(self, own_orders: list[OrderTicket]) -> None:
        """A restarted run finds one of its entries still working at the broker: it is taken up
        as the entry in flight (its exits repriced when it fills), so no second entry follows."""
        legs: dict[tuple[str, int], dict[str, OrderTicket]] = {}
        for order in own_orders:
            ref = OrderRef.parse(order.order_ref)
            if ref is not None:
                legs.setdefault((ref.symbol, ref.seq), {})[ref.leg] = order
        for (symbol, _), group in legs.items():
            entry_order = group.get("ENTRY")
            if entry_order is None:
                continue
            book = self.books.get(symbol)
            if book is None or (book.entry is not None and book.entry.ref == entry_order.order_ref):
                continue
            tp, sl = group.get("TP"), group.get("SL")
            bracket = (BracketTickets(entry_order, tp, sl, group.get("BKS"))
                       if tp is not None and sl is not None else None)
            price = entry_order.limit_price or self.broker.last_price(symbol) or book.avg_cost
            book.entry = EntryInFlight(entry_order.order_ref, entry_order.qty, price,
                                       time.monotonic(), legs=bracket, resumed=True)
            log.warning("%s: entry %s still working at the broker: taken up again (no new entry "
                        "until it is done)", symbol, entry_order.order_ref)

    def settle_missed(self, working_refs: set[str], executions: list[Fill]) -> set[str]:
        """After a reconnect: symbols whose entry is still working at the broker; an entry that
        ended while the bot was away is settled from the executions (filled: its exits are
        repriced to the fill; not filled: its legs are cancelled)."""
        in_flight: set[str] = set()
        for book in self.books.values():
            entry = book.entry
            if entry is None:
                continue
            if entry.ref in working_refs:
                in_flight.add(book.symbol)
                continue
            fills = [f for f in executions if f.order_ref == entry.ref]
            qty = sum(f.qty for f in fills)
            price = sum(f.qty * f.price for f in fills) / qty if qty else 0.0
            log.info("reconcile: entry %s ended while away (%d filled)", entry.ref, qty)
            book.entry = None
            if entry.legs is not None:
                ticket = replace(entry.legs.entry, filled=qty, avg_fill_price=price,
                                 status=OrderStatus.FILLED if qty else OrderStatus.CANCELLED)
                self.exits.entry_done(book, entry.legs, ticket)
        return in_flight

    def _send(self, book: SymbolBook, entry: EntryInFlight, ref: OrderRef, take_profit: float,
              stop_loss: float) -> None:
        """Send the bracket now, inside the decision (no event-loop turn in between)."""
        now, qty = self.broker.now(), entry.qty
        backstop = self.exits.backstop_for(book.symbol, now)
        with tracing.span(SpanNames.PLACE_BRACKET, symbol=book.symbol, side="BUY", qty=qty,
                          order_ref=str(ref), variant=self.variant):
            try:
                tickets = self.broker.submit_bracket(
                    book.symbol, qty, None, take_profit, stop_loss, str(ref), backstop_at=backstop
                )
            except Exception as exc:  # a refused or unsendable entry is a rejection, not a crash
                log.warning("%s: bracket %s not sent: %s", book.symbol, ref, exc)
                self.refs.set_state(str(ref), IntentState.REJECTED)
                self.run_log.rejections.append({"order_ref": str(ref), "symbol": book.symbol,
                                                "reason": str(exc), "time": now.isoformat()})
                book.entry = None
                return
        for ticket in tickets.legs:
            if ticket.status.is_working:
                self.orders.setdefault(ticket.order_id, ticket)
        if entry.result is not None:  # an in-process broker filled (or refused) it during the send
            self.exits.entry_done(book, tickets, entry.result)
        else:
            entry.legs = tickets
            self.refs.set_state(str(ref), IntentState.WORKING)
        log.info("%s: bracket %s sent: buy %d, target %.2f, stop %.2f%s", book.symbol, ref, qty,
                 take_profit, stop_loss,
                 f", backstop {backstop:%H:%M}" if backstop is not None else "")


def trace_key(ref: OrderRef) -> str:
    """The legs of one intent (entry, take-profit, stop) share symbol and sequence."""
    return f"{ref.symbol}-{ref.seq}"
