"""VWAP, RSI and ATR for the intraday strategy: an O(1) incremental form and a batch form.

The incremental form (`IndicatorState`, one per symbol) is what the per-bar path uses: one bar in,
a handful of float operations, no allocation. The batch form (`rsi`, `atr`, `session_vwap`,
`rolling_vwap`, `compute_indicators`) works on a whole day of bars in pandas/numpy; it is what
analysis, reports and the parity tests use.

Both forms reproduce pandas-ta-classic 0.8.32 (pure-pandas path, not TA-Lib) to 1e-9 relative,
NaN for NaN, because that library is the reference the strategy was specified and tuned against:

* Typical price is `(high + low + close) / 3.0` (pandas-ta's `hlc3`, used by its `vwap`).
* RSI(n): `diff = close - prev_close`; `up = max(diff, 0)`, `down = min(diff, 0)`; each is smoothed
  with Wilder's RMA; `RSI = 100 * up_avg / (up_avg + |down_avg|)`. There is no diff on the first
  bar, so the first usable value is diff #1.
* ATR(n): true range `max(high - low, |high - prev_close|, |prev_close - low|)`, blank (NaN) on the
  first bar because it needs a previous close; a flat bar's `high - low == 0` is replaced by
  float epsilon *pointwise* (pandas-ta's `non_zero_range`). Smoothed with RMA (ATR's default
  `mamode`).
* RMA seeding (pandas-ta's `rma`, "SMA-seeded Wilder smoothing, matches TA-Lib"): the first
  value is the simple mean of the first n valid inputs, placed at the n-th valid input; every
  earlier position is NaN. After that `avg = ((1 - a) * avg + a * x) / ((1 - a) + a)` with
  `a = 1 / n`, which is pandas' `ewm(alpha=a, adjust=False).mean()` recursion written exactly as
  pandas evaluates it (including skipping the update when `x == avg`). With n = 14 the first
  RSI and ATR values appear on the 15th bar (index 14); before that both are NaN.
* Session VWAP: cumulative `sum(tp * vol) / sum(vol)` since the session's first bar (pandas-ta
  `anchor="D"`: grouped by the bar's local calendar date). 0/0 gives NaN, so a session that
  opens with zero-volume bars has NaN VWAP until the first traded share.
* Rolling VWAP(N) (the strategy's VWAP(20)): the same ratio over the last N bars; NaN until N
  bars have been seen and whenever the whole window has zero volume (pandas' rolling sums give
  0/0 there, never a division error).

Sessions do not reset RSI/ATR/rolling VWAP: create a fresh `IndicatorState` per session for a
strictly intraday warm-up (what the parity tests compare), or keep one across days to carry the
warm-up over. The session VWAP resets by itself when the bar's local date changes.
"""

from __future__ import annotations

import math
import sys
from datetime import datetime

import numpy as np
import pandas as pd

from trade.models import Bar, Params

NAN = math.nan
_EPS = sys.float_info.epsilon  # pandas-ta's non_zero_range replacement for a flat bar


class IndicatorState:
    """Incremental VWAP(20) / session VWAP / RSI(14) / ATR(14) for one symbol.

    Every update is O(1): Wilder averages are one recursion step; the rolling VWAP keeps running
    sums over a ring buffer. Running sums drift (each add/subtract rounds), so they are re-summed
    from the ring buffer every time it wraps: O(N) every N bars, still O(1) per bar, and the
    error never accumulates beyond one window's worth of roundings (parity holds over any run).
    """

    __slots__ = (
        "vwap_period",
        "rsi_period",
        "atr_period",
        "bars",
        "close",
        "vwap",
        "session_vwap",
        "rsi",
        "atr",
        "_tpv_ring",
        "_vol_ring",
        "_ring_pos",
        "_sum_tpv",
        "_sum_vol",
        "_session_day",
        "_cum_tpv",
        "_cum_vol",
        "_prev_close",
        "_rsi_alpha",
        "_rsi_keep",
        "_rsi_denom",
        "_up_avg",
        "_down_avg",
        "_atr_alpha",
        "_atr_keep",
        "_atr_denom",
        "_atr_avg",
    )

    def __init__(self, vwap_period: int = 20, rsi_period: int = 14, atr_period: int = 14) -> None:
        if vwap_period < 1 or rsi_period < 1 or atr_period < 1:
            raise ValueError(
                f"indicator periods must be >= 1, got vwap={vwap_period} rsi={rsi_period} "
                f"atr={atr_period}: use whole numbers of bars"
            )
        self.vwap_period = vwap_period
        self.rsi_period = rsi_period
        self.atr_period = atr_period
        self._rsi_alpha = 1.0 / rsi_period
        self._rsi_keep = 1.0 - self._rsi_alpha
        self._rsi_denom = self._rsi_keep + self._rsi_alpha  # pandas divides by it; may be 1 - ulp
        self._atr_alpha = 1.0 / atr_period
        self._atr_keep = 1.0 - self._atr_alpha
        self._atr_denom = self._atr_keep + self._atr_alpha
        self._tpv_ring = [0.0] * vwap_period
        self._vol_ring = [0.0] * vwap_period
        self.reset()

    @classmethod
    def from_params(cls, params: Params) -> IndicatorState:
        """Sized from the strategy's parameters (vwap_period, rsi_period, atr_period)."""
        return cls(params.vwap_period, params.rsi_period, params.atr_period)

    def reset(self) -> None:
        """Forget everything (a new warm-up starts with the next bar)."""
        self.bars = 0
        self.close = NAN
        self.vwap = NAN
        self.session_vwap = NAN
        self.rsi = NAN
        self.atr = NAN
        for i in range(self.vwap_period):
            self._tpv_ring[i] = 0.0
            self._vol_ring[i] = 0.0
        self._ring_pos = 0
        self._sum_tpv = 0.0
        self._sum_vol = 0.0
        self._session_day = -1
        self._cum_tpv = 0.0
        self._cum_vol = 0.0
        self._prev_close = NAN
        self._up_avg = 0.0  # running sums during warm-up, Wilder averages after
        self._down_avg = 0.0
        self._atr_avg = 0.0

    @property
    def ready(self) -> bool:
        """True when VWAP(N), RSI and ATR all have a value (warm-up over, window has volume)."""
        return self.vwap == self.vwap and self.rsi == self.rsi and self.atr == self.atr

    def update(self, bar: Bar) -> None:
        """Fold one completed bar in. Bars must arrive in time order."""
        self.update_values(bar.high, bar.low, bar.close, bar.volume, bar.start.toordinal())

    def update_at(
        self, start: datetime, high: float, low: float, close: float, volume: float
    ) -> None:
        """`update` without building a `Bar` (replays that hold plain columns)."""
        self.update_values(high, low, close, volume, start.toordinal())

    def update_values(
        self, high: float, low: float, close: float, volume: float, session_day: int
    ) -> None:
        """The whole per-bar computation on plain floats; `session_day` is any per-date key
        (e.g. `date.toordinal()` of the bar's local start); the session VWAP resets when it
        changes."""
        n = self.bars
        tp = (high + low + close) / 3.0
        tpv = tp * volume

        # Session VWAP (anchored at the session's first bar).
        if session_day != self._session_day:
            self._session_day = session_day
            self._cum_tpv = tpv
            self._cum_vol = volume
        else:
            self._cum_tpv += tpv
            self._cum_vol += volume
        cum_vol = self._cum_vol
        self.session_vwap = self._cum_tpv / cum_vol if cum_vol != 0.0 else NAN

        # Rolling VWAP over the last N bars: ring buffer + running sums, re-summed on wrap.
        period = self.vwap_period
        pos = self._ring_pos
        tpv_ring = self._tpv_ring
        vol_ring = self._vol_ring
        self._sum_tpv += tpv - tpv_ring[pos]
        self._sum_vol += volume - vol_ring[pos]
        tpv_ring[pos] = tpv
        vol_ring[pos] = volume
        pos += 1
        if pos == period:
            pos = 0
            self._sum_tpv = math.fsum(tpv_ring)
            self._sum_vol = math.fsum(vol_ring)
        self._ring_pos = pos
        if n + 1 >= period:
            sum_vol = self._sum_vol
            self.vwap = self._sum_tpv / sum_vol if sum_vol > 0.0 else NAN

        # RSI and ATR (Wilder RMA, SMA-seeded).
        prev = self._prev_close
        self._prev_close = close
        self.close = close
        self.bars = n + 1
        if n == 0:
            return
        diff = close - prev
        up = diff if diff > 0.0 else 0.0
        down = diff if diff < 0.0 else 0.0  # kept negative, as pandas-ta does
        hl = high - low
        if hl == 0.0:
            hl = _EPS
        a = high - prev
        if a < 0.0:
            a = -a
        b = prev - low
        if b < 0.0:
            b = -b
        tr = hl if hl >= a and hl >= b else (a if a >= b else b)

        rsi_n = self.rsi_period
        if n < rsi_n:  # warm-up: the seed is the plain mean of the first n diffs
            self._up_avg += up
            self._down_avg += down
        else:
            if n == rsi_n:
                up_avg = (self._up_avg + up) / rsi_n
                down_avg = (self._down_avg + down) / rsi_n
            else:
                up_avg = self._up_avg
                down_avg = self._down_avg
                if up_avg != up:
                    up_avg = (self._rsi_keep * up_avg + self._rsi_alpha * up) / self._rsi_denom
                if down_avg != down:
                    down_avg = (
                        self._rsi_keep * down_avg + self._rsi_alpha * down
                    ) / self._rsi_denom
            self._up_avg = up_avg
            self._down_avg = down_avg
            total = up_avg - down_avg  # up_avg + |down_avg|
            self.rsi = 100.0 * up_avg / total if total != 0.0 else NAN

        atr_n = self.atr_period
        if n < atr_n:
            self._atr_avg += tr
        else:
            if n == atr_n:
                atr_avg = (self._atr_avg + tr) / atr_n
            else:
                atr_avg = self._atr_avg
                if atr_avg != tr:
                    atr_avg = (self._atr_keep * atr_avg + self._atr_alpha * tr) / self._atr_denom
            self._atr_avg = atr_avg
            self.atr = atr_avg


# ---------------------------------------------------------------------------------------------
# Batch form: a whole day (or any span) of bars at once.
# ---------------------------------------------------------------------------------------------


def _wilder(values: np.ndarray, length: int) -> np.ndarray:
    """RMA of `values` whose first element is NaN (no previous close): SMA-seeded at the
    length-th valid value, then pandas' `ewm(alpha=1/length, adjust=False)` recursion."""
    out = np.full(values.shape, np.nan)
    if values.size < length + 1:
        return out
    seeded = values.copy()
    seeded[:length] = np.nan
    seeded[length] = values[1 : length + 1].mean()
    out[:] = pd.Series(seeded).ewm(alpha=1.0 / length, adjust=False).mean().to_numpy()
    return out


def rsi(close: pd.Series, length: int = 14) -> pd.Series:
    """Wilder RSI, equal to pandas-ta-classic `ta.rsi(close, length, talib=False)`."""
    values = close.to_numpy(dtype=float)
    diff = np.empty_like(values)
    diff[:1] = np.nan
    diff[1:] = values[1:] - values[:-1]
    up = np.where(diff > 0.0, diff, 0.0)
    down = np.where(diff < 0.0, diff, 0.0)
    up[:1] = np.nan
    down[:1] = np.nan
    up_avg = _wilder(up, length)
    down_avg = _wilder(down, length)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = 100.0 * up_avg / (up_avg + np.abs(down_avg))
    return pd.Series(result, index=close.index, name=f"RSI_{length}")


def true_range(high: pd.Series, low: pd.Series, close: pd.Series) -> np.ndarray:
    """True range with pandas-ta's conventions: NaN on the first bar, flat bars count as eps."""
    h = high.to_numpy(dtype=float)
    lo = low.to_numpy(dtype=float)
    c = close.to_numpy(dtype=float)
    hl = h - lo
    hl = np.where(hl == 0.0, _EPS, hl)
    prev = np.empty_like(c)
    prev[:1] = np.nan
    prev[1:] = c[:-1]
    with np.errstate(invalid="ignore"):
        tr = np.maximum(np.maximum(hl, np.abs(h - prev)), np.abs(prev - lo))
    tr[:1] = np.nan
    return tr


def atr(high: pd.Series, low: pd.Series, close: pd.Series, length: int = 14) -> pd.Series:
    """Wilder ATR, equal to pandas-ta-classic `ta.atr(high, low, close, length, talib=False)`."""
    result = _wilder(true_range(high, low, close), length)
    return pd.Series(result, index=close.index, name=f"ATRr_{length}")


def _typical_price_volume(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    tp = (
        bars["high"].to_numpy(dtype=float)
        + bars["low"].to_numpy(dtype=float)
        + bars["close"].to_numpy(dtype=float)
    ) / 3.0
    vol = bars["volume"].to_numpy(dtype=float)
    return tp * vol, vol


def session_vwap(bars: pd.DataFrame) -> pd.Series:
    """VWAP anchored at each session (local calendar date of a DatetimeIndex), equal to
    pandas-ta-classic `ta.vwap(high, low, close, volume, anchor="D")`."""
    tpv, vol = _typical_price_volume(bars)
    index = bars.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("session_vwap needs bars indexed by bar start (a DatetimeIndex)")
    day = index.tz_localize(None).normalize() if index.tz is not None else index.normalize()
    keys = pd.Series(day.asi8, index=index)
    cum_tpv = pd.Series(tpv, index=index).groupby(keys).cumsum().to_numpy()
    cum_vol = pd.Series(vol, index=index).groupby(keys).cumsum().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        result = cum_tpv / cum_vol
    result[cum_vol == 0.0] = np.nan
    return pd.Series(result, index=index, name="VWAP_D")


def rolling_vwap(bars: pd.DataFrame, period: int = 20) -> pd.Series:
    """VWAP over the last `period` bars; NaN in warm-up and over zero-volume windows."""
    tpv, vol = _typical_price_volume(bars)
    sum_tpv = pd.Series(tpv).rolling(period).sum().to_numpy()
    sum_vol = pd.Series(vol).rolling(period).sum().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        result = sum_tpv / sum_vol
    result[~(sum_vol > 0.0)] = np.nan
    return pd.Series(result, index=bars.index, name=f"VWAP_{period}")


def compute_indicators(
    bars: pd.DataFrame, vwap_period: int = 20, rsi_period: int = 14, atr_period: int = 14
) -> pd.DataFrame:
    """All four series for a frame with high/low/close/volume columns and a DatetimeIndex."""
    return pd.DataFrame(
        {
            "vwap": rolling_vwap(bars, vwap_period),
            "session_vwap": session_vwap(bars),
            "rsi": rsi(bars["close"], rsi_period),
            "atr": atr(bars["high"], bars["low"], bars["close"], atr_period),
        },
        index=bars.index,
    )
