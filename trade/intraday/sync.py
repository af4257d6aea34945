"""Reconciling with the broker on start, after every reconnect, and a look at the positions every
few seconds.

The broker's executions come first: any the bot missed while away move its lots exactly once
(the lots are the bot's own executions, trade/intraday/ownership.py), and the commissions that
came meanwhile complete their rows. Then the open orders: the bot's own working orders replace
its view of them, an entry still working after a restart is taken up again (never followed by a
second one), and entries that ended while the bot was away are settled from the executions. Then
each symbol's position is judged against the bot's lot: foreign shares are reported and left
alone, a reduction the bot did not make shrinks its lot once it is confirmed. Finally the pure
plan (reconcile.py) says what to repair, cover or cancel; those run as supervised jobs of the
exit keeper.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from functools import partial

from observability import tracing
from observability.schema import IntentRow, IntentState
from observability.tracing import SpanNames
from trade.intraday.context import TraderContext
from trade.intraday.entries import EntryDesk
from trade.intraday.exits import ExitKeeper
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.lots import Lots
from trade.intraday.reconcile import plan_reconcile
from trade.models import Fill, OrderRef, OrderTicket, Position
from trade.refusal import Refused

log = logging.getLogger(__name__)
LOOK_MARGIN_S = 0.05  # a look scheduled for a shortfall's decision comes just after it is due
FOLLOW_UP_LOOKS = 6  # looks one periodic check may add while a shortfall waits for its decision

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
        self.ownership = ctx.ownership
        self.lots = lots
        self.fills = fills
        self.exits = exits
        self.entries = entries
        self.other_books = tuple(other_books)
        self.on_fill = on_fill
        self.foreign: dict[str, int] = {}  # symbol -> shares seen and left alone (last look)
        self.qualified: set[str] = set(ctx.books)  # the watchlist: qualified by the analyst

    def others(self) -> dict[str, int] | None:
        """Shares other books (the weekly bot) record, per symbol; None when the DB cannot be
        read (then every share beyond the bot's lots counts as foreign)."""
        db = self.records.db
        owned: dict[str, int] = {}
        for name in self.other_books:
            rows = self.records.read(f"book_positions({name})",
                                     partial(db.book_positions, name), None)
            if rows is None:
                return None
            for position in rows:
                owned[position.symbol] = owned.get(position.symbol, 0) + position.qty
        return owned

    async def snapshot(self) -> tuple[list[Position], list[OrderTicket], list[Fill]]:
        """Positions and open orders, with every execution the broker reports applied first
        (and again after, in case one came between the reads)."""
        before = await self.broker.executions()
        self._apply(before)
        for _ in range(SNAPSHOT_ATTEMPTS):
            positions = await self.broker.positions()
            orders = await self.broker.open_orders()
            after = await self.broker.executions()
            known = {f.exec_id for f in before}
            new = [f for f in after if f.exec_id not in known]
            self._apply(after)
            before = after
            if not new:
                break
        return positions, orders, before

    def _apply(self, executions: list[Fill]) -> None:
        for fill in executions:
            self.on_fill(fill)
        self.fills.note_reported(executions)

    async def reconcile(self, reason: str, *, may_trade: bool, flattening: bool) -> None:
        with tracing.span(SpanNames.SYNC, attrs={"trading.reason": reason}) as span:
            positions, orders, executions = await self.snapshot()
            self.refs.observe(o.order_ref for o in orders)
            self.refs.observe(f.order_ref for f in executions)
            own_orders = [o for o in orders if self._ours(o) and o.status.is_working]
            self.orders.clear()
            self.orders.update({o.order_id: o for o in own_orders})
            self.entries.resume_working(own_orders)
            in_flight = self.entries.settle_missed({o.order_ref for o in own_orders}, executions)
            traded = {f.symbol for f in executions if self._ours_ref(f.order_ref)}
            self.judge(positions, settled=set(self.books) - traded)
            now = self.broker.now()
            lots = {symbol: book.qty for symbol, book in self.books.items() if book.qty}
            plan = plan_reconcile(
                self.bot, positions, own_orders, lots,
                need_backstop={s: self.exits.need_backstop(s, now) for s in lots},
                entries_in_flight=in_flight,
            )
            tracing.set_attrs(span, attrs={"trading.positions": len(positions),
                                           "trading.orders": len(own_orders),
                                           "trading.executions": len(executions)})
            for warning in plan.warnings:
                self._warn(warning)
            self._start_trips(plan.held)
            for order in plan.stale_orders:
                log.info("reconcile: cancelling exit %s: nothing to protect", order.order_ref)
                self.jobs.run(f"stale:{order.order_id}",
                              partial(self.broker.cancel, order.order_id))
            await self._qualify(set(plan.held) | set(plan.covers))
            if not may_trade or flattening:
                return
            for repair in plan.repairs:
                log.warning("reconcile: %s: %s", repair.symbol, repair.protection.reason)
                self.jobs.run(f"protect:{repair.symbol}",
                              partial(self.exits.repair, repair.symbol), critical=True)
            for symbol in plan.covers:
                book = self.books[symbol]
                self.jobs.run(f"cover:{symbol}", partial(self.exits.cover, book),
                              critical=True)

    async def refuse_other_client_orders(self) -> None:
        """IB shows a client only the orders it placed itself: exits a run of today left under
        another client id would be invisible to this one, which would then add a second group
        beside them (and miss today's executions, resetting the loss cap). Such a start is
        refused, naming the id to use."""
        mine = {o.order_ref for o in await self.broker.open_orders()}
        every = await self.broker.all_open_orders()
        ours = [o for o in every if self._todays(o.order_ref)]
        log.info("start: %d working order(s) of the bot at the broker, %d of them under this "
                 "client id (%d working in the account)", len(ours), len(mine), len(every))
        for order in ours:
            if order.order_ref in mine:
                continue
            who = f"client id {order.client_id}" if order.client_id else "another client id"
            raise Refused(f"the bot's order {order.order_ref} is working under {who}: this run "
                          "cannot see or manage it; restart with "
                          f"--client-id {order.client_id or '<the id of the earlier run>'}")

    def refuse_unseen_executions(self, at_broker: Iterable[Fill],
                                 finished: Iterable[OrderTicket]) -> None:
        """IB reports an execution only to the client that placed its order. When IB's completed
        orders (read before the executions) say today's orders of the bot executed more than
        the executions reported to this run, an earlier run used another client id: what its
        orders did while the bot was down (an entry that filled, a stop that sold the lot) is
        invisible here. This run would read those shares as the owner's, or the sale as a
        person's, and lose their records for good (seeds 336, 449). Refused, like working
        orders under another id, until the bot runs under the earlier id again. (The DB's own
        rows are no evidence: a simulator started afresh knows none of an earlier one's.)"""
        executed: dict[str, int] = {}
        for fill in at_broker:
            executed[fill.order_ref] = executed.get(fill.order_ref, 0) + fill.qty
        unseen = [o.order_ref for o in finished if self._todays(o.order_ref)
                  and o.filled > executed.get(o.order_ref, 0)]
        if unseen:
            raise Refused(f"today's order {unseen[0]} executed, but IB reports its executions "
                          "not to this client id: an earlier run used another client id, and "
                          "this one cannot see what its orders did; restart with the client id "
                          "of today's earlier runs")

    def _todays(self, order_ref: str) -> bool:
        """An order of this bot sent today (its ref says so)."""
        ref = OrderRef.parse(order_ref)
        return ref is not None and ref.bot == self.bot and ref.day == self.refs.daystr

    async def adopt(self, requests: dict[str, int | None]) -> None:
        """`--adopt SYMBOL[:QTY]`: a person gives the bot shares it cannot prove are its own (all
        of the symbol's foreign shares, or QTY of them), to protect and flatten as its own."""
        positions, _, _ = await self.snapshot()
        broker = {p.symbol: p for p in positions}
        others = self.others()
        if others is None:
            self._warn("--adopt: the other books cannot be read from the DB: nothing adopted "
                       "(their shares must never be taken)")
            return
        for symbol, wanted in sorted(requests.items()):
            held = broker.get(symbol)
            lot = self.books[symbol].qty if symbol in self.books else 0
            foreign = (held.qty if held else 0) - max(lot, 0) - max(others.get(symbol, 0), 0)
            qty = foreign if wanted is None else min(wanted, foreign)
            if qty <= 0:
                self._warn(f"--adopt {symbol}: nothing to adopt (the broker holds "
                           f"{held.qty if held else 0}, the bot owns {max(lot, 0)}, other books "
                           f"{others.get(symbol, 0)})")
                continue
            price = held.avg_cost if held is not None and held.avg_cost > 0 else (
                self.broker.last_price(symbol) or 0.0)
            self.lots.adopt(symbol, qty, price)
            self._warn(f"{symbol}: {qty} shares adopted by --adopt: the bot protects and "
                       "flattens them as its own")

    async def check_positions(self) -> None:
        """The periodic look (every few seconds, and at once when IB pushes a position): a
        reduction the bot did not make (a person selling in TWS) is noticed intraday, and the
        look that decides it comes as soon as it can (`confirm_s` after the first, and once no
        buy of the bot's can be in flight), so the exits shrink before a stop oversells."""
        self.judge(await self.broker.positions())
        for _ in range(FOLLOW_UP_LOOKS):  # a position that moved between two looks (its lag
            # ended) needs its own second look: at the next round that came 2 s late (seed 376)
            due = [w for s in self.books if (w := self.ownership.next_look_in(s)) is not None]
            if not due:  # the next look when a shortfall can be decided, not at the next round
                return
            await asyncio.sleep(min(due) + LOOK_MARGIN_S)
            self.judge(await self.broker.positions())

    def judge(self, positions: list[Position], settled: set[str] | None = None) -> None:
        """Each symbol's position against the bot's lot: foreign shares reported, a confirmed
        reduction the bot did not make applied to its lot (and its exits repaired). `settled`:
        symbols the broker reports no execution of the bot's in today (one look decides)."""
        broker = {p.symbol: p.qty for p in positions}
        others = self.others()
        foreign: dict[str, int] = {}
        for symbol in sorted(set(broker) | {s for s, b in self.books.items() if b.qty}):
            book = self.books.get(symbol)
            lot = book.qty if book is not None else 0
            buying = book is not None and book.entry is not None
            look = self.ownership.look(symbol, broker.get(symbol, 0), lot, others,
                                       settled=settled is not None and symbol in settled,
                                       buying=buying)
            if look.foreign and not buying:  # its entry's shares may show before its execution
                foreign[symbol] = look.foreign
                if self.ownership.quiet(symbol):  # a lagging position is no foreign share
                    line = self.ownership.tell_foreign(symbol, look.foreign)
                    if line is not None:
                        log.warning("%s", line)
            if look.reduced_to is not None:
                self._warn(f"{symbol}: the broker holds {broker.get(symbol, 0)} shares, less than "
                           f"the bot's {lot} beyond the {self.ownership.baseline.get(symbol, 0)} "
                           f"that are not its own: a sale the bot did not make (a person in TWS?); "
                           f"its lot is now {look.reduced_to} and its exits are resized",
                           critical=True)
                self.lots.reduce_external(symbol, look.reduced_to)
                self.fills.ledger.write_off(symbol, lot - look.reduced_to)
                if look.reduced_to == 0:
                    self._close_intents(symbol)
                self.jobs.run(f"protect:{symbol}", partial(self.exits.repair, symbol),
                              critical=True)
        self.foreign = foreign
        self.run_log.extra["foreign_shares"] = dict(foreign)

    async def _qualify(self, symbols: set[str]) -> None:
        """Contracts for the lots off today's watchlist (a leftover of an earlier day): without
        them no exit can be placed, nor the leftover flattened."""
        missing = sorted(symbols - self.qualified)
        if not missing:
            return
        known = await self.broker.qualify(missing)
        for symbol, ok in known.items():
            if ok:
                self.qualified.add(symbol)
                log.warning("%s: the bot holds %d shares off today's watchlist: protected and "
                            "flattened, never traded", symbol, self.books[symbol].qty)
            else:
                self._warn(f"{symbol}: the bot's leftover cannot be protected: the broker does "
                           "not know the symbol", critical=True)

    def _close_intents(self, symbol: str) -> None:
        """The bot holds nothing of `symbol` any more: its open intents are done."""
        db = self.records.db
        intents: list[IntentRow] = self.records.read(
            "open_intents", lambda: db.open_intents(self.ctx.book_name), [])
        for intent in intents:
            if intent.symbol == symbol and not any(o.order_ref == intent.order_ref
                                                   for o in self.orders.values()):
                self.refs.set_state(intent.order_ref, IntentState.CLOSED)

    def _start_trips(self, held: dict[str, int]) -> None:
        """A lot the ledger has no trip for (a leftover, an adoption): its trip starts now."""
        daystr = self.refs.daystr
        for symbol, qty in held.items():
            if self.fills.ledger.open_trip(symbol) is None:
                self.fills.ledger.adopt(symbol, qty, self.books[symbol].avg_cost,
                                        self.broker.now(),
                                        OrderRef(self.bot, daystr, symbol, 0, "ENTRY"))

    def _warn(self, text: str, critical: bool = False) -> None:
        (log.error if critical else log.warning)("reconcile: %s", text)
        if text not in self.run_log.warnings:
            self.run_log.warnings.append(text)

    def _ours(self, order: OrderTicket) -> bool:
        return self._ours_ref(order.order_ref)

    def _ours_ref(self, order_ref: str) -> bool:
        ref = OrderRef.parse(order_ref)
        return ref is not None and ref.bot == self.bot
