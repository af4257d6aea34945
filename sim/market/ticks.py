"""The simulator's quotes on the US stock price grid (the grid itself lives in trade/ticks.py).

Bars, ticks and the replay's intra-bar path are snapped to the grid, and a fill between two grid
prices is rounded to the side that is worse for the client (a buy up, a sell down), never through
its limit: a limit price is itself on the grid, so rounding a better price towards the limit
stops at the limit at the latest.
"""

from __future__ import annotations

from trade.ticks import CENT, SUB_DOLLAR_TICK, on_tick, tick_size, to_tick, worse_for

__all__ = ["CENT", "SUB_DOLLAR_TICK", "on_tick", "quote", "tick_size", "to_tick", "worse_for"]


def quote(last: float, spread_bps: float = 1.0) -> tuple[float, float]:
    """The simulator's (bid, ask) around a last price: on the grid, about `spread_bps` apart and
    at least one tick; the last print is at the bid (or one tick inside for wider spreads)."""
    tick = tick_size(last)
    spread = max(1, round(last * spread_bps / 10_000 / tick))
    bid = to_tick(last - (spread // 2) * tick)
    return bid, to_tick(bid + spread * tick)
