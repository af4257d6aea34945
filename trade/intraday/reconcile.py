"""Reconciliation planning: what the broker holds versus what this bot believes it owns.

The broker is the source of truth for positions, orders and executions (DESIGN.md). On every start
and reconnect the trader asks the broker, then this pure function decides, per symbol, what the bot
owns and what must happen: a position whose exits are working is managed as is; one without exits
gets protective exits; quantity another book owns is never touched; positions outside the
watchlist are only reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from trade.models import OrderRef, OrderTicket, Position, Side


@dataclass(frozen=True, slots=True)
class Holding:
    """Quantity of one symbol this bot owns, and the exit orders already protecting it."""

    symbol: str
    qty: int
    avg_cost: float
    exit_orders: tuple[OrderTicket, ...]
    adopted_qty: int  # part of qty that no book owned before this reconcile

    @property
    def protected_qty(self) -> int:
        """Shares covered by working stop orders (the exit that limits the loss)."""
        return sum(o.remaining for o in self.exit_orders if o.stop_price is not None)


@dataclass(slots=True)
class ReconcilePlan:
    holdings: dict[str, Holding] = field(default_factory=dict)
    needs_exits: list[Holding] = field(default_factory=list)
    stale_orders: list[OrderTicket] = field(default_factory=list)  # ours, for symbols we no longer hold
    warnings: list[str] = field(default_factory=list)


def plan_reconcile(
    bot: str,
    watchlist: Iterable[str],
    positions: Iterable[Position],
    open_orders: Iterable[OrderTicket],
    own_book: Mapping[str, int],
    other_books: Mapping[str, int],
) -> ReconcilePlan:
    """Decide ownership and repairs. `own_book`/`other_books`: symbol -> shares each book owns."""
    watch = set(watchlist)
    plan = ReconcilePlan()
    ours_by_symbol: dict[str, list[OrderTicket]] = {}
    for order in open_orders:
        ref = OrderRef.parse(order.order_ref)
        if ref is not None and ref.bot == bot and order.status.is_working:
            ours_by_symbol.setdefault(order.symbol, []).append(order)

    for pos in positions:
        others = max(other_books.get(pos.symbol, 0), 0)
        if pos.qty < 0:
            plan.warnings.append(
                f"{pos.symbol}: short position {pos.qty} at the broker is not this bot's: left alone"
            )
            continue
        unowned = pos.qty - others
        if unowned <= 0:
            continue  # all of it belongs to another book
        if pos.symbol not in watch:
            mine = max(own_book.get(pos.symbol, 0), 0)
            if mine > 0 or pos.symbol in ours_by_symbol:
                plan.warnings.append(f"{pos.symbol}: bot-owned position outside the watchlist is managed")
                if mine > 0:
                    unowned = min(unowned, mine)  # adoption is for watchlist symbols only
            else:
                plan.warnings.append(
                    f"{pos.symbol}: {unowned} shares outside the watchlist and no book: left alone"
                )
                continue
        owned_before = min(max(own_book.get(pos.symbol, 0), 0), unowned)
        exits = tuple(o for o in ours_by_symbol.get(pos.symbol, []) if o.side is Side.SELL)
        holding = Holding(pos.symbol, unowned, pos.avg_cost, exits, unowned - owned_before)
        plan.holdings[pos.symbol] = holding
        if holding.protected_qty < holding.qty:
            plan.needs_exits.append(holding)

    for symbol, orders in ours_by_symbol.items():
        if symbol not in plan.holdings:
            # exits with nothing to protect (position closed while we were away), or an entry
            # still working: entries are kept, orphaned exits are cancelled
            plan.stale_orders.extend(o for o in orders if o.side is Side.SELL and o.parent_id == 0)
    return plan
