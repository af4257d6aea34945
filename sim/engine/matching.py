"""Pure matching rules: does an order trade in one piece of the price path, and at what price.

A `Segment` is (start, end, first price, low, high) of the path inside one bar (see
`MarketReplay.segments`). Kept free of engine state so each rule reads as a specification.
Every fill price is on the tick grid (`sim.engine.ticks`): a market or stop fill that lands
between two grid prices is rounded against the client, a limit fill never beyond its limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.engine.orders import SimOrder
from sim.market.ticks import to_tick, worse_for

Segment = tuple[float, float, float, float, float]

# Within one segment, market orders first, then stops, then limits: the stop wins a tie with
# the target of the same OCA group (the pessimistic reading of an unknown intra-bar order).
MATCH_PRIORITY = {"MKT": 0, "STP": 1, "STP LMT": 1, "TRAIL": 1, "LMT": 2, "MOC": 3, "LOC": 3}


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """`fill` at `price` at epoch `at` (removing liquidity or not), or just `triggered`."""

    price: float = 0.0
    at: float = 0.0
    removes_liquidity: bool = False
    fill: bool = True
    triggered: bool = False


def slipped(price: float, buy: bool, slippage_bps: float) -> float:
    """`price` moved `slippage_bps` against the client, on the grid (rounded against it too)."""
    move = price * slippage_bps / 10_000.0
    return worse_for(price + move if buy else price - move, buy)


def match(order: SimOrder, segment: Segment, slippage_bps: float) -> MatchOutcome | None:
    """The outcome of `order` over `segment`, or None when nothing happens.

    MKT: the segment's first price, slipped. STP: touched when the path reaches the stop; fills
    at the stop, or at the first price when that is already beyond it (a gap), slipped. STP LMT:
    triggered like a stop, then fills only within its limit (else it rests: `triggered` only).
    LMT: fills when the path touches the limit, at the limit or the better first price.
    TRAIL needs the path's order inside the segment: see `match_trail`. MOC/LOC trade only in
    the closing auction (`auction_fill`).
    """
    start, end, first, low, high = segment
    buy = order.is_buy
    kind = order.order_type
    if kind == "MKT":
        return MatchOutcome(slipped(first, buy, slippage_bps), start, True)
    if kind in ("MOC", "LOC", "TRAIL"):
        return None
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
            return MatchOutcome(slipped(trigger, buy, slippage_bps), at, True)
        limit = float(order.lmt_price or 0.0)
        if (buy and trigger <= limit) or (not buy and trigger >= limit):
            return MatchOutcome(_within(worse_for(trigger, buy), limit, buy), at, True, triggered=True)
        return MatchOutcome(at=at, fill=False, triggered=True)
    limit = float(order.lmt_price or 0.0)
    if buy and low <= limit:
        price = min(first, limit)
    elif not buy and high >= limit:
        price = max(first, limit)
    else:
        return None
    return MatchOutcome(_within(worse_for(price, buy), limit, buy), start if price == first else end,
                        price == first)


def _within(price: float, limit: float, buy: bool) -> float:
    """Never beyond the limit (guards float noise when a price sits exactly on it)."""
    return min(price, limit) if buy else max(price, limit)


def trail_offset(order: SimOrder, extreme: float) -> float:
    if order.trail_percent:
        return extreme * float(order.trail_percent) / 100.0
    return float(order.aux_price or 0.0)


def match_trail(
    order: SimOrder, points: Sequence[tuple[float, float]], slippage_bps: float
) -> MatchOutcome | None:
    """Walk a TRAIL order along the path's vertices [(epoch, price), ...] in time order.

    A sell trail's stop follows the highest price seen minus the trailing amount (or percent)
    and never moves down; it triggers when the path falls to it and fills like a stop (at the
    stop, or at a worse gap price, slipped). A buy trail mirrors it below. Updates
    `order.trail_stop` as the path moves; returns the fill when it triggers.
    """
    buy = order.is_buy
    stop = order.trail_stop
    for i, (t, price) in enumerate(points):
        if stop is not None and ((not buy and price <= stop) or (buy and price >= stop)):
            t0, p0 = points[i - 1] if i else (t, price)
            if i == 0 or t == t0:
                trigger, at = price, t  # already beyond, or a gap jumped over the stop
            else:
                trigger = stop
                at = t0 + (t - t0) * ((stop - p0) / (price - p0) if price != p0 else 1.0)
            return MatchOutcome(slipped(trigger, buy, slippage_bps), at, True, triggered=True)
        candidate = to_tick(price + trail_offset(order, price) if buy else price - trail_offset(order, price))
        if stop is None or (buy and candidate < stop) or (not buy and candidate > stop):
            stop = candidate
        order.trail_stop = stop
    return None


def auction_fill(order: SimOrder, closing_price: float) -> float | None:
    """MOC fills at the closing price; LOC only when the close is at or better than its limit."""
    if order.order_type == "LOC":
        limit = float(order.lmt_price or 0.0)
        if (order.is_buy and closing_price > limit) or (not order.is_buy and closing_price < limit):
            return None
    return closing_price
