"""Keeping every position's exits right at the broker: the day trader's guard.

Four jobs, each a supervised coroutine (retried until it completes, never left to die):
- **reprice** — a bracket's take-profit and stop were priced from the signal bar's close; once
  the entry fills they are moved to fill x (1 + target) and fill x (1 - stop) (tick-rounded) and,
  for an entry that ended partly filled, resized to the shares actually bought, so a slipped
  market entry keeps the specified reward and risk;
- **cancel legs** — the children of an entry that was rejected or cancelled before any fill are
  cancelled explicitly (the bot must be safe even at a broker that left them working);
- **repair** — a held position whose exits are not exactly one correct OCA group (see
  protection.py) gets all its exits cancelled, confirmed gone, and one fresh group placed for the
  quantity held *after* the cancels (fills during the cancel are counted): replaced, never added
  to;
- **cover** — a negative book (the bot sold more than it held) is bought back at once, after its
  remaining exits are cancelled.
The guard looks at the bot's own working orders every few hundred milliseconds and starts a job
for a symbol only after the problem has lasted `exit_grace_s` (an OCA sibling's status update
trails the fill that triggered it by a moment).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import datetime
from functools import partial

from observability import tracing
from observability.alerts import events as ev
from observability.schema import IntentState
from trade import strategy
from trade.broker import BrokerError, OrderRejected
from trade.intraday.context import TraderContext
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.protection import assess, exit_orders
from trade.intraday.symbol_book import SymbolBook
from trade.models import BracketTickets, OrderRef, OrderStatus, OrderTicket, Side

log = logging.getLogger(__name__)

CANCEL_CONFIRM_S = 5.0
FINISHED_CODES = (103, 104)  # IB's answer to a modification of an order that has just finished


class ExitKeeper:
    """The only writer of each symbol's exit watch (`SymbolBook.exits`)."""

    def __init__(self, ctx: TraderContext, fills: FillRecorder, backstop_at: datetime | None, *,
                 exit_grace_s: float, entry_grace_s: float,
                 unprotected_alert_s: float = 30.0) -> None:
        self.ctx = ctx
        self.fills = fills
        self.broker = ctx.broker
        self.bot = ctx.bot
        self.books = ctx.books
        self.orders = ctx.orders  # the trader's view of its own working orders, by id
        self.refs = ctx.refs
        self.jobs = ctx.jobs
        self.backstop_at = backstop_at
        self.exit_grace_s = exit_grace_s
        self.entry_grace_s = entry_grace_s
        self.unprotected_alert_s = unprotected_alert_s  # the repairs failing this long: a person
        self.backstop_refused: set[str] = set()  # symbols whose backstop leg the broker rejected
        self.repairs = 0
        self._covers: dict[str, int] = {}  # cover ref -> shares it asked for (sent this run)

    # -- the backstop ---------------------------------------------------------------------------
    def backstop_for(self, symbol: str, now: datetime) -> datetime | None:
        """The backstop time to attach to new exits of `symbol`, or None (none asked for, time
        already passed, or the broker refused it for this symbol)."""
        if self.backstop_at is None or now >= self.backstop_at or symbol in self.backstop_refused:
            return None
        return self.backstop_at

    def need_backstop(self, symbol: str, now: datetime) -> bool:
        return self.backstop_for(symbol, now) is not None

    def note_dead_leg(self, ticket: OrderTicket, ref: OrderRef) -> None:
        """A backstop leg the broker rejected (Inactive): protect this symbol without it."""
        if ref.leg == "BKS" and ticket.status is OrderStatus.INACTIVE and ticket.filled == 0:
            if ticket.symbol not in self.backstop_refused:
                log.warning("%s: the broker refused the backstop flatten order (%s); the bot's "
                            "own flatten remains", ticket.symbol, ticket.order_ref)
            self.backstop_refused.add(ticket.symbol)

    def leg_refused(self, symbol: str) -> None:
        """IB refused one of the symbol's exit legs: a definite answer, no sibling's fill to wait
        for, so the next guard look repairs at once (the grace stays for a cancel a fill may
        explain). Two faults back to back (exits cancelled, the replacement's stop refused)
        once took two graces and left the position short of its stop past 5 s (seed 215)."""
        book = self.books.get(symbol)
        if book is not None and book.entry is None:
            book.exits.unprotected_since = time.monotonic() - self.exit_grace_s

    # -- the guard (called from the trader's loop) ----------------------------------------------
    def guard(self, now: datetime) -> None:
        mono = time.monotonic()
        by_symbol: dict[str, list[OrderTicket]] = {}
        for order in self.orders.values():
            by_symbol.setdefault(order.symbol, []).append(order)
        for book in self.books.values():
            symbol, watch = book.symbol, book.exits
            if book.entry is not None:
                watch.unprotected_since = None
                if mono - book.entry.sent_at >= self.entry_grace_s:
                    self.jobs.run(f"stuck-entry:{symbol}", partial(self._settle_entry, book))
                continue
            if self.fills.unsettled(symbol):
                continue  # a status said filled before its execution came: the lot will move
            if book.qty < 0:
                self.jobs.run(f"cover:{symbol}", partial(self.cover, book), critical=True)
                continue
            exits = exit_orders(self.bot, symbol, by_symbol.get(symbol, ()))
            protection = assess(book.qty, exits, need_backstop=self.need_backstop(symbol, now))
            if protection.ok:
                watch.unprotected_since = watch.wrong_since = None
                watch.alerted = False
                continue
            self._alert_if_long(book, mono)
            if watch.unprotected_since is None:
                watch.unprotected_since = mono
            elif mono - watch.unprotected_since >= self.exit_grace_s:
                watch.unprotected_since = mono
                log.warning("%s: %s; repairing the exits", symbol, protection.reason)
                self.jobs.run(f"protect:{symbol}", partial(self.repair, symbol), critical=True)

    def _alert_if_long(self, book: SymbolBook, mono: float) -> None:
        """A position whose exits stay wrong for `unprotected_alert_s` (the repairs failing):
        the owner is told once per incident."""
        watch = book.exits
        if watch.wrong_since is None:
            watch.wrong_since = mono
        elif not watch.alerted and mono - watch.wrong_since >= self.unprotected_alert_s:
            watch.alerted = True
            self.ctx.alerts.notify(ev.unprotected_position(
                ev.DAY_TRADER, book.symbol, book.qty, self.unprotected_alert_s,
                at=self.broker.now()))

    # -- entry follow-up ------------------------------------------------------------------------
    def entry_done(self, book: SymbolBook, legs: BracketTickets, entry: OrderTicket) -> None:
        """The entry order finished (filled, or dead): reprice/resize its exits or cancel them."""
        if entry.filled <= 0:
            self.jobs.run(f"cancel-legs:{entry.order_ref}", lambda: self._cancel(legs.exits.legs))
            return
        take_profit, stop_loss = strategy.bracket_prices(entry.avg_fill_price, book.params)
        self.jobs.run(f"reprice:{entry.order_ref}",
                      lambda: self._reprice(book, legs, entry.filled, take_profit, stop_loss),
                      critical=True)

    async def _reprice(self, book: SymbolBook, legs: BracketTickets, filled: int,
                       take_profit: float, stop_loss: float) -> None:
        """Move the exits to the fill price and size them down to what is held now. A leg's
        quantity is never raised: each modification is sized when it is sent (a retried job
        must not restore a size that a partial take-profit has since reduced)."""
        with tracing.span("order.reprice_exits", symbol=legs.entry.symbol, qty=filled,
                          order_ref=legs.entry.order_ref):
            legs_and_prices: list[tuple[OrderTicket, float | None, float | None]] = [
                (legs.take_profit, take_profit, None), (legs.stop_loss, None, stop_loss)]
            if legs.backstop is not None:
                legs_and_prices.append((legs.backstop, None, None))
            for leg, limit, stop in legs_and_prices:
                current = self.orders.get(leg.order_id)
                if current is None or not current.status.is_working:
                    continue  # already filled or cancelled (an OCA sibling executed)
                limit = None if limit == current.limit_price else limit
                stop = None if stop == current.stop_price else stop
                held = filled if self.fills.unsettled(book.symbol) else min(filled, book.qty)
                size = held + current.filled if 0 < held + current.filled < current.qty else None
                if limit is not None or stop is not None or size is not None:
                    try:
                        await self.broker.modify_order(leg.order_id, qty=size, limit_price=limit,
                                                       stop_price=stop)
                    except OrderRejected as exc:
                        if exc.code not in FINISHED_CODES:
                            raise
                        # the leg executed as it was moved (IB 103/104): it is finished, not
                        # rejected; the guard and the fills take it from here
                        log.info("%s: %s", book.symbol, exc)
            log.info("%s: exits of %s at the fill: %d shares, target %.2f, stop %.2f",
                     legs.entry.symbol, legs.entry.order_ref, filled, take_profit, stop_loss)

    async def _settle_entry(self, book: SymbolBook) -> None:
        """An entry still working after `entry_grace_s`: cancel its remainder, so the shares held
        get their exits instead of waiting on a parent that may never fill."""
        if book.entry is None:
            return
        ref = book.entry.ref
        for order in list(self.orders.values()):
            if order.order_ref == ref and order.status.is_working:
                log.warning("%s: entry %s still working after %.0fs; cancelling its remainder",
                            book.symbol, ref, self.entry_grace_s)
                await self.broker.cancel(order.order_id)

    async def cancel_quietly(self, order_id: int) -> None:
        """Cancel an order that may already be dead (an Inactive leg): a refusal is expected."""
        try:
            await self.broker.cancel(order_id)
        except BrokerError as exc:
            log.info("cancel %s: %s", order_id, exc)

    async def _cancel(self, orders: Iterable[OrderTicket]) -> None:
        for order in orders:
            current = self.orders.get(order.order_id)
            if current is not None and current.status.is_working:
                try:
                    await self.broker.cancel(order.order_id)
                except BrokerError as exc:
                    log.info("cancel %s: %s", order.order_ref, exc)

    # -- repair and cover -------------------------------------------------------------------------
    async def repair(self, symbol: str) -> None:
        """Cancel every exit of `symbol`, confirm, then place one group for what is held — the
        lot after every execution the broker reports (one of the exits may have filled during
        the cancel, its report still on the way)."""
        book = self.books[symbol]
        if self.ctx.state.flattening:
            return
        await self.fills.catch_up()
        now = self.broker.now()
        open_orders = await self.broker.open_orders()
        exits = exit_orders(self.bot, symbol, open_orders)
        protection = assess(book.qty, exits, need_backstop=self.need_backstop(symbol, now))
        if protection.ok:
            self._remember(exits)
            return
        if protection.shrink and await self._shrink(book, exits):
            self.repairs += 1
            return
        with tracing.span("order.repair_exits", symbol=symbol, qty=book.qty,
                          attrs={"trading.reason": protection.reason}):
            await self._cancel_confirmed(protection.cancel)
            await self.fills.catch_up()
            if self.ctx.state.flattening or book.entry is not None:
                return
            if self.fills.unsettled(symbol):
                raise BrokerError(f"{symbol}: an exit reported filled before its execution came; "
                                  "placing exits once the lot is known")
            if book.qty < 0:
                await self.cover(book)
            elif book.qty > 0:
                await self._place_group(book, now)
        self.repairs += 1

    async def _shrink(self, book: SymbolBook, exits: list[OrderTicket]) -> bool:
        """Lower every leg of the symbol's one exit group to what the bot holds, in place (a
        modification of size only, which IB allows on a working order). False when it cannot
        be done that way (nothing of the bot's left, a leg refused or finished as it was
        modified): the caller cancels and replaces."""
        symbol = book.symbol
        held = {p.symbol: p.qty for p in await self.broker.positions()}.get(symbol, 0)
        qty = min(book.qty, self.ctx.ownership.exit_size(symbol, held, book.qty))
        if qty <= 0 or self.ctx.state.flattening or book.entry is not None:
            return False
        with tracing.span("order.shrink_exits", symbol=symbol, qty=qty,
                          attrs={"trading.reason": "exits above what is held"}):
            results = await asyncio.gather(
                *(self.broker.modify_order(leg.order_id, qty=qty + leg.filled)
                  for leg in exits if leg.remaining > qty),
                return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        for error in failed:
            if not isinstance(error, BrokerError):
                raise error
            log.info("%s: shrinking an exit leg: %s", symbol, error)
        if failed:
            return False
        book.exits.unprotected_since = None
        log.warning("%s: exits shrunk in place to %d shares (the bot holds %d; the broker %d)",
                    symbol, qty, book.qty, held)
        return True

    async def _cancel_confirmed(self, orders: Iterable[OrderTicket]) -> None:
        ids = {o.order_id for o in orders}
        if not ids:
            return
        for order_id in ids:
            try:
                await self.broker.cancel(order_id)
            except BrokerError as exc:  # already filled or cancelled: the check below decides
                log.info("cancel %s: %s", order_id, exc)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_CONFIRM_S
        while True:
            working = [o for o in await self.broker.open_orders()
                       if o.order_id in ids and o.status.is_working]
            if not working:
                for order_id in ids:
                    self.orders.pop(order_id, None)
                return
            if loop.time() >= deadline:
                raise BrokerError(f"{len(working)} exit order(s) still working after cancel")
            await asyncio.sleep(0.05)

    async def _place_group(self, book: SymbolBook, now: datetime) -> None:
        """One exit group for what the bot holds: its lot as far as the broker's position shows
        it (a sale the bot did not make is confirmed by the next looks; until then the exits
        cover what is still there, and the guard sizes them again once the lot follows)."""
        held = {p.symbol: p.qty for p in await self.broker.positions()}.get(book.symbol, 0)
        qty, cost = self.ctx.ownership.exit_size(book.symbol, held, book.qty), book.avg_cost
        if qty <= 0:
            raise BrokerError(f"{book.symbol}: the broker holds {held}, none of the bot's "
                              f"{book.qty} beyond the shares that are not its own: no exits "
                              "until the position is judged")
        if qty < book.qty:
            log.warning("%s: exits for %d of the bot's %d shares: the broker holds only %d "
                        "(a sale the bot did not make? the next look decides)", book.symbol,
                        qty, book.qty, held)
        if cost <= 0:
            cost = self.broker.last_price(book.symbol) or 0.0
        if cost <= 0:
            raise BrokerError(f"{book.symbol}: no price to set exits from yet")
        take_profit, stop_loss = strategy.bracket_prices(cost, book.params)
        ref = self.refs.next_ref(book.symbol, "PROT", "SELL", qty, cost, take_profit, stop_loss,
                                 IntentState.OPEN)
        backstop = self.backstop_for(book.symbol, now)
        with tracing.span("order.place_exits", symbol=book.symbol, side="SELL", qty=qty,
                          order_ref=str(ref)):
            tickets = await self.broker.place_exits(book.symbol, qty, take_profit, stop_loss,
                                                    str(ref), backstop_at=backstop)
        self._remember(tickets.legs)
        book.exits.unprotected_since = None
        log.warning("%s: placed exits for %d shares (target %.2f, stop %.2f%s)", book.symbol, qty,
                    take_profit, stop_loss,
                    f", backstop {backstop:%H:%M}" if backstop is not None else "")

    async def cover(self, book: SymbolBook) -> None:
        """Buy back what the bot oversold (its lot is negative), after cancelling its exits.
        Sized from the lot after every execution the broker reports, less what the covers this
        run already sent will still buy: a cover in flight is waited for, never doubled."""
        symbol = book.symbol
        await self.fills.catch_up()
        open_orders = await self.broker.open_orders()
        await self._cancel_confirmed(exit_orders(self.bot, symbol, open_orders))
        await self.fills.catch_up()
        in_flight = sum(max(0, qty - self.fills.executed(ref)) for ref, qty in self._covers.items()
                        if _for(ref, symbol) and not self.fills.is_final(ref))
        held = {p.symbol: p.qty for p in await self.broker.positions()}.get(symbol, 0)
        short = self.fills.lots.coverable(symbol, held) - in_flight
        if short > 0 and not self.fills.unsettled(symbol):
            ref = self.refs.next_ref(symbol, "COVER", "BUY", short, 0.0, None, None,
                                     IntentState.WORKING)
            log.critical("%s: covering %d shares the bot oversold (%s)", symbol, short, ref)
            self._covers[str(ref)] = short
            ticket = await self.broker.place_market(symbol, Side.BUY, short, str(ref))
            self._remember([ticket])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_CONFIRM_S
        while book.qty < 0 and (short > 0 or in_flight > 0) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if book.qty < 0 and not (short > 0 or in_flight > 0):
            raise BrokerError(f"{symbol}: the book is {book.qty}; the account's position does "
                              "not show that short yet (a recent execution): looking again")
        if book.qty < 0:
            raise BrokerError(f"{symbol}: the cover has not filled yet ({-book.qty} short)")

    def _remember(self, tickets: Iterable[OrderTicket]) -> None:
        for ticket in tickets:
            if ticket.status.is_working:
                self.orders[ticket.order_id] = ticket



def _for(order_ref: str, symbol: str) -> bool:
    ref = OrderRef.parse(order_ref)
    return ref is not None and ref.symbol == symbol
