"""Every order the engine accepted, and the indexes the matching loop and the bracket rules need.

Kept apart from the rules so each lookup the rules make (a parent's children, an order's OCA
group, the orders live for a symbol, the next held order whose time has come) is one O(1) or
O(log n) call, and `advance()` stays proportional to the working orders, not to the day's history.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime

from sim.engine.orders import SimOrder


@dataclass(frozen=True, order=True, slots=True)
class Alarm:
    """A time at which a held order changes state: "release" (goodAfterTime) or "expire" (GTD)."""

    at: float
    seq: int
    kind: str
    order_id: int


class OrderBook:
    """Orders by id; live orders by symbol; parent -> children; (account, OCA group) -> members."""

    def __init__(self) -> None:
        self.orders: dict[int, SimOrder] = {}
        # a superset of the working orders, in `orders` order: finished orders are dropped the
        # next time `working()` meets them (an order never works again once finished), so the
        # scan stays proportional to the orders still open, not to the day's history
        self._maybe_working: dict[int, SimOrder] = {}
        self.active: dict[int, SimOrder] = {}
        self.active_by_symbol: dict[str, dict[int, SimOrder]] = {}
        self._children: dict[int, list[int]] = {}
        self._oca: dict[tuple[str, str], list[int]] = {}
        self._alarms: list[Alarm] = []
        self._seq = itertools.count()

    def add(self, order: SimOrder) -> None:
        self.orders[order.order_id] = order
        self._maybe_working[order.order_id] = order
        if order.parent_id:
            self._children.setdefault(order.parent_id, []).append(order.order_id)
        if order.oca_group:
            self._oca.setdefault((order.account, order.oca_group), []).append(order.order_id)

    def get(self, order_id: int) -> SimOrder | None:
        return self.orders.get(order_id)

    def children(self, parent_id: int) -> list[SimOrder]:
        return [self.orders[i] for i in sorted(self._children.get(parent_id, ()))]

    def oca_siblings(self, order: SimOrder) -> list[SimOrder]:
        """The other working members of `order`'s OCA group (same account).

        Children of one parent without an explicit group are an implicit OCA group, as at IB:
        whichever exit fills first takes the position, so the other must go.
        """
        if order.oca_group:
            ids = self._oca.get((order.account, order.oca_group), [])
            members = [self.orders[i] for i in sorted(ids)]
        elif order.parent_id:
            members = [c for c in self.children(order.parent_id) if not c.oca_group]
        else:
            return []
        return [o for o in members if o is not order and o.is_working]

    def working(self) -> list[SimOrder]:
        """Every working order, in the order the book received them."""
        out = []
        finished = []
        for order_id, order in self._maybe_working.items():
            if order.is_working:
                out.append(order)
            else:
                finished.append(order_id)
        for order_id in finished:
            del self._maybe_working[order_id]
        return out

    # -- live orders --------------------------------------------------------------------------
    def activate(self, order: SimOrder) -> None:
        self.active[order.order_id] = order
        self.active_by_symbol.setdefault(order.symbol, {})[order.order_id] = order

    def deactivate(self, order: SimOrder) -> None:
        self.active.pop(order.order_id, None)
        live = self.active_by_symbol.get(order.symbol)
        if live is not None:
            live.pop(order.order_id, None)
            if not live:
                del self.active_by_symbol[order.symbol]

    def is_active(self, order: SimOrder) -> bool:
        return order.order_id in self.active

    # -- alarms (goodAfterTime releases, goodTillDate expiries) ------------------------------
    def set_alarm(self, at: datetime, kind: str, order_id: int) -> None:
        heapq.heappush(self._alarms, Alarm(at.timestamp(), next(self._seq), kind, order_id))

    def next_alarm(self) -> float | None:
        return self._alarms[0].at if self._alarms else None

    def pop_due(self, ts: float) -> list[Alarm]:
        """Alarms due at or before epoch `ts`, in time order."""
        due = []
        while self._alarms and self._alarms[0].at <= ts:
            due.append(heapq.heappop(self._alarms))
        return due
