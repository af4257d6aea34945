"""The fast engine: a prepared `DayBatch` and a parameter set in, the session's round trips out.

Python does what depends on the parameters but not on the bars: each symbol's effective params
(defaults + its overrides), the daily ATR screen against `atr_min_pct` (which symbols the
analyst keeps, so how many the allocation is split over), the warmed indicator state for the
symbol's periods (cached per process: a sweep over exits reuses it). The compiled kernel
(`sim.backtest.fast.kernel.trade_session`) trades the day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta

import numpy as np

from sim.backtest.config import BacktestConfig
from sim.backtest.fast import indicators as ind
from sim.backtest.fast import kernel
from sim.backtest.prepare import DayBatch
from sim.backtest.result import DayResult, Trade
from trade.models import Params

REASONS = {kernel.TARGET: "target", kernel.STOP: "stop", kernel.FLATTEN: "flatten"}
_WARM_CACHE_MAX = 20_000
_warm_cache: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def kept_symbols(batch: DayBatch, params: list[Params]) -> list[int]:
    """`trade.watchlist.screen_daily_atr` over the analyst's verdicts: indices kept."""
    kept = []
    for i, own in enumerate(params):
        if not batch.judged[i]:
            continue
        if own.atr_timeframe == "1 day":
            value = batch.daily_atr[i]
            if value != value or not value > own.atr_min_pct:
                continue
        kept.append(i)
    return kept


def warm_state(batch: DayBatch, i: int, own: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = (batch.day, batch.symbols[i], own.vwap_period, own.rsi_period, own.atr_period)
    cached = _warm_cache.get(key)
    if cached is None:
        high, low, close, volume = batch.warm_bars(i)
        cached = ind.warm_up(high, low, close, volume, own.vwap_period, own.rsi_period,
                             own.atr_period)
        if len(_warm_cache) >= _WARM_CACHE_MAX:
            _warm_cache.clear()
        _warm_cache[key] = cached
    return cached


def run_fast_day(batch: DayBatch, default: Params, config: BacktestConfig,
                 overrides: Mapping[str, Params] | None = None) -> DayResult:
    """Trade `batch` with `default` (and per-symbol `overrides`) on the compiled kernel."""
    params = [(overrides or {}).get(s, default) for s in batch.symbols]
    kept = kept_symbols(batch, params)
    if not kept:
        return DayResult(batch.day)
    n = len(kept)
    rows = np.array(kept, dtype=np.int64)
    own = [params[i] for i in kept]
    names = [batch.symbols[i] for i in kept]
    ring = max(p.vwap_period for p in own)
    state = np.empty((n, ind.STATE_SIZE))
    tpv_ring = np.zeros((n, ring))
    vol_ring = np.zeros((n, ring))
    for r, i in enumerate(kept):
        s, t, v = warm_state(batch, i, own[r])
        state[r] = s
        tpv_ring[r, :t.size] = t
        vol_ring[r, :v.size] = v
    alpha = np.array(sorted(range(n), key=lambda r: names[r]), dtype=np.int64)
    capacity = n * (batch.flatten // 2 + 2)
    out_i = np.zeros((capacity, 3), dtype=np.int64)
    out_f = np.zeros((capacity, 6))
    count = kernel.trade_session(
        batch.has_bar[rows], batch.gap[rows], batch.open[rows], batch.high[rows],
        batch.low[rows], batch.close[rows], batch.volume[rows], batch.prev_close[rows], alpha,
        state, tpv_ring, vol_ring,
        np.array([p.vwap_period for p in own], dtype=np.int64),
        np.array([p.rsi_period for p in own], dtype=np.int64),
        np.array([p.atr_period for p in own], dtype=np.int64),
        np.array([p.profit_target for p in own]), np.array([p.stop_loss for p in own]),
        np.array([p.rsi_max for p in own]), np.array([p.atr_min_pct for p in own]),
        np.array([p.atr_timeframe == "1 day" for p in own], dtype=np.bool_),
        batch.daily_atr_stat[rows],
        np.array([math.nan if p.position_pct is None else p.position_pct for p in own]),
        np.array([60.0 * p.cooldown_minutes for p in own]),
        batch.flatten, batch.cutoff, config.allocation, float(config.equity),
        math.nan if config.daily_loss_pct is None else config.daily_loss_pct,
        config.max_open_positions or 0, config.slippage_bps, True, out_i, out_f,
    )
    opened = batch.open_at
    trades = []
    for t in range(count):
        qty = int(out_i[t, kernel.QTY])
        f = out_f[t]
        trades.append(Trade(
            symbol=names[out_i[t, kernel.SYMBOL]], qty=qty,
            entry_time=opened + timedelta(seconds=float(f[kernel.ENTRY_S])),
            entry_price=(0 + qty * float(f[kernel.ENTRY_PX])) / qty,
            exit_time=opened + timedelta(seconds=float(f[kernel.EXIT_S])),
            exit_price=(0 + qty * float(f[kernel.EXIT_PX])) / qty,
            exit_reason=REASONS[int(out_i[t, kernel.REASON])],
            commission=float(f[kernel.COMMISSION]), gross_pnl=float(f[kernel.GROSS]),
        ))
    return DayResult(batch.day, tuple(trades), opened + timedelta(minutes=batch.flatten),
                     tuple(names))
