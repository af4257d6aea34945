"""The end-of-day flatten with its double safety net, kept going through any failure.

A position whose exits are whole (one OCA group, every leg for the position's quantity, the
broker-held backstop among them) is sold by releasing that backstop: one modification clears its
goodAfterTime, the market sell it holds goes at once, and its OCA group cancels the take-profit
and stop at the broker. Nothing is cancelled first, so there is no moment without protection: a
Gateway that drops right then leaves the backstop to sell at flatten + 2 min (the chaos campaign's
seed 20 caught the old order of cancel-then-sell: the socket dropped between the two and the
position met the close with no exit at all).

Everything else — entries, exits that are not whole, positions without a backstop (after its
time, or adopted) — goes the old way: the bot cancels its own working orders, waits until the
broker confirms they are gone (so a take-profit that fills during the cancel cannot turn the
market sell into a short), sells what it still owns at market, then re-queries the broker and
repeats until the broker reports it flat. A released backstop that has not sold by the next round
(its modification lost or refused) is cancelled and sold that way too. Only the bot's own book is
sold: quantity another book owns is never touched, even in the same symbol. A book that is
negative (the bot oversold) is bought back the same way.

Nothing may stop this routine before it is flat: a dropped socket (`ConnectionError` from the
client library), a broker error, a timeout — each round that fails is logged and the next one
starts after a short backoff (the connection watchdog reconnects meanwhile), until the bot is flat
or the broker confirms the session has closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from observability.schema import IntentState
from trade.broker import Broker
from trade.intraday.refs import RefBook
from trade.intraday.symbol_book import SymbolBook
from trade.models import OrderRef, OrderTicket, Side

log = logging.getLogger(__name__)

OwnedQty = Callable[[Mapping[str, int]], dict[str, int]]  # broker positions -> ours (+long/-short)
NextRef = Callable[[str, int], OrderRef]  # (symbol, signed qty) -> a fresh, recorded order ref


@dataclass(slots=True)
class FlattenResult:
    flat: bool
    flat_at: datetime | None
    rounds: int
    orders: list[str] = field(default_factory=list)  # refs of the market orders sent
    remaining: dict[str, int] = field(default_factory=dict)


async def _wait(predicate: Callable[[], Awaitable[bool]], timeout: float, poll: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await predicate():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(poll)


async def flatten(
    broker: Broker,
    bot: str,
    owned_qty: OwnedQty,
    next_ref: NextRef,
    *,
    until: datetime | None = None,
    max_rounds: int | None = None,
    confirm_timeout: float = 5.0,
    poll: float = 0.05,
    backoff_max: float = 5.0,
) -> FlattenResult:
    """Cancel the bot's orders and close what it owns until the broker reports it flat, the
    broker's clock reaches `until` (the session close: market orders cannot fill after it), or
    `max_rounds` rounds have run (tests)."""
    sent: list[str] = []
    released: set[int] = set()  # backstops released once: the next round cancels and sells
    selling: set[str] = set()  # this round's OCA groups whose released backstop sells the position

    def ours(order_ref: str) -> bool:
        ref = OrderRef.parse(order_ref)
        return ref is not None and ref.bot == bot

    async def own_working() -> list[OrderTicket]:
        return [o for o in await broker.open_orders() if ours(o.order_ref) and o.status.is_working]

    async def own_orders_gone() -> bool:
        return not any(o.oca_group not in selling for o in await own_working())

    async def owned_now() -> dict[str, int]:
        held = {p.symbol: p.qty for p in await broker.positions()}
        return {s: q for s, q in owned_qty(held).items() if q != 0}

    async def flat() -> bool:
        return not await owned_now()

    remaining: dict[str, int] = {}
    round_no = 0
    while max_rounds is None or round_no < max_rounds:
        round_no += 1
        if until is not None and broker.now() >= until and await broker.server_now() >= until:
            log.error("flatten: the session closed with %s still held", remaining or "positions")
            break
        try:
            orders = await own_working()
            selling.clear()
            for symbol, qty in sorted((await owned_now()).items()):
                backstop = backstop_to_release(orders, symbol, qty)
                if backstop is None or backstop.order_id in released:
                    continue
                await broker.modify_order(backstop.order_id, release_now=True)
                released.add(backstop.order_id)
                selling.add(backstop.oca_group)
                log.info("flatten: %s: the broker-held backstop sells %d now (%s)",
                         symbol, qty, backstop.order_ref)
            for order in orders:
                if order.oca_group not in selling:
                    await broker.cancel(order.order_id)
            if not await _wait(own_orders_gone, confirm_timeout, poll):
                # selling now could double-sell: an exit that fills later would leave us short
                log.warning("flatten round %d: own orders still working after cancel; not selling yet",
                            round_no)
                remaining = await owned_now()
                continue
            remaining = await owned_now()
            if not remaining:
                return FlattenResult(True, broker.now(), round_no, sent)
            sold_by_backstop = {o.symbol for o in orders if o.oca_group in selling}
            for symbol, qty in sorted(remaining.items()):
                if symbol in sold_by_backstop:
                    continue
                ref = next_ref(symbol, qty)
                side = Side.SELL if qty > 0 else Side.BUY
                await broker.place_market(symbol, side, abs(qty), str(ref))
                sent.append(str(ref))
                log.info("flatten: market %s %d %s (%s)", side.value.lower(), abs(qty), symbol, ref)
            if await _wait(flat, confirm_timeout, poll):
                return FlattenResult(True, broker.now(), round_no, sent)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a naked position: never give up on a failure
            log.error("flatten round %d failed (%s: %s); retrying", round_no, type(exc).__name__, exc)
            await asyncio.sleep(min(0.5 * round_no, backoff_max))
    return FlattenResult(False, None, round_no, sent, remaining)


def backstop_to_release(orders: list[OrderTicket], symbol: str, qty: int) -> OrderTicket | None:
    """The held backstop that can sell `symbol`'s `qty` shares by itself: the symbol's own
    working orders are exactly one OCA group of sells, each for `qty`, one of them the backstop.
    Anything else (no group, two groups, a leg of another size, an entry still working) is not
    released but cancelled and sold, as the protection rules would replace it anyway."""
    mine = [o for o in orders if o.symbol == symbol]
    if qty <= 0 or not mine or len({o.oca_group for o in mine}) != 1 or not mine[0].oca_group:
        return None
    if any(o.side is not Side.SELL or o.qty - o.filled != qty for o in mine):
        return None
    backstops = [o for o in mine if (ref := OrderRef.parse(o.order_ref)) is not None and ref.leg == "BKS"]
    return backstops[0] if len(backstops) == 1 else None


def owned_by_book(books: Mapping[str, SymbolBook], others: Callable[[], Mapping[str, int]]) -> OwnedQty:
    """What the bot may close of the broker's positions: never more than its own book, never
    another book's shares (a long is capped at broker qty minus other books; a short book is
    only covered while the broker really shows the short)."""
    def owned(held: Mapping[str, int]) -> dict[str, int]:
        other = others()
        result = {}
        for symbol, book in books.items():
            broker_qty = held.get(symbol, 0)
            if book.qty > 0:
                result[symbol] = max(0, min(book.qty, broker_qty - other.get(symbol, 0)))
            elif book.qty < 0 and broker_qty < 0:
                result[symbol] = -min(-book.qty, -broker_qty)
        return result
    return owned


def flatten_refs(refs: RefBook) -> NextRef:
    """A fresh, recorded ref per closing order: FLAT for a sale, COVER for a buy-back."""
    def next_ref(symbol: str, qty: int) -> OrderRef:
        if qty > 0:
            return refs.next_ref(symbol, "FLAT", "SELL", qty, 0.0, None, None, IntentState.WORKING)
        return refs.next_ref(symbol, "COVER", "BUY", -qty, 0.0, None, None, IntentState.WORKING)
    return next_ref
