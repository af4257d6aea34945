"""Pre-trade buying-power check, as IB applies it before accepting an order (error 201).

Only the part of an order that opens or adds to exposure needs margin: an exit that reduces a
position (and every bracket child, which closes its parent's position) never does. Working
orders reserve buying power for their own opening part, so a bot cannot stack entries past it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sim.engine.orders import OrderReject, SimOrder


def reference_price(order: SimOrder, market: float | None) -> float:
    """The price margin is computed at: the limit/stop when given, else the market."""
    market = market or 0.0
    if order.order_type == "LMT" and order.lmt_price:
        return order.lmt_price if order.is_buy else max(order.lmt_price, market)
    if order.order_type in ("STP", "STP LMT") and order.aux_price:
        return order.aux_price
    return market


def opening_qty(order: SimOrder, position: float) -> float:
    """Shares of `order` that would open or add to exposure given the current `position`."""
    if order.parent_id:
        return 0.0
    qty = order.remaining if order.status else order.total_qty
    signed = qty if order.is_buy else -qty
    if position == 0 or (position > 0) == (signed > 0):
        return abs(signed)
    return max(0.0, abs(signed) - abs(position))


def check_buying_power(
    order: SimOrder,
    working: Iterable[SimOrder],
    buying_power: float,
    position_of: Callable[[str], float],
    market_of: Callable[[str], float | None],
) -> None:
    """Raise OrderReject(201) when `order`'s opening part exceeds the unreserved buying power."""
    needed = opening_qty(order, position_of(order.symbol)) * reference_price(
        order, market_of(order.symbol)
    )
    if needed <= 0:
        return
    reserved = sum(
        opening_qty(o, position_of(o.symbol)) * reference_price(o, market_of(o.symbol))
        for o in working
    )
    available = buying_power - reserved
    if needed > available:
        raise OrderReject(
            201,
            f"Order rejected - reason: insufficient buying power: {order.symbol} order needs "
            f"{needed:,.2f} USD but {max(0.0, available):,.2f} USD is available; reduce the quantity",
        )
