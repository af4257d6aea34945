"""VWAP / RSI / ATR parity with pandas-ta-classic on real sessions, incremental and batch.

pandas-ta-classic switches to TA-Lib when TA-Lib is installed; every reference call pins
`talib=False` so the reference is always its pure-pandas code, the one the strategy was specified
against, whatever is installed on the machine running the tests.
"""

from __future__ import annotations

import math
import sys
import warnings
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pandas_ta_classic as ta
import pytest

from tests.paths import DATA as SHARED_DATA
from trade.indicators import (
    IndicatorState,
    atr,
    compute_indicators,
    rolling_vwap,
    rsi,
    session_vwap,
)
from trade.models import Bar, Params

DATA = SHARED_DATA / "intraday"
NY = ZoneInfo("America/New_York")
RTOL = 1e-9

# A spread of awkward real sessions (see VALIDATION.md in the market data directory):
SESSIONS = [
    "MELI/2026-01-29",  # alert_overlay, 7 zero-volume IBKR padding bars
    "MELI/2026-02-18",  # alert_overlay, 4 zero-volume bars
    "SNOW/2026-01-27",  # alert_overlay, 7 zero-volume bars
    "LCID/2026-02-09",  # alert_overlay, low-priced, zero-volume bars
    "AFRM/2026-01-23",  # alert_overlay, zero-volume bars
    "SOXL/2026-02-13",  # alert_overlay, leveraged ETF
    "AMT/2019-02-11",  # eqker, starts 09:31, zero-volume bar, 27 missing minutes
    "BK/2019-02-11",  # eqker, starts 09:31, zero-volume bar
    "DFS/2019-02-13",  # eqker, starts 09:31, missing minutes
    "TRV/2019-02-14",  # eqker, starts 09:31, missing minutes
    "SLV/2019-02-12",  # eqker, 57 missing minutes
    "TZA/2019-02-11",  # eqker, missing minutes
    "MU/2019-02-11",  # eqker, a zero-volume bar with a price range
    "QQQ/2019-02-14",  # eqker, zero-volume bar and missing minutes
    "SPY/2025-07-03",  # pratikdkale, half day (210 bars)
    "GOOG/2015-12-24",  # lean, half day
    "SHY/2008-03-10",  # lean, 313 bars, 5-minute holes, a quiet bond ETF
    "AIG/2013-10-07",  # lean, a missing minute
    "TWX/2014-06-06",  # lean, missing minutes
    "AAPL/2014-06-05",  # lean, pre-split prices near $645
    "NWSA/2013-06-27",  # lean
    "NVDA/2025-05-14",  # bsw_yfinance, a zero-volume bar
    "SPY/2011-01-03",  # pyalgotrade
    "SPY/2024-02-20",  # leoxu2023
    "SPY/2014-06-05",  # lean_second aggregated to 1 minute
]


@cache
def load_session(name: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / f"{name}.csv")
    index = pd.to_datetime(frame.pop("timestamp"), utc=True).dt.tz_convert(NY)
    frame.index = pd.DatetimeIndex(index)
    return frame.astype(float)


def bars_of(frame: pd.DataFrame, symbol: str = "X") -> list[Bar]:
    return [
        Bar(symbol, ts.to_pydatetime(), o, h, lo, c, v)
        for ts, o, h, lo, c, v in zip(
            frame.index, frame.open, frame.high, frame.low, frame.close, frame.volume, strict=True
        )
    ]


@cache
def incremental(name: str) -> pd.DataFrame:
    """Every indicator value after each bar of the session, fed one `Bar` at a time."""
    frame = load_session(name)
    state = IndicatorState()
    rows = []
    for bar in bars_of(frame):
        state.update(bar)
        rows.append((state.vwap, state.session_vwap, state.rsi, state.atr))
    return pd.DataFrame(rows, index=frame.index, columns=["vwap", "session_vwap", "rsi", "atr"])


def reference(frame: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # to_period() on a tz-aware index warns about the tz
        vwap_d = ta.vwap(frame.high, frame.low, frame.close, frame.volume, anchor="D")
    tpv = (frame.high + frame.low + frame.close) / 3.0 * frame.volume
    return pd.DataFrame(
        {
            "rsi": ta.rsi(frame.close, length=14, talib=False),
            "atr": ta.atr(frame.high, frame.low, frame.close, length=14, talib=False),
            "session_vwap": vwap_d,
            "vwap": tpv.rolling(20).sum() / frame.volume.rolling(20).sum(),
        }
    )


@cache
def reference_for(name: str) -> pd.DataFrame:
    return reference(load_session(name))


def assert_parity(actual: pd.Series, expected: pd.Series) -> None:
    """Same NaN positions, and every value within 1e-9 relative."""
    np.testing.assert_array_equal(np.isnan(actual.to_numpy()), np.isnan(expected.to_numpy()))
    np.testing.assert_allclose(actual.to_numpy(), expected.to_numpy(), rtol=RTOL, atol=0.0)


def test_session_selection_covers_the_awkward_cases() -> None:
    frames = [load_session(name) for name in SESSIONS]
    assert len(frames) >= 20
    assert sum((f.volume == 0).any() for f in frames) >= 8
    assert sum(f.index[0].strftime("%H:%M") == "09:31" for f in frames) >= 4
    assert sum(len(f) < 390 and f.index[-1].hour == 15 for f in frames) >= 8
    assert any(f.index[-1].strftime("%H:%M") == "12:59" for f in frames)


@pytest.mark.parametrize("name", SESSIONS)
def test_incremental_rsi_matches_pandas_ta(name: str) -> None:
    assert_parity(incremental(name)["rsi"], reference_for(name)["rsi"])


@pytest.mark.parametrize("name", SESSIONS)
def test_incremental_atr_matches_pandas_ta(name: str) -> None:
    assert_parity(incremental(name)["atr"], reference_for(name)["atr"])


@pytest.mark.parametrize("name", SESSIONS)
def test_incremental_session_vwap_matches_pandas_ta(name: str) -> None:
    assert_parity(incremental(name)["session_vwap"], reference_for(name)["session_vwap"])


@pytest.mark.parametrize("name", SESSIONS)
def test_incremental_rolling_vwap_matches_pandas_rolling(name: str) -> None:
    assert_parity(incremental(name)["vwap"], reference_for(name)["vwap"])


@pytest.mark.parametrize("name", SESSIONS)
def test_batch_rsi_matches_pandas_ta(name: str) -> None:
    frame = load_session(name)
    assert_parity(rsi(frame.close, 14), reference_for(name)["rsi"])


@pytest.mark.parametrize("name", SESSIONS)
def test_batch_atr_matches_pandas_ta(name: str) -> None:
    frame = load_session(name)
    assert_parity(atr(frame.high, frame.low, frame.close, 14), reference_for(name)["atr"])


@pytest.mark.parametrize("name", SESSIONS)
def test_batch_session_vwap_matches_pandas_ta(name: str) -> None:
    assert_parity(session_vwap(load_session(name)), reference_for(name)["session_vwap"])


@pytest.mark.parametrize("name", SESSIONS)
def test_batch_rolling_vwap_matches_pandas_rolling(name: str) -> None:
    assert_parity(rolling_vwap(load_session(name), 20), reference_for(name)["vwap"])


def test_compute_indicators_bundles_the_four_batch_series() -> None:
    name = "MELI/2026-01-29"
    result = compute_indicators(load_session(name))
    for column in ("vwap", "session_vwap", "rsi", "atr"):
        assert_parity(result[column], reference_for(name)[column])


def test_parity_holds_over_a_long_multi_day_run() -> None:
    """26 consecutive MELI sessions (10,140 bars) through ONE state: running sums must not
    drift, and the session VWAP must re-anchor at every new date like anchor="D"."""
    frame = pd.concat([load_session(p.parent.name + "/" + p.stem) for p in _meli_files()])
    state = IndicatorState()
    rows = []
    for bar in bars_of(frame):
        state.update(bar)
        rows.append((state.vwap, state.session_vwap, state.rsi, state.atr))
    actual = pd.DataFrame(rows, index=frame.index, columns=["vwap", "session_vwap", "rsi", "atr"])
    expected = reference(frame)
    assert len(frame) > 10_000
    for column in ("vwap", "session_vwap", "rsi", "atr"):
        assert_parity(actual[column], expected[column])


def _meli_files() -> list[Path]:
    return sorted((DATA / "MELI").glob("*.csv"))


def test_rsi_and_atr_first_value_is_on_the_15th_bar() -> None:
    state = IndicatorState()
    for i, bar in enumerate(bars_of(load_session("SPY/2024-02-20"))[:15]):
        assert math.isnan(state.rsi) and math.isnan(state.atr), f"value before bar {i + 1}"
        state.update(bar)
    assert not math.isnan(state.rsi) and not math.isnan(state.atr)


def test_rolling_vwap_first_value_is_on_the_20th_bar() -> None:
    state = IndicatorState()
    bars = bars_of(load_session("SPY/2024-02-20"))
    for bar in bars[:19]:
        state.update(bar)
    assert math.isnan(state.vwap) and not state.ready
    state.update(bars[19])
    assert not math.isnan(state.vwap) and state.ready


def _flat_bars(n: int, volume: float, start: datetime, price: float = 10.0) -> list[Bar]:
    return [
        Bar("Z", start + timedelta(minutes=i), price, price, price, price, volume) for i in range(n)
    ]


def test_zero_volume_window_gives_nan_vwap_not_a_division_error() -> None:
    start = datetime(2026, 1, 22, 9, 30, tzinfo=NY)
    bars = _flat_bars(5, 100.0, start) + _flat_bars(25, 0.0, start + timedelta(minutes=5))
    state = IndicatorState()
    for bar in bars:
        state.update(bar)
    assert math.isnan(state.vwap)
    assert state.session_vwap == pytest.approx(10.0)
    assert not state.ready


def test_session_opening_on_zero_volume_has_nan_vwap_like_pandas_ta() -> None:
    start = datetime(2026, 1, 22, 9, 30, tzinfo=NY)
    bars = _flat_bars(2, 0.0, start) + _flat_bars(3, 50.0, start + timedelta(minutes=2), 11.0)
    state = IndicatorState()
    values = []
    for bar in bars:
        state.update(bar)
        values.append(state.session_vwap)
    frame = pd.DataFrame(
        {
            "high": [b.high for b in bars],
            "low": [b.low for b in bars],
            "close": [b.close for b in bars],
            "volume": [b.volume for b in bars],
        },
        index=pd.DatetimeIndex([b.start for b in bars]),
    )
    assert_parity(pd.Series(values, index=frame.index), reference(frame)["session_vwap"])
    assert math.isnan(values[0]) and values[-1] == pytest.approx(11.0)


def test_flat_session_has_nan_rsi_because_there_is_no_movement() -> None:
    state = IndicatorState()
    for bar in _flat_bars(30, 100.0, datetime(2026, 1, 22, 9, 30, tzinfo=NY)):
        state.update(bar)
    assert math.isnan(state.rsi)
    assert state.atr == sys.float_info.epsilon  # pandas-ta counts a flat bar's range as eps


def test_rolling_sums_do_not_keep_the_rounding_of_a_huge_bar_that_left_the_window() -> None:
    """A 1e9-share bar at $1234.567 followed by 1-share bars at $1: once the big bar is out of
    the window, a plain running sum would still carry ~1e-4 of its rounding error."""
    start = datetime(2026, 1, 22, 9, 30, tzinfo=NY)
    huge = Bar("Z", start, 1234.567, 1234.567, 1234.567, 1234.567, 1e9)
    state = IndicatorState(vwap_period=20)
    state.update(huge)
    for bar in _flat_bars(59, 1.0, start + timedelta(minutes=1), price=1.1):
        state.update(bar)
    assert state.vwap == pytest.approx(1.1, rel=1e-14)


def test_reset_starts_a_fresh_warm_up() -> None:
    state = IndicatorState()
    bars = bars_of(load_session("SPY/2024-02-20"))
    for bar in bars[:30]:
        state.update(bar)
    state.reset()
    assert state.bars == 0 and math.isnan(state.rsi) and math.isnan(state.vwap)
    for bar in bars:
        state.update(bar)
    assert state.rsi == pytest.approx(reference_for("SPY/2024-02-20")["rsi"].iloc[-1], rel=RTOL)


def test_state_is_sized_from_params() -> None:
    state = IndicatorState.from_params(Params(vwap_period=10, rsi_period=7, atr_period=5))
    assert (state.vwap_period, state.rsi_period, state.atr_period) == (10, 7, 5)


def test_non_default_periods_match_pandas_ta() -> None:
    frame = load_session("SNOW/2026-01-27")
    state = IndicatorState(vwap_period=7, rsi_period=5, atr_period=9)
    rows = []
    for bar in bars_of(frame):
        state.update(bar)
        rows.append((state.rsi, state.atr))
    actual = pd.DataFrame(rows, index=frame.index, columns=["rsi", "atr"])
    assert_parity(actual["rsi"], ta.rsi(frame.close, length=5, talib=False))
    assert_parity(actual["atr"], ta.atr(frame.high, frame.low, frame.close, length=9, talib=False))


def test_incremental_state_has_no_instance_dict() -> None:
    """`__slots__` keeps the per-symbol state small and attribute access fast."""
    assert not hasattr(IndicatorState(), "__dict__")


def test_rejects_a_zero_period() -> None:
    with pytest.raises(ValueError, match="periods must be >= 1"):
        IndicatorState(vwap_period=0)
