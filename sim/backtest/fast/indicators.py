"""`trade.indicators.IndicatorState` compiled: the same incremental VWAP(N) / RSI / ATR, bit for bit.

One symbol's state is a float vector (layout below) plus two ring buffers of the rolling VWAP;
`update` is `IndicatorState.update_values` statement by statement (same operands, same order, the
ring re-summed with an exact `fsum` each time it wraps), so the values the fast engine's rules
compare are the very floats the live trader compares. The session VWAP is not kept: no rule
reads it. tests/sim/backtest/test_fast_indicators.py checks equality over real sessions.
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit

EPS = sys.float_info.epsilon  # pandas-ta's non_zero_range replacement for a flat bar

# state vector layout
BARS, CLOSE, VWAP, RSI, ATR, RING_POS, SUM_TPV, SUM_VOL, PREV_CLOSE, UP_AVG, DOWN_AVG, ATR_AVG = range(12)
STATE_SIZE = 12


@njit(cache=True)
def fsum(values: np.ndarray) -> float:
    """`math.fsum`: the correctly rounded sum (Shewchuk's partials, half-even across them)."""
    partials = np.empty(values.size + 64)
    n = 0
    for i in range(values.size):
        x = values[i]
        j = 0
        for k in range(n):
            y = partials[k]
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo != 0.0:
                partials[j] = lo
                j += 1
            x = hi
        n = j
        if x != 0.0:
            partials[n] = x
            n += 1
    hi = 0.0
    lo = 0.0
    if n > 0:
        n -= 1
        hi = partials[n]
        while n > 0:
            x = hi
            n -= 1
            y = partials[n]
            hi = x + y
            lo = y - (hi - x)
            if lo != 0.0:
                break
        if n > 0 and ((lo < 0.0 and partials[n - 1] < 0.0) or (lo > 0.0 and partials[n - 1] > 0.0)):
            y = lo * 2.0
            x = hi + y
            if y == x - hi:
                hi = x
    return hi


@njit(cache=True)
def new_state(vwap_period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state, tpv ring, volume ring) of a fresh `IndicatorState`."""
    state = np.zeros(STATE_SIZE)
    state[CLOSE] = np.nan
    state[VWAP] = np.nan
    state[RSI] = np.nan
    state[ATR] = np.nan
    state[PREV_CLOSE] = np.nan
    return state, np.zeros(vwap_period), np.zeros(vwap_period)


@njit(cache=True)
def update(state: np.ndarray, tpv_ring: np.ndarray, vol_ring: np.ndarray, vwap_period: int,
           rsi_period: int, atr_period: int, high: float, low: float, close: float,
           volume: float) -> None:
    """Fold one completed bar in (`IndicatorState.update_values`)."""
    n = int(state[BARS])
    tp = (high + low + close) / 3.0
    tpv = tp * volume

    pos = int(state[RING_POS])
    state[SUM_TPV] += tpv - tpv_ring[pos]
    state[SUM_VOL] += volume - vol_ring[pos]
    tpv_ring[pos] = tpv
    vol_ring[pos] = volume
    pos += 1
    if pos == vwap_period:
        pos = 0
        state[SUM_TPV] = fsum(tpv_ring[:vwap_period])
        state[SUM_VOL] = fsum(vol_ring[:vwap_period])
    state[RING_POS] = pos
    if n + 1 >= vwap_period:
        sum_vol = state[SUM_VOL]
        state[VWAP] = state[SUM_TPV] / sum_vol if sum_vol > 0.0 else np.nan

    prev = state[PREV_CLOSE]
    state[PREV_CLOSE] = close
    state[CLOSE] = close
    state[BARS] = n + 1
    if n == 0:
        return
    diff = close - prev
    up = diff if diff > 0.0 else 0.0
    down = diff if diff < 0.0 else 0.0
    hl = high - low
    if hl == 0.0:
        hl = EPS
    a = high - prev
    if a < 0.0:
        a = -a
    b = prev - low
    if b < 0.0:
        b = -b
    tr = hl if hl >= a and hl >= b else (a if a >= b else b)

    alpha = 1.0 / rsi_period
    keep = 1.0 - alpha
    denom = keep + alpha
    if n < rsi_period:
        state[UP_AVG] += up
        state[DOWN_AVG] += down
    else:
        if n == rsi_period:
            up_avg = (state[UP_AVG] + up) / rsi_period
            down_avg = (state[DOWN_AVG] + down) / rsi_period
        else:
            up_avg = state[UP_AVG]
            down_avg = state[DOWN_AVG]
            if up_avg != up:
                up_avg = (keep * up_avg + alpha * up) / denom
            if down_avg != down:
                down_avg = (keep * down_avg + alpha * down) / denom
        state[UP_AVG] = up_avg
        state[DOWN_AVG] = down_avg
        total = up_avg - down_avg
        state[RSI] = 100.0 * up_avg / total if total != 0.0 else np.nan

    alpha = 1.0 / atr_period
    keep = 1.0 - alpha
    denom = keep + alpha
    if n < atr_period:
        state[ATR_AVG] += tr
    else:
        if n == atr_period:
            atr_avg = (state[ATR_AVG] + tr) / atr_period
        else:
            atr_avg = state[ATR_AVG]
            if atr_avg != tr:
                atr_avg = (keep * atr_avg + alpha * tr) / denom
        state[ATR_AVG] = atr_avg
        state[ATR] = atr_avg


@njit(cache=True)
def warm_up(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
            vwap_period: int, rsi_period: int, atr_period: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The state after folding in every warm-up bar, in order (`BarFeed.warm_up`)."""
    state, tpv_ring, vol_ring = new_state(vwap_period)
    for i in range(close.size):
        update(state, tpv_ring, vol_ring, vwap_period, rsi_period, atr_period, high[i], low[i],
               close[i], volume[i])
    return state, tpv_ring, vol_ring


@njit(cache=True)
def session_values(state: np.ndarray, tpv_ring: np.ndarray, vol_ring: np.ndarray,
                   vwap_period: int, rsi_period: int, atr_period: int, has_bar: np.ndarray,
                   high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
                   ) -> np.ndarray:
    """[vwap, rsi, atr] after each of the session's bars (NaN where there is no bar), from
    the warmed state (updated in place): what the rules read at each decision. They depend
    on the periods only, so a sweep over the other parameters computes them once."""
    out = np.full((3, has_bar.size), np.nan)
    for m in range(has_bar.size):
        if has_bar[m]:
            update(state, tpv_ring, vol_ring, vwap_period, rsi_period, atr_period, high[m],
                   low[m], close[m], volume[m])
            out[0, m] = state[VWAP]
            out[1, m] = state[RSI]
            out[2, m] = state[ATR]
    return out
