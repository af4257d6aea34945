"""The minimum price variation of US stocks: every price the simulator quotes or fills is on it.

SEC Rule 612 (and IB's market rule 26 for US stocks): quotes and orders at or above $1.00 move in
$0.01, below $1.00 in $0.0001. Bars, ticks and the replay's intra-bar path are snapped to this grid,
and a fill between two grid prices is rounded to the side that is worse for the client (a buy up,
a sell down), never through its limit: a limit price is itself on the grid, so rounding a better
price towards the limit stops at the limit at the latest.
"""

from __future__ import annotations

import math

CENT = 0.01
SUB_DOLLAR_TICK = 0.0001
_EPS = 1e-7


def tick_size(price: float) -> float:
    """$0.01 at or above $1, $0.0001 below."""
    return CENT if price >= 1.0 else SUB_DOLLAR_TICK


def _decimals(tick: float) -> int:
    return 2 if tick == CENT else 4


def to_tick(price: float, direction: int = 0) -> float:
    """`price` on the grid: nearest (0), next grid price up (+1) or down (-1)."""
    tick = tick_size(price)
    steps = price / tick
    if direction > 0:
        k = math.ceil(steps - _EPS)
    elif direction < 0:
        k = math.floor(steps + _EPS)
    else:
        k = math.floor(steps + 0.5)
    return round(k * tick, _decimals(tick))


def worse_for(price: float, buy: bool) -> float:
    """A fill price on the grid, rounded against the client: a buy pays up, a sell gets less."""
    return to_tick(price, 1 if buy else -1)


def on_tick(price: float) -> bool:
    """True when `price` is a grid price (within float noise)."""
    return abs(to_tick(price) - price) < 1e-9 * max(1.0, abs(price))


def quote(last: float, spread_bps: float = 1.0) -> tuple[float, float]:
    """The simulator's (bid, ask) around a last price: on the grid, about `spread_bps` apart and
    at least one tick; the last print is at the bid (or one tick inside for wider spreads)."""
    tick = tick_size(last)
    spread = max(1, round(last * spread_bps / 10_000 / tick))
    bid = to_tick(last - (spread // 2) * tick)
    return bid, to_tick(bid + spread * tick)
