"""Backtest throughput on 20 symbols x 20 real sessions, measured in one run.

Symbol-bars per second (one symbol's one-minute bar of a replayed session; warm-up history is
not counted) for:
- the event engine: the live `IntradayTrader` over `PaperBroker`, one session at a time, each
  with its own pre-market analyst, warm-up (5 sessions of minute bars per symbol), risk, orders,
  matching and flatten, exactly as `python -m sim.backtest --engine event` runs it;
- the fast engine, three ways: (1) a new parameter set on prepared sessions whose indicators are
  known (the sweep case: indicators depend only on their periods; the headline figure),
  (2) a new parameter set that also recomputes every indicator (warm-up + session),
  (3) cold: the sessions prepared from the CSV files first (`--engine fast` on a fresh process's
  data, numba code already compiled);
- a naive per-bar recompute: at every bar, pandas-ta-classic's RSI, ATR and VWAP over the whole
  session so far, then the entry rule (what a bot without incremental indicators does);
and the all-core figures (local worker processes), then the 100-parameter-set sweep of the
issue through the command line in a fresh process (imports, data, compilation cache included).
The last line is `bars_per_sec_per_core: N` (the fast engine's headline figure).

Run from the repo root: `python benchmarks/backtest.py` (about one to two minutes).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import pandas_ta_classic as ta  # noqa: E402

from sim.backtest.config import BacktestConfig  # noqa: E402
from sim.backtest.event_engine import run_event_day  # noqa: E402
from sim.backtest.fast import engine as fast_engine  # noqa: E402
from sim.backtest.prepare import DayBatch, prepare_day  # noqa: E402
from sim.backtest.runner import run_backtest, store_for  # noqa: E402
from sim.backtest.sessions import Market, Sessions  # noqa: E402
from sim.backtest.sweep import sweep  # noqa: E402
from sim.backtest.workers import default_workers  # noqa: E402
from trade.models import Params  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
SYMBOLS = ("AFRM", "COIN", "DKNG", "IONQ", "LCID", "MELI", "META", "MRNA", "NFLX", "NKE", "NVDA",
           "ORCL", "QQQ", "RTX", "SMH", "SNOW", "SOXL", "SPY", "XLF", "XLK")
FIRST, LAST = date(2026, 1, 22), date(2026, 2, 19)  # 20 sessions every symbol has
# the 1-minute ATR rule with a low threshold: every session trades (the default daily screen
# drops most of these sessions, which would flatter every engine)
PARAMS = Params(atr_timeframe="1 min", atr_min_pct=0.001)
GRID = {"profit_target": [0.008, 0.01, 0.012, 0.014, 0.016, 0.018, 0.02, 0.024, 0.027, 0.03],
        "stop_loss": [0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.012, 0.014, 0.017, 0.02]}
NAIVE_SAMPLES = (("SOXL", date(2026, 2, 2)), ("SPY", date(2026, 2, 3)))


def rate(bars: int, seconds: float) -> str:
    return f"{bars / seconds:>14,.0f} bars/s"


def prepare(sessions: Sessions) -> tuple[list[DayBatch], float]:
    store = store_for(sessions)
    started = time.perf_counter()
    batches = [prepare_day(store, day, sessions.symbols) for day in sessions.days()]
    return [b for b in batches if b is not None], time.perf_counter() - started


def fast_runs(batches: list[DayBatch], param_sets: list[Params], config: BacktestConfig) -> float:
    started = time.perf_counter()
    for params in param_sets:
        for batch in batches:
            fast_engine.run_fast_trades(batch, params, config)
    return time.perf_counter() - started


def naive_bars_per_second() -> tuple[int, float]:
    """Recompute the indicators over the whole session at every bar (pandas-ta-classic)."""
    frames = []
    for symbol, day in NAIVE_SAMPLES:
        frame = pd.read_csv(DATA / "intraday" / symbol / f"{day}.csv")
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("timestamp"), utc=True)
                                       .dt.tz_convert("America/New_York"))
        frames.append(frame.astype(float))
    bars = 0
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in frames:
            for end in range(1, len(frame) + 1):
                part = frame.iloc[:end]
                rsi = ta.rsi(part.close, length=14, talib=False)
                atr = ta.atr(part.high, part.low, part.close, length=14, talib=False)
                vwap = ta.vwap(part.high, part.low, part.close, part.volume, anchor="D",
                               talib=False)
                if rsi is not None and atr is not None and vwap is not None:
                    close = part.close.iloc[-1]
                    _ = (close > vwap.iloc[-1] and rsi.iloc[-1] < 60.0
                         and atr.iloc[-1] / close > 0.001)
                bars += 1
    return bars, time.perf_counter() - started


def main() -> None:
    logging.disable(logging.WARNING)
    workers = default_workers()
    config = BacktestConfig()
    sessions = Sessions(Market(data=str(DATA)), SYMBOLS, FIRST, LAST)
    days = sessions.days()
    print(f"{len(SYMBOLS)} symbols x {len(days)} sessions ({days[0]} to {days[-1]}), "
          f"{PARAMS.atr_timeframe} ATR rule, {workers} cores")

    # -- fast engine ----------------------------------------------------------------------
    batches, prep_s = prepare(sessions)
    bars = sum(b.bars for b in batches)
    print(f"session symbol-bars: {bars:,}")
    fast_runs(batches[:1], [PARAMS], config)  # load the compiled code
    fast_engine._indicators.clear()
    fast_engine._inputs.clear()
    full_s = fast_runs(batches, [PARAMS], config)  # indicators recomputed (warm-up + session)
    steady_sets = [PARAMS.with_overrides({"profit_target": 0.01 + 0.0005 * i}) for i in range(20)]
    steady_s = fast_runs(batches, steady_sets, config) / len(steady_sets)
    fast_headline = bars / steady_s
    print(f"fast engine, new parameters, indicators known  {rate(bars, steady_s)} per core")
    print(f"fast engine, new parameters and indicators     {rate(bars, full_s)} per core")
    print(f"fast engine, cold (CSV -> sessions -> trades)  {rate(bars, prep_s + full_s)} per core"
          f"  (preparation {prep_s:.2f}s)")

    # -- event engine ---------------------------------------------------------------------
    source = sessions.source()
    run_event_day(source, days[0], SYMBOLS, PARAMS, config)  # caches warm, as in a long run
    started = time.perf_counter()
    trades = 0
    for day in days:
        trades += len(run_event_day(source, day, SYMBOLS, PARAMS, config).trades)
    event_s = time.perf_counter() - started
    warm = sum(int(b.warm.shape[1]) for b in batches)
    print(f"event engine (the live trader)                 {rate(bars, event_s)} per core"
          f"  ({trades} trades; {rate(bars + warm, event_s).strip()} counting warm-up bars)")

    # -- naive ----------------------------------------------------------------------------
    naive_bars, naive_s = naive_bars_per_second()
    print(f"naive per-bar pandas-ta-classic recompute      {rate(naive_bars, naive_s)} per core"
          f"  ({naive_bars} bars sampled)")

    # -- all cores ------------------------------------------------------------------------
    started = time.perf_counter()
    run_backtest(sessions, PARAMS, config, engine="event", workers=workers, progress=False)
    event_all_s = time.perf_counter() - started
    started = time.perf_counter()
    sweep(GRID, sessions, base=PARAMS, config=config, workers=workers, progress=False)
    sweep_s = time.perf_counter() - started
    print(f"all {workers} cores: event engine {rate(bars, event_all_s).strip()}, "
          f"fast engine sweep {rate(100 * bars, sweep_s).strip()} "
          f"(100 parameter sets in {sweep_s:.2f}s, sessions prepared in the run), "
          f"naive {rate(naive_bars * workers, naive_s).strip()} (x{workers}, independent)")

    # -- the sweep, through the command line in a fresh process --------------------
    with tempfile.TemporaryDirectory() as tmp:
        grid = Path(tmp) / "grid.json"
        grid.write_text(json.dumps(GRID))
        base = Path(tmp) / "base.json"
        base.write_text(json.dumps({"atr_timeframe": "1 min", "atr_min_pct": 0.001}))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sim.backtest.sweep", "--grid", str(grid),
                        "--data", str(DATA), "--symbols", *SYMBOLS, "--from", str(FIRST),
                        "--to", str(LAST), "--params", str(base), "--json",
                        str(Path(tmp) / "sweep.json"), "--top", "1"],
                       cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        cli_s = time.perf_counter() - started
    print(f"sweep of 100 parameter sets x {len(SYMBOLS)} symbols x {len(days)} sessions "
          f"(python -m sim.backtest.sweep, fresh process): {cli_s:.2f}s")
    print(f"event engine vs naive: {naive_s / naive_bars / (event_s / bars):.1f}x; "
          f"fast vs event: {event_s / steady_s:,.0f}x")
    print(f"bars_per_sec_per_core: {fast_headline:.0f}")


if __name__ == "__main__":
    main()
