"""Reconciliation planning: the bot's own lots versus the exits it has working at the broker.

What the bot owns is decided elsewhere, from its own executions (trade/intraday/ownership.py):
this pure function never adopts shares because the broker holds them. Given the lots, the bot's
working orders and the broker's positions, it says per symbol what must happen:
- a held lot whose exits are exactly one correct OCA group (trade/intraday/protection.py) is
  managed as is; any other set of exits is cancelled and replaced, never added to;
- the bot's own exit orders for a symbol it does not hold (a rejected entry's children, exits
  left after a position closed while away) are cancelled;
- a negative lot (the bot sold more than it held) is covered at once;
- shares the broker holds beyond the bot's lots are foreign: reported, never touched;
- a short position at the broker that is not the bot's oversell is left alone, said once.
A symbol whose entry is still working at the broker is left to that entry's bracket.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from trade.intraday.protection import Protection, assess, exit_orders
from trade.models import OrderTicket, Position


@dataclass(frozen=True, slots=True)
class Repair:
    symbol: str
    qty: int
    protection: Protection


@dataclass(slots=True)
class ReconcilePlan:
    held: dict[str, int] = field(default_factory=dict)  # symbol -> the bot's lot (> 0)
    repairs: list[Repair] = field(default_factory=list)  # held, exits missing or wrong
    stale_orders: list[OrderTicket] = field(default_factory=list)  # exits with nothing to protect
    covers: dict[str, int] = field(default_factory=dict)  # symbol -> shares the bot oversold
    foreign: dict[str, int] = field(default_factory=dict)  # symbol -> shares not the bot's
    warnings: list[str] = field(default_factory=list)


def plan_reconcile(
    bot: str,
    positions: Iterable[Position],
    open_orders: Sequence[OrderTicket],
    lots: Mapping[str, int],
    *,
    need_backstop: Mapping[str, bool] | bool = False,
    entries_in_flight: Collection[str] = (),
) -> ReconcilePlan:
    """Protect, cover or clean up per symbol. `lots`: symbol -> shares the bot owns (negative:
    oversold); `entries_in_flight`: symbols whose entry order is still working at the broker."""
    plan = ReconcilePlan()
    broker = {p.symbol: p.qty for p in positions}
    for symbol, qty in broker.items():
        mine = lots.get(symbol, 0)
        if qty < 0 and mine >= 0:
            plan.warnings.append(f"{symbol}: short position {qty} at the broker is not this "
                                 "bot's: left alone")
        elif qty > max(mine, 0):
            plan.foreign[symbol] = qty - max(mine, 0)
    for symbol, mine in sorted(lots.items()):
        if mine < 0:
            plan.covers[symbol] = -mine
            plan.warnings.append(f"{symbol}: the bot oversold {-mine} shares: covering")
        elif mine > 0:
            plan.held[symbol] = mine
            if symbol in entries_in_flight:
                continue
            backstop = (need_backstop.get(symbol, False) if isinstance(need_backstop, Mapping)
                        else need_backstop)
            protection = assess(mine, exit_orders(bot, symbol, open_orders),
                                need_backstop=backstop)
            if not protection.ok:
                plan.repairs.append(Repair(symbol, mine, protection))
    for order in open_orders:
        if order.symbol in plan.held or order.symbol in entries_in_flight:
            continue
        if exit_orders(bot, order.symbol, [order]):
            plan.stale_orders.append(order)
    return plan
