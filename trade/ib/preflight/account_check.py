"""The account before and after the preflight: positions and every client's working orders.

"Left as it found it" is judged from IB's answers, not from what the preflight believes it did:
positions (reqPositions) and the open orders of every API client (reqAllOpenOrders) are read
before the first order and again at the end, and compared. Positions lag executions at IB (ib_async
issue 15: "ib.positions() may have a delay in updating"), so the last look is repeated for a
few seconds until it matches. A difference the preflight did not cause (another client traded
meanwhile) is reported as such: what the preflight itself left is judged from its own orders and
executions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from trade.ib.broker import IBBroker
from trade.ib.preflight.desk import PreflightDesk
from trade.models import OrderTicket

Identity = tuple[int, int, str, str, str, int]


@dataclass(frozen=True, slots=True)
class AccountView:
    positions: dict[str, int]
    orders: list[OrderTicket]

    def identities(self) -> set[Identity]:
        return {identity(o) for o in self.orders}


def identity(order: OrderTicket) -> Identity:
    return (order.client_id, order.order_id, order.order_ref, order.symbol, order.side.value,
            order.qty)


def describe(order: OrderTicket) -> dict[str, Any]:
    return {"client_id": order.client_id, "order_id": order.order_id, "ref": order.order_ref,
            "symbol": order.symbol, "side": order.side.value, "qty": order.qty,
            "type": order.order_type.value, "status": order.status.value}


async def look(broker: IBBroker) -> AccountView:
    positions, orders = await asyncio.gather(broker.positions(), broker.all_open_orders())
    return AccountView({p.symbol: p.qty for p in positions if p.qty},
                       sorted(orders, key=lambda o: (o.client_id, o.order_id)))


async def check(broker: IBBroker, desk: PreflightDesk, before: AccountView,
                lag_s: float, poll_s: float) -> tuple[dict[str, Any], bool]:
    """(the comparison for the record, whether the preflight left nothing of its own)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + lag_s
    while True:
        after = await look(broker)
        same = after.positions == before.positions and after.identities() == before.identities()
        if same or loop.time() >= deadline:
            break
        await asyncio.sleep(poll_s)
    own_working = [describe(o) for o in after.orders
                   if o.order_id in desk.placed and o.client_id in (0, broker.client_id)]
    net = desk.net_shares()
    left_nothing = not own_working and net == 0
    gone = [describe(o) for o in before.orders if identity(o) not in after.identities()]
    new = [describe(o) for o in after.orders if identity(o) not in before.identities()]
    moved = {s: [before.positions.get(s, 0), after.positions.get(s, 0)]
             for s in sorted(set(before.positions) | set(after.positions))
             if before.positions.get(s, 0) != after.positions.get(s, 0)}
    if same:
        note = "positions and every client's working orders are as they were before the preflight"
    elif left_nothing:
        note = ("the account changed during the preflight, not by it (its orders are gone and its "
                "executions net to zero): another client traded")
    else:
        note = "the preflight left something behind: see preflight_orders_working and preflight_net_shares"
    return {
        "left_as_found": same, "note": note,
        "positions_before": before.positions, "positions_after": after.positions,
        "positions_changed": moved,
        "orders_before": [describe(o) for o in before.orders],
        "orders_after": [describe(o) for o in after.orders],
        "orders_gone": gone, "orders_new": new,
        "preflight_orders_working": own_working, "preflight_net_shares": net,
        "preflight_orders_placed": len(desk.placed),
    }, left_nothing
