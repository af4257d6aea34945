"""What "this position is protected" means, as one pure rule used by reconcile and the guard.

A held position is protected when the bot's working exit orders for the symbol form exactly ONE
OCA group whose every leg sells exactly the held quantity: one take-profit limit, one stop, and
(while the backstop time is ahead) the broker-held market sell that activates at the flatten
backstop time. An OCA group executes one leg only, so such a group can never sell more than is
held. Anything else — no stop, two groups, a leg for the wrong quantity, exits for a symbol the
bot does not hold — is wrong, and the fix is the same: cancel every exit of the symbol, wait
until the broker confirms, then place one fresh group. Never add a group beside another: two
resting groups for the same shares is how a bot goes short (a second take-profit filling after
the first). The one exception is a complete group that sells more than is held (a sale the bot
did not make took the difference): its legs are shrunk in place (`shrink`), with no moment
without exits and no cancel-and-replace round trips while they oversell (seed 265 took 1.2 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trade.models import OrderRef, OrderTicket, OrderType, Side

EXIT_LEGS = ("TP", "SL", "BKS")  # take-profit, stop, broker-held backstop flatten


@dataclass(frozen=True, slots=True)
class Protection:
    ok: bool
    reason: str
    cancel: tuple[OrderTicket, ...] = ()  # the exits to cancel before placing a fresh group
    shrink: bool = False  # one complete group, every leg at or above what is held: resize it


def exit_orders(bot: str, symbol: str, orders: Sequence[OrderTicket]) -> list[OrderTicket]:
    """The bot's working exit legs (TP/SL/BKS) for `symbol`."""
    found = []
    for order in orders:
        ref = OrderRef.parse(order.order_ref)
        if (ref is not None and ref.bot == bot and ref.leg in EXIT_LEGS and order.symbol == symbol
                and order.side is Side.SELL and order.status.is_working):
            found.append(order)
    return found


def assess(held_qty: int, exits: Sequence[OrderTicket], *, need_backstop: bool) -> Protection:
    """Is a position of `held_qty` shares protected by exactly these working `exits`?"""
    exits = tuple(exits)
    if held_qty <= 0:
        if exits:
            return Protection(False, f"{len(exits)} exit order(s) with no position", exits)
        return Protection(True, "nothing held")
    if not exits:
        return Protection(False, f"{held_qty} shares with no exit at the broker")
    groups = {o.oca_group for o in exits}
    if len(groups) != 1 or "" in groups:
        return Protection(False, f"exits in {len(groups)} OCA groups (one expected)", exits)
    kinds = sorted(o.order_type.value for o in exits)
    expected = [OrderType.LIMIT.value, OrderType.STOP.value]
    if need_backstop:
        expected.append(OrderType.MARKET.value)
    if kinds != sorted(expected):
        return Protection(False, f"exit legs {kinds}, expected {sorted(expected)}", exits)
    wrong = [o for o in exits if o.remaining != held_qty]
    if wrong:
        sizes = ", ".join(f"{o.order_type.value} {o.remaining}" for o in wrong)
        # a quantity is only ever lowered in place: a leg below what is held is replaced
        shrink = all(o.remaining >= held_qty for o in exits)
        return Protection(False, f"exit legs for the wrong quantity ({sizes}; {held_qty} held)",
                          exits, shrink=shrink)
    return Protection(True, f"{held_qty} shares covered by one OCA group")
