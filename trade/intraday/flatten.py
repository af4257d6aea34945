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
(its modification lost or refused) is cancelled and sold that way too. Only the bot's own lots are
sold (trade/intraday/ownership.py): foreign shares are never touched, even in the same symbol,
and a lot that is negative (the bot oversold) is bought back the same way. What is owned is read
afresh each time, executions first: an exit that filled during its cancel, its report still on
the way, is never sold a second time.

Nothing may stop this routine before it is flat: a dropped socket (`ConnectionError` from the
client library), a broker error, a timeout — each round that fails is logged and the next one
starts after a short backoff (the connection watchdog reconnects meanwhile), until the bot is flat
or the broker confirms the session has closed. A round that hangs on the broker (a reply that
never comes) is given up by its watchdog after `round_deadline` seconds and the next one starts:
the flatten reaches flat, or the close hands over to the broker-held backstop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from observability.schema import IntentState
from trade.broker import Broker, OrderRejected
from trade.intraday.refs import RefBook
from trade.models import OrderRef, OrderTicket, Side

log = logging.getLogger(__name__)

NextRef = Callable[[str, int], OrderRef]  # (symbol, signed qty) -> a fresh, recorded order ref
ROUND_DEADLINE_S = 30.0  # a round that outlives this (a reply lost for good) is given up


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the bot still owns (`remaining`: signed, per symbol; flat when empty) and what it
    may sell or buy back now (`tradable`: the remaining lots, never into foreign shares)."""

    remaining: dict[str, int]
    tradable: dict[str, int]


OwnedNow = Callable[[], Awaitable[Holdings]]  # read afresh: executions applied first


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
    owned_now: OwnedNow,
    next_ref: NextRef,
    *,
    settled: Callable[[], Awaitable[bool]] | None = None,
    release_backstop: bool = True,
    until: datetime | None = None,
    max_rounds: int | None = None,
    confirm_timeout: float = 5.0,
    poll: float = 0.05,
    backoff_max: float = 5.0,
    round_deadline: float = ROUND_DEADLINE_S,
) -> FlattenResult:
    """Cancel the bot's orders and close what it owns until it owns nothing, the broker's clock
    reaches `until` (the session close: market orders cannot fill after it), or `max_rounds`
    rounds have run (tests). `settled`: True once every exit the broker reported filled has had
    its execution applied (a sale never goes out on a lot that is about to shrink).
    `release_backstop=False`: never modify the held backstop, cancel and sell instead (for an
    account where the release was not confirmed to work)."""
    sent: list[str] = []
    released: set[int] = set()  # backstops released once: the next round cancels and sells
    selling: set[str] = set()  # this round's OCA groups whose released backstop sells the position
    remaining: dict[str, int] = {}
    known = False  # whether a holdings read has ever answered (unknown is not flat)

    def ours(order_ref: str) -> bool:
        ref = OrderRef.parse(order_ref)
        return ref is not None and ref.bot == bot

    async def own_working() -> list[OrderTicket]:
        return [o for o in await broker.open_orders() if ours(o.order_ref) and o.status.is_working]

    async def own_orders_gone() -> bool:
        return not any(o.oca_group not in selling for o in await own_working())

    async def flat() -> bool:
        return not (await owned_now()).remaining

    async def one_round(round_no: int) -> bool:
        nonlocal remaining
        nonlocal known
        orders, holdings = await asyncio.gather(own_working(), owned_now())
        known = True
        selling.clear()
        remaining = holdings.remaining
        for symbol, qty in sorted(holdings.tradable.items()):
            backstop = backstop_to_release(orders, symbol, qty) if release_backstop else None
            if backstop is None or backstop.order_id in released:
                continue
            released.add(backstop.order_id)
            try:
                await broker.modify_order(backstop.order_id, release_now=True)
            except OrderRejected as exc:
                # IB advises changing only price, size and TIF by a modification: where it
                # refuses the release, the backstop stays held and this round cancels and sells
                log.warning("flatten: %s: the backstop's release was refused (%s): cancelling "
                            "the exits and selling at market instead", symbol, exc)
                continue
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
            remaining = (await owned_now()).remaining
            return False
        if settled is not None and not await _wait(settled, confirm_timeout, poll):
            # an exit filled as it was cancelled and its execution is not in yet: selling its
            # shares again would go short; the next round looks again
            log.warning("flatten round %d: an exit reported filled before its execution came; "
                        "not selling yet", round_no)
            return False
        holdings = await owned_now()
        remaining = holdings.remaining
        if not remaining:
            return True
        sold_by_backstop = {o.symbol for o in orders if o.oca_group in selling}
        for symbol, qty in sorted(holdings.tradable.items()):
            if symbol in sold_by_backstop or qty == 0:
                continue
            ref = next_ref(symbol, qty)
            side = Side.SELL if qty > 0 else Side.BUY
            await broker.place_market(symbol, side, abs(qty), str(ref))
            sent.append(str(ref))
            log.info("flatten: market %s %d %s (%s)", side.value.lower(), abs(qty), symbol, ref)
        return await _wait(flat, confirm_timeout, poll)

    round_no = 0
    while max_rounds is None or round_no < max_rounds:
        round_no += 1
        if until is not None and broker.now() >= until and await broker.server_now() >= until:
            try:  # nothing held at all (a run started after the close) is flat, not an error
                remaining = (await owned_now()).remaining
                known = True
            except Exception as exc:  # unknown: what the last round saw stands
                log.info("flatten: holdings not read at the close (%s)", exc)
            if known and not remaining:
                return FlattenResult(True, broker.now(), round_no, sent)
            log.error("flatten: the session closed with %s still held",
                      remaining if known else "an unknown position (the broker did not answer)")
            break
        try:
            if await asyncio.wait_for(one_round(round_no), round_deadline):
                return FlattenResult(True, broker.now(), round_no, sent)
        except asyncio.CancelledError:
            raise
        except TimeoutError:  # the watchdog: a round stuck on the broker never stops the flatten
            log.error("flatten round %d did not finish within %.0f s; starting the next",
                      round_no, round_deadline)
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


def flatten_refs(refs: RefBook) -> NextRef:
    """A fresh, recorded ref per closing order: FLAT for a sale, COVER for a buy-back."""
    def next_ref(symbol: str, qty: int) -> OrderRef:
        if qty > 0:
            return refs.next_ref(symbol, "FLAT", "SELL", qty, 0.0, None, None, IntentState.WORKING)
        return refs.next_ref(symbol, "COVER", "BUY", -qty, 0.0, None, None, IntentState.WORKING)
    return next_ref
