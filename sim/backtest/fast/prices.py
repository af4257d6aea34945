"""Compiled twins of the price arithmetic the event engine does in Python, bit for bit.

The fast engine is only trusted because its trades equal the event engine's to the cent, so
every price and fee it computes must be the very float Python computes:

- `py_round(x, nd)` is CPython's `round(x, nd)`: the exact binary value of `x` rounded half to
  even at `nd` decimals (numba's own `round` scales by 10**nd first and so rounds 2.675 up where
  Python gives 2.67). The product x * 10**nd is formed exactly as a double-double (Veltkamp
  split, no FMA), so the comparison with the half-way point is exact; the result is r / 10**nd,
  the double nearest the decimal r / 10**nd, which is what CPython returns.
- `to_tick`, `worse_for`, `slipped` are `sim.market.ticks` / `sim.engine.matching`;
  `round_to_tick` is `trade.ticks.round_to_tick`; `commission` is
  `sim.engine.commissions.IBTieredCommission.commission`; `whole_shares` is `trade.risk`'s
  sizing floor. Each keeps the Python expression's evaluation order (floating point is not
  associative). tests/sim/backtest/test_fast_prices.py compares them on millions of values.
"""

from __future__ import annotations

import math

from numba import njit

_SCALES = (1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0, 10000000.0, 100000000.0)
_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two 26-bit halves
_TICK_EPS = 1e-7  # sim.market.ticks._EPS

# IBTieredCommission's schedule (same literals, same arithmetic)
_PER_SHARE = 0.0035
_MINIMUM = 0.35
_MAX_PCT = 0.01
_EXCHANGE_REMOVE = 0.0030
_CLEARING = 0.00020
_FINRA_PASS_THROUGH = 0.000175
_SEC_FEE_RATE = 27.80 / 1_000_000
_FINRA_TAF = 0.000166
_FINRA_TAF_MAX = 8.30


@njit(cache=True, inline="always")
def _two_product(a: float, b: float) -> tuple[float, float]:
    """(p, e) with p = fl(a * b) and p + e == a * b exactly (no FMA needed)."""
    p = a * b
    c = _SPLITTER * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLITTER * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


@njit(cache=True)
def py_round(x: float, ndigits: int) -> float:
    """CPython's `round(x, ndigits)` for finite x and 0 <= ndigits <= 8."""
    if x != x or x == 0.0:
        return x
    negative = x < 0.0
    ax = -x if negative else x
    scale = _SCALES[ndigits]
    p, e = _two_product(ax, scale)
    k = math.floor(p)
    frac = p - k  # exact: p and k share their integer bits
    if frac > 0.5:
        r = k + 1.0
    elif frac < 0.5:
        r = k  # (frac == 0 with e < 0: the true value is just below k, still rounds to k)
    elif e > 0.0:
        r = k + 1.0
    elif e < 0.0:
        r = k
    else:  # an exact tie: to even
        r = k if k % 2.0 == 0.0 else k + 1.0
    result = r / scale
    return -result if negative else result


@njit(cache=True)
def to_tick(price: float, direction: int) -> float:
    """`trade.ticks.to_tick`: nearest (0), next grid price up (+1) or down (-1)."""
    if price >= 1.0:
        tick = 0.01
        decimals = 2
    else:
        tick = 0.0001
        decimals = 4
    steps = price / tick
    if direction > 0:
        k = math.ceil(steps - _TICK_EPS)
    elif direction < 0:
        k = math.floor(steps + _TICK_EPS)
    else:
        k = math.floor(steps + 0.5)
    return py_round(k * tick, decimals)


@njit(cache=True)
def worse_for(price: float, buy: bool) -> float:
    return to_tick(price, 1 if buy else -1)


@njit(cache=True)
def slipped(price: float, buy: bool, slippage_bps: float) -> float:
    """`sim.engine.matching.slipped`: moved against the client, on the grid."""
    move = price * slippage_bps / 10_000.0
    return worse_for(price + move if buy else price - move, buy)


@njit(cache=True)
def round_to_tick(price: float) -> float:
    """`trade.ticks.round_to_tick`."""
    return py_round(price, 2) if price >= 1.0 else py_round(price, 4)


@njit(cache=True)
def _max(a: float, b: float) -> float:
    return b if b > a else a  # Python's max(a, b): the first of equals


@njit(cache=True)
def _min(a: float, b: float) -> float:
    return b if b < a else a


@njit(cache=True)
def commission(shares: float, price: float, sell: bool, removes_liquidity: bool) -> float:
    """`IBTieredCommission.commission(shares, price, action, removes_liquidity)`."""
    qty = abs(shares)
    value = qty * price
    ib = _min(_max(qty * _PER_SHARE, _MINIMUM), _MAX_PCT * value)
    fees = qty * _CLEARING + ib * _FINRA_PASS_THROUGH
    if removes_liquidity:
        fees += qty * _EXCHANGE_REMOVE
    if sell:
        fees += value * _SEC_FEE_RATE
        fees += _min(qty * _FINRA_TAF, _FINRA_TAF_MAX)
    return py_round(ib + fees, 6)


@njit(cache=True)
def whole_shares(cash: float, price: float) -> int:
    """`trade.risk._whole_shares`: floor(cash / price), never negative."""
    if not cash > 0.0:
        return 0
    shares = math.floor(cash / price + 1e-9)
    return shares if shares > 0 else 0
