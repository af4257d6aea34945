"""Per-bar cost: incremental indicators vs recomputing them with pandas-ta-classic every bar.

A naive bot recomputes RSI, ATR and VWAP over the whole session on every new bar. Our trader
folds each bar into an `IndicatorState` instead. Both are measured here in the same run on real
sessions from ../shared/data/intraday; the last line is `ratio: N` = naive per-bar cost /
incremental per-bar cost.

Run from the repo root: `python benchmarks/indicators.py` (about 10-20 s).
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import pandas_ta_classic as ta  # noqa: E402

from trade.indicators import IndicatorState  # noqa: E402
from trade.models import Bar, Params  # noqa: E402
from trade.strategy import entry_verdict  # noqa: E402

DATA = ROOT / ".." / "shared" / "data" / "intraday"
INCREMENTAL_SESSIONS = 300
NAIVE_SESSION = "SPY/2024-02-20"  # a full 390-bar session
NAIVE_REPEATS = 150


def load(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    index = pd.to_datetime(frame.pop("timestamp"), utc=True).dt.tz_convert("America/New_York")
    frame.index = pd.DatetimeIndex(index)
    return frame.astype(float)


def session_bars(frame: pd.DataFrame, symbol: str) -> list[Bar]:
    return [
        Bar(symbol, ts.to_pydatetime(), o, h, lo, c, v)
        for ts, o, h, lo, c, v in zip(
            frame.index, frame.open, frame.high, frame.low, frame.close, frame.volume, strict=True
        )
    ]


def naive_recompute(frame: pd.DataFrame) -> None:
    # talib=False: pandas-ta-classic would silently switch to TA-Lib if it were installed.
    ta.rsi(frame.close, length=14, talib=False)
    ta.atr(frame.high, frame.low, frame.close, length=14, talib=False)
    ta.vwap(frame.high, frame.low, frame.close, frame.volume, anchor="D", talib=False)


def best_of(runs: int, fn) -> float:
    """Fastest of several runs: the least disturbed by the machine's other work."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    warnings.simplefilter("ignore")  # to_period() on a tz-aware index warns on every vwap call
    logging.disable(logging.WARNING)  # pandas-ta logs "Series too short" during warm-up
    files = sorted(DATA.glob("*/*.csv"))
    step = max(1, len(files) // INCREMENTAL_SESSIONS)
    chosen = files[::step][:INCREMENTAL_SESSIONS]
    sessions = [session_bars(load(p), p.parent.name) for p in chosen]
    n_bars = sum(len(s) for s in sessions)

    def run_incremental() -> None:
        for bars in sessions:
            state = IndicatorState()
            update = state.update
            for bar in bars:
                update(bar)

    incremental_s = best_of(5, run_incremental)
    incremental_ns = incremental_s / n_bars * 1e9

    # The strategy's entry check on the same bars, for the per-bar path budget.
    params = Params()
    from trade.calendar import MarketCalendar

    calendar = MarketCalendar()

    def run_with_strategy() -> None:
        for bars in sessions:
            state = IndicatorState()
            times = calendar.session(bars[0].start.date())
            for bar in bars:
                state.update(bar)
                entry_verdict(
                    state.close, state.vwap, state.rsi, state.atr, params, bar.end, times, True
                )

    path_ns = best_of(3, run_with_strategy) / n_bars * 1e9

    frame = load(DATA / f"{NAIVE_SESSION}.csv")
    assert len(frame) == 390

    def run_full_session() -> None:
        for _ in range(NAIVE_REPEATS):
            naive_recompute(frame)

    naive_full_s = best_of(3, run_full_session)
    naive_full_ns = naive_full_s / NAIVE_REPEATS * 1e9

    def run_day_so_far() -> None:
        for k in range(1, len(frame) + 1):
            naive_recompute(frame.iloc[:k])

    naive_so_far_ns = best_of(1, run_day_so_far) / len(frame) * 1e9

    print(f"incremental: {len(sessions)} real sessions, {n_bars} bars")
    print(
        f"incremental update (vwap20 + session vwap + rsi14 + atr14): {incremental_ns:,.0f} ns/bar"
    )
    print(f"incremental update + strategy entry check: {path_ns:,.0f} ns/bar")
    print(f"naive pandas-ta recompute over the 390-bar session: {naive_full_ns:,.0f} ns/bar")
    print(f"naive pandas-ta recompute over the day so far (mean): {naive_so_far_ns:,.0f} ns/bar")
    print(f"ratio: {naive_full_ns / incremental_ns:.0f}")


if __name__ == "__main__":
    main()
