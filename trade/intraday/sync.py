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
from dataclasses import replace

from observability import tracing
from observability.tracing import SpanNames
from trade.broker import Broker
from trade.intraday.exits import ExitKeeper
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.reconcile import Holding, plan_reconcile
from trade.intraday.records import SafeRecords
from trade.intraday.refs import RefBook
from trade.intraday.run_log import RunLog
from trade.intraday.supervisor import Supervisor
from trade.intraday.symbol_book import SymbolBook
from trade.models import Fill, OrderRef, OrderStatus, OrderTicket, Position

log = logging.getLogger(__name__)

SNAPSHOT_ATTEMPTS = 3


class BrokerSync:
    def __init__(
        self, broker: Broker, bot: str, book_name: str, other_books: Iterable[str],
        books: dict[str, SymbolBook], orders: dict[int, OrderTicket], fills: FillRecorder,
        refs: RefBook, records: SafeRecords, exits: ExitKeeper, jobs: Supervisor,
        run_log: RunLog, on_fill: Callable[[Fill], None],
    ) -> None:
        self.broker = broker
        self.bot = bot
        self.book_name = book_name
        self.other_books = tuple(other_books)
        self.books = books
        self.orders = orders
        self.fills = fills
        self.refs = refs
        self.records = records
        self.exits = exits
        self.jobs = jobs
        self.run_log = run_log
        self.on_fill = on_fill
        self.watchlist = set(books)

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
            in_flight = self._settle_missed_entries(own_orders, executions)
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

    def _settle_missed_entries(self, own_orders: list[OrderTicket],
                               executions: list[Fill]) -> set[str]:
        """Symbols whose entry is still working; entries that ended unseen are settled."""
        working = {o.order_ref for o in own_orders}
        in_flight: set[str] = set()
        for book in self.books.values():
            ref = book.pending_entry
            if ref is None:
                continue
            if ref in working:
                in_flight.add(book.symbol)
                continue
            fills = [f for f in executions if f.order_ref == ref]
            qty = sum(f.qty for f in fills)
            price = sum(f.qty * f.price for f in fills) / qty if qty else 0.0
            log.info("reconcile: entry %s ended while away (%d filled)", ref, qty)
            book.pending_entry = None
            if book.entry_legs is not None:
                entry = replace(book.entry_legs.entry, filled=qty, avg_fill_price=price,
                                status=OrderStatus.FILLED if qty else OrderStatus.CANCELLED)
                self.exits.entry_done(book, entry)
        return in_flight

    def _apply_holdings(self, holdings: dict[str, Holding], covers: dict[str, int],
                        in_flight: set[str]) -> None:
        daystr = self.refs.daystr
        for symbol, holding in holdings.items():
            book = self.books.get(symbol) or self.books.setdefault(
                symbol, SymbolBook.outside_watchlist(symbol))
            if holding.adopted_qty:
                note = f"{symbol}: adopted {holding.adopted_qty} shares found at the broker"
                log.warning("reconcile: %s", note)
                self.run_log.warnings.append(note)
            # our own recorded cost when we have one: the broker's average mixes in shares
            # another book owns
            cost = book.avg_cost if book.qty > 0 and not holding.adopted_qty else holding.avg_cost
            self._set(book, holding.qty, cost)
            if self.fills.ledger.open_trip(symbol) is None:
                self.fills.ledger.adopt(symbol, holding.qty, cost, self.broker.now(),
                                        OrderRef(self.bot, daystr, symbol, 0, "ENTRY"))
        for symbol, book in self.books.items():
            if symbol in holdings or symbol in covers or symbol in in_flight or book.qty == 0:
                continue
            log.warning("reconcile: %s no longer held at the broker", symbol)
            self._set(book, 0, 0.0)

    def _set(self, book: SymbolBook, qty: int, cost: float) -> None:
        book.qty, book.avg_cost = qty, cost
        db, when, symbol = self.records.db, self.broker.now(), book.symbol
        self.records.write("set_book_position",
                           lambda: db.set_book_position(self.book_name, symbol, qty, cost, when))
