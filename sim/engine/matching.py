"""Pure matching rules: does an order trade in one piece of the price path, and at what price.

A `Segment` is (start, end, first price, low, high) of the path inside one bar (see
`MarketReplay.segments`). Kept free of engine state so each rule reads as a specification.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.engine.orders import SimOrder

Segment = tuple[float, float, float, float, float]

# Within one segment, market orders first, then stops, then limits: the stop wins a tie with
# the target of the same OCA group (the pessimistic reading of an unknown intra-bar order).
MATCH_PRIORITY = {"MKT": 0, "STP": 1, "STP LMT": 1, "LMT": 2}


@dataclass(frozen=True, slots=True)
class Outcome:
    """`fill` at `price` at epoch `at` (removing liquidity or not), or just `triggered`."""

    price: float = 0.0
    at: float = 0.0
    removes_liquidity: bool = False
    fill: bool = True
    triggered: bool = False


def slipped(price: float, buy: bool, slippage_bps: float) -> float:
    move = price * slippage_bps / 10_000.0
    return round(price + move if buy else price - move, 4)


def match(order: SimOrder, segment: Segment, slippage_bps: float) -> Outcome | None:
    """The outcome of `order` over `segment`, or None when nothing happens.

    MKT: the segment's first price, slipped. STP: touched when the path reaches the stop; fills
    at the stop, or at the first price when that is already beyond it (a gap), slipped. STP LMT:
    triggered like a stop, then fills only within its limit (else it rests: `triggered` only).
    LMT: fills when the path touches the limit, at the limit or the better first price.
    """
    start, end, first, low, high = segment
    buy = order.is_buy
    kind = order.order_type
    if kind == "MKT":
        return Outcome(slipped(first, buy, slippage_bps), start, True)
    if kind in ("STP", "STP LMT") and not order.triggered:
        stop = float(order.aux_price or 0.0)
        if buy and high >= stop:
            trigger = max(first, stop)
        elif not buy and low <= stop:
            trigger = min(first, stop)
        else:
            return None
        at = start if trigger == first else end
        if kind == "STP":
            return Outcome(slipped(trigger, buy, slippage_bps), at, True)
        limit = float(order.lmt_price or 0.0)
        if (buy and trigger <= limit) or (not buy and trigger >= limit):
            return Outcome(trigger, at, True, triggered=True)
        return Outcome(at=at, fill=False, triggered=True)
    limit = float(order.lmt_price or 0.0)
    if buy and low <= limit:
        price = min(first, limit)
    elif not buy and high >= limit:
        price = max(first, limit)
    else:
        return None
    return Outcome(price, start if price == first else end, price == first)
