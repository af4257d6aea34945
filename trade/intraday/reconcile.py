"""Reconciliation planning: what the broker holds versus what this bot believes it owns.

The broker is the source of truth for positions, orders and executions (DESIGN.md). On every start
and reconnect the trader asks the broker (positions taken *after* the executions are applied, and
re-taken when an execution arrived meanwhile, so a snapshot never predates a fill), then this
pure function decides, per symbol, what the bot owns and what must happen:
- a held position whose exits are exactly one correct OCA group (trade/intraday/protection.py)
  is managed as is; any other set of exits is cancelled and replaced, never added to;
- quantity another book owns is never touched; positions outside the watchlist are reported;
- the bot's own exit orders for a symbol it does not hold (a rejected entry's children, exits
  left after a position closed while away) are cancelled;
- a negative own book (the bot sold more than it held) is covered at once.
A symbol whose entry is still working at the broker is left to that entry's bracket.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from trade.intraday.protection import Protection, assess, exit_orders
from trade.models import OrderTicket, Position


@dataclass(frozen=True, slots=True)
class Holding:
    """Quantity of one symbol this bot owns at the broker."""

    symbol: str
    qty: int
    avg_cost: float
    adopted_qty: int  # part of qty that no book owned before this reconcile


@dataclass(frozen=True, slots=True)
class Repair:
    holding: Holding
    protection: Protection


@dataclass(slots=True)
class ReconcilePlan:
    holdings: dict[str, Holding] = field(default_factory=dict)
    repairs: list[Repair] = field(default_factory=list)  # held, exits missing or wrong
    stale_orders: list[OrderTicket] = field(default_factory=list)  # exits with nothing to protect
    covers: dict[str, int] = field(default_factory=dict)  # symbol -> shares the bot oversold
    warnings: list[str] = field(default_factory=list)


def plan_reconcile(
    bot: str,
    watchlist: Iterable[str],
    positions: Iterable[Position],
    open_orders: Sequence[OrderTicket],
    own_book: Mapping[str, int],
    other_books: Mapping[str, int],
    *,
    need_backstop: bool = False,
    entries_in_flight: Collection[str] = (),
) -> ReconcilePlan:
    """Decide ownership and repairs. `own_book`/`other_books`: symbol -> shares each book owns;
    `entries_in_flight`: symbols whose entry order is still working at the broker."""
    watch = set(watchlist)
    plan = ReconcilePlan()
    for pos in positions:
        others = max(other_books.get(pos.symbol, 0), 0)
        mine = own_book.get(pos.symbol, 0)
        if pos.qty < 0:
            if mine < 0:
                plan.covers[pos.symbol] = min(-pos.qty, -mine)
                plan.warnings.append(f"{pos.symbol}: the bot oversold {-mine} shares: covering")
            else:
                plan.warnings.append(
                    f"{pos.symbol}: short position {pos.qty} at the broker is not this bot's: "
                    "left alone"
                )
            continue
        unowned = pos.qty - others
        if unowned <= 0:
            continue  # all of it belongs to another book
        ours = bool(exit_orders(bot, pos.symbol, open_orders))
        if pos.symbol not in watch:
            if mine > 0 or ours:
                plan.warnings.append(f"{pos.symbol}: bot-owned position outside the watchlist is managed")
                if mine > 0:
                    unowned = min(unowned, mine)  # adoption is for watchlist symbols only
            else:
                plan.warnings.append(
                    f"{pos.symbol}: {unowned} shares outside the watchlist and no book: left alone"
                )
                continue
        owned_before = min(max(mine, 0), unowned)
        holding = Holding(pos.symbol, unowned, pos.avg_cost, unowned - owned_before)
        plan.holdings[pos.symbol] = holding
        if pos.symbol in entries_in_flight:
            continue
        protection = assess(holding.qty, exit_orders(bot, pos.symbol, open_orders),
                            need_backstop=need_backstop)
        if not protection.ok:
            plan.repairs.append(Repair(holding, protection))

    for order in open_orders:
        if order.symbol in plan.holdings or order.symbol in entries_in_flight:
            continue
        if exit_orders(bot, order.symbol, [order]):
            plan.stale_orders.append(order)
    return plan
