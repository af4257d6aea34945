"""The price grid of US stocks: one home for the tick size and for putting a price on it.

SEC Rule 612 (and IB's market rule 26 for US stocks): quotes and orders at or above $1.00 move in
$0.01, below $1.00 in $0.0001; IB rejects an order priced off the grid (error 110). The bot's
exits, the weekly bot's limits, the paper broker and the Gateway simulator all put prices here.
(The backtester's compiled kernel keeps a numba copy of these few lines, sim/backtest/fast/
prices.py, checked equal by tests/sim/backtest/test_fast_prices.py.)
"""

from __future__ import annotations

import math

CENT = 0.01
SUB_DOLLAR_TICK = 0.0001
_EPS = 1e-7


def tick_size(price: float) -> float:
    """$0.01 at or above $1, $0.0001 below."""
    return CENT if price >= 1.0 else SUB_DOLLAR_TICK


def round_to_tick(price: float) -> float:
    """Nearest valid price for an order the bot sends; `round` works on the exact binary value,
    so 101.39999999999999 becomes 101.4 and never an off-tick 101.39999999999999."""
    return round(price, 2) if price >= 1.0 else round(price, 4)


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
