"""Reconciling with the broker on start and after every reconnect.

Order matters: executions first (fills missed while away move the book exactly once), then the
positions and open orders, then the executions again — if one arrived between the two reads the
snapshot may predate it, so it is taken again (a stop that filled during a reconnect must not be
"adopted" back and protected, which would sell shares already sold). Then the pure plan
(reconcile.py) says what the bot owns and what to repair; repairs and covers run as supervised
jobs of the exit keeper. Entries whose final status was missed while disconnected are settled
from the executions (filled: their exits are repriced; not filled: their legs are cancelled).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from observability import tracing
from observability.tracing import SpanNames
from trade.intraday.context import TraderContext
from trade.intraday.entries import EntryDesk
from trade.intraday.exits import ExitKeeper
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.lots import Lots
from trade.intraday.reconcile import Holding, plan_reconcile
from trade.models import Fill, OrderRef, OrderTicket, Position

log = logging.getLogger(__name__)

SNAPSHOT_ATTEMPTS = 3


class BrokerSync:
    def __init__(
        self, ctx: TraderContext, lots: Lots, fills: FillRecorder, exits: ExitKeeper,
        entries: EntryDesk, other_books: Iterable[str], on_fill: Callable[[Fill], None],
    ) -> None:
        self.ctx = ctx
        self.broker = ctx.broker
        self.bot = ctx.bot
        self.books = ctx.books
        self.orders = ctx.orders
        self.refs = ctx.refs
        self.records = ctx.records
        self.jobs = ctx.jobs
        self.run_log = ctx.run_log
        self.lots = lots
        self.fills = fills
        self.exits = exits
        self.entries = entries
        self.other_books = tuple(other_books)
        self.on_fill = on_fill
        self.watchlist = set(ctx.books)

    def others(self) -> dict[str, int]:
        """Shares other books (the weekly bot) own, per symbol."""
        db = self.records.db
        owned: dict[str, int] = {}
        for name in self.other_books:
            rows = self.records.read(f"book_positions({name})", lambda n=name: db.book_positions(n), [])
            for position in rows:
                owned[position.symbol] = owned.get(position.symbol, 0) + position.qty
        return owned

    async def snapshot(self) -> tuple[list[Position], list[OrderTicket], list[Fill]]:
        """Positions and open orders that do not predate any execution the broker reports."""
        before = await self.broker.executions()
        for fill in before:
            self.on_fill(fill)
        for _ in range(SNAPSHOT_ATTEMPTS):
            positions = await self.broker.positions()
            orders = await self.broker.open_orders()
            after = await self.broker.executions()
            known = {f.exec_id for f in before}
            new = [f for f in after if f.exec_id not in known]
            for fill in new:
                self.on_fill(fill)
            before = after
            if not new:
                break
        return positions, orders, before

    async def reconcile(self, reason: str, *, may_trade: bool, flattening: bool) -> None:
        with tracing.span(SpanNames.SYNC, attrs={"trading.reason": reason}) as span:
            positions, orders, executions = await self.snapshot()
            self.refs.observe(o.order_ref for o in orders)
            self.refs.observe(f.order_ref for f in executions)
            own_orders = [o for o in orders if self._ours(o) and o.status.is_working]
            self.orders.clear()
            self.orders.update({o.order_id: o for o in own_orders})
            in_flight = self.entries.settle_missed({o.order_ref for o in own_orders}, executions)
            now = self.broker.now()
            own = {symbol: book.qty for symbol, book in self.books.items() if book.qty}
            plan = plan_reconcile(
                self.bot, self.watchlist, positions, own_orders, own, self.others(),
                need_backstop=self.exits.backstop_at is not None and now < self.exits.backstop_at,
                entries_in_flight=in_flight,
            )
            tracing.set_attrs(span, attrs={"trading.positions": len(positions),
                                           "trading.orders": len(own_orders),
                                           "trading.executions": len(executions)})
            for warning in plan.warnings:
                log.warning("reconcile: %s", warning)
                if warning not in self.run_log.warnings:
                    self.run_log.warnings.append(warning)
            self._apply_holdings(plan.holdings, plan.covers, in_flight)
            for order in plan.stale_orders:
                log.info("reconcile: cancelling exit %s: nothing to protect", order.order_ref)
                self.jobs.run(f"stale:{order.order_id}",
                              lambda o=order: self.broker.cancel(o.order_id))
            if not may_trade or flattening:
                return
            for repair in plan.repairs:
                log.warning("reconcile: %s: %s", repair.holding.symbol, repair.protection.reason)
                self.jobs.run(f"protect:{repair.holding.symbol}",
                              lambda s=repair.holding.symbol: self.exits.repair(s))
            for symbol in plan.covers:
                book = self.books[symbol]
                self.jobs.run(f"cover:{symbol}", lambda b=book: self.exits.cover(b))

    def _ours(self, order: OrderTicket) -> bool:
        ref = OrderRef.parse(order.order_ref)
        return ref is not None and ref.bot == self.bot

    def _apply_holdings(self, holdings: dict[str, Holding], covers: dict[str, int],
                        in_flight: set[str]) -> None:
        daystr = self.refs.daystr
        for symbol, holding in holdings.items():
            book = self.lots.book(symbol)
            if holding.adopted_qty:
                note = f"{symbol}: adopted {holding.adopted_qty} shares found at the broker"
                log.warning("reconcile: %s", note)
                self.run_log.warnings.append(note)
            # our own recorded cost when we have one: the broker's average mixes in shares
            # another book owns
            cost = book.avg_cost if book.qty > 0 and not holding.adopted_qty else holding.avg_cost
            self.lots.set_from_broker(symbol, holding.qty, cost)
            if self.fills.ledger.open_trip(symbol) is None:
                self.fills.ledger.adopt(symbol, holding.qty, cost, self.broker.now(),
                                        OrderRef(self.bot, daystr, symbol, 0, "ENTRY"))
        for symbol, book in self.books.items():
            if symbol in holdings or symbol in covers or symbol in in_flight or book.qty == 0:
                continue
            log.warning("reconcile: %s no longer held at the broker", symbol)
            self.lots.set_from_broker(symbol, 0, 0.0)
