"""The end-of-day flatten with its double safety net.

At the flatten time the bot cancels its own working orders, waits until the broker confirms
they are gone (so a take-profit that fills during the cancel cannot turn the market sell into a
short), sells what it still owns at market, then re-queries the broker and repeats until the
broker reports it flat. Only the bot's own book is sold: quantity another book owns is never
touched, even in the same symbol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from trade.broker import Broker, BrokerError
from trade.models import OrderRef, Side

log = logging.getLogger(__name__)

OwnedQty = Callable[[Mapping[str, int]], dict[str, int]]  # broker positions -> what we own
NextRef = Callable[[str, int], OrderRef]  # (symbol, qty) -> a fresh, recorded order ref


@dataclass(slots=True)
class FlattenResult:
    flat: bool
    flat_at: datetime | None
    rounds: int
    orders: list[str] = field(default_factory=list)  # refs of the market sells sent
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
    rounds: int = 5,
    confirm_timeout: float = 5.0,
    poll: float = 0.05,
) -> FlattenResult:
    """Cancel the bot's orders and sell what it owns until the broker reports it flat."""
    sent: list[str] = []

    def ours(order_ref: str) -> bool:
        ref = OrderRef.parse(order_ref)
        return ref is not None and ref.bot == bot

    async def own_orders_gone() -> bool:
        return not any(ours(o.order_ref) and o.status.is_working for o in await broker.open_orders())

    async def owned_now() -> dict[str, int]:
        held = {p.symbol: p.qty for p in await broker.positions()}
        return {s: q for s, q in owned_qty(held).items() if q > 0}

    remaining: dict[str, int] = {}
    for round_no in range(1, rounds + 1):
        try:
            for order in await broker.open_orders():
                if ours(order.order_ref) and order.status.is_working:
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
            for symbol, qty in sorted(remaining.items()):
                ref = next_ref(symbol, qty)
                await broker.place_market(symbol, Side.SELL, qty, str(ref))
                sent.append(str(ref))
                log.info("flatten: market sell %d %s (%s)", qty, symbol, ref)

            async def flat() -> bool:
                return not await owned_now()

            if await _wait(flat, confirm_timeout, poll):
                return FlattenResult(True, broker.now(), round_no, sent)
        except BrokerError as exc:
            log.error("flatten round %d failed: %s; retrying", round_no, exc)
            await asyncio.sleep(min(1.0 * round_no, 5.0))
    return FlattenResult(False, None, rounds, sent, remaining)
