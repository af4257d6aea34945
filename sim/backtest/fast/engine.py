"""The fast engine: a prepared `DayBatch` and a parameter set in, the session's round trips out.

Python does what depends on the parameters but not on the minutes: each symbol's effective
params (defaults + its overrides), the daily ATR screen against `atr_min_pct` (which symbols
the analyst keeps, hence how many the allocation is split over), and the indicators for the
symbols' periods (warm-up then the session, by the compiled incremental update; cached per
process, so a sweep over the other parameters computes them once per session). The compiled
kernel (`sim.backtest.fast.kernel.trade_session`) trades the day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from evaluation.performance import TradeRecord
from sim.backtest.config import BacktestConfig, BacktestInputError
from sim.backtest.fast import indicators as ind
from sim.backtest.fast import kernel
from sim.backtest.prepare import DayBatch
from sim.backtest.result import DayResult, Trade
from trade.models import Params

REASONS = {kernel.TARGET: "target", kernel.STOP: "stop", kernel.FLATTEN: "flatten"}
_CACHE_MAX = 4096
_inputs: dict[tuple[object, ...], KernelInput] = {}
_indicators: dict[tuple[object, ...], np.ndarray] = {}


class FastEngineUnsupported(BacktestInputError):
    """Parameters outside what the fast engine reproduces (one line, exit 2)."""


@dataclass(frozen=True, slots=True)
class KernelInput:
    """The kept symbols' market and indicator arrays for one session (one set of periods)."""

    names: tuple[str, ...]
    alpha: np.ndarray
    has_bar: np.ndarray
    gap: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    prev_close: np.ndarray
    daily_atr: np.ndarray
    vwap: np.ndarray
    rsi: np.ndarray
    atr: np.ndarray


@dataclass(frozen=True, slots=True)
class DayTrades:
    """A session's round trips as the kernel wrote them (times in seconds from the open)."""

    day: date
    open_at: datetime
    flat_at: datetime | None
    names: tuple[str, ...]
    ints: np.ndarray  # [t, (symbol, qty, reason)]
    floats: np.ndarray  # [t, (entry_s, entry_px, exit_s, exit_px, commission, gross)]

    def trades(self) -> tuple[Trade, ...]:
        opened = self.open_at
        out = []
        for row, f in zip(self.ints.tolist(), self.floats.tolist(), strict=True):
            qty = row[kernel.QTY]
            out.append(Trade(
                symbol=self.names[row[kernel.SYMBOL]], qty=qty,
                entry_time=opened + timedelta(seconds=f[kernel.ENTRY_S]),
                entry_price=(0 + qty * f[kernel.ENTRY_PX]) / qty,  # RoundTrip's average
                exit_time=opened + timedelta(seconds=f[kernel.EXIT_S]),
                exit_price=(0 + qty * f[kernel.EXIT_PX]) / qty,
                exit_reason=REASONS[row[kernel.REASON]],
                commission=f[kernel.COMMISSION], gross_pnl=f[kernel.GROSS],
            ))
        return tuple(out)

    @property
    def pnl(self) -> float:
        """`DayResult.pnl`: the trades' net P&L summed in closing order."""
        return sum(g - c for g, c in zip(self.floats[:, kernel.GROSS].tolist(),
                                         self.floats[:, kernel.COMMISSION].tolist(), strict=True))

    def records(self) -> list[TradeRecord]:
        """`[t.record(day) for t in self.trades()]` without building the `Trade`s."""
        opened, day = self.open_at, self.day
        out = []
        for row, f in zip(self.ints.tolist(), self.floats.tolist(), strict=True):
            qty = row[kernel.QTY]
            out.append(TradeRecord(
                self.names[row[kernel.SYMBOL]], day, opened + timedelta(seconds=f[kernel.ENTRY_S]),
                opened + timedelta(seconds=f[kernel.EXIT_S]), qty, (0 + qty * f[kernel.ENTRY_PX]) / qty,
                (0 + qty * f[kernel.EXIT_PX]) / qty, f[kernel.GROSS], f[kernel.COMMISSION],
                exit_reason=REASONS[row[kernel.REASON]]))
        return out

    def result(self) -> DayResult:
        return DayResult(self.day, self.trades(), self.flat_at, self.names)


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


def _periods(own: Params) -> tuple[int, int, int]:
    return own.vwap_period, own.rsi_period, own.atr_period


def session_indicators(batch: DayBatch, i: int, own: Params) -> np.ndarray:
    """[vwap, rsi, atr] per minute of symbol i's session for its periods (cached)."""
    key = (batch.token, i, *_periods(own))
    found = _indicators.get(key)
    if found is None:
        high, low, close, volume = batch.warm_bars(i)
        state, tpv, vol = ind.warm_up(high, low, close, volume, *_periods(own))
        found = ind.session_values(state, tpv, vol, *_periods(own), batch.has_bar[i],
                                   batch.high[i], batch.low[i], batch.close[i], batch.volume[i])
        if len(_indicators) >= _CACHE_MAX:
            _indicators.clear()
        _indicators[key] = found
    return found


def kernel_input(batch: DayBatch, kept: list[int], own: list[Params]) -> KernelInput:
    key = (batch.token, tuple(kept), tuple(_periods(p) for p in own))
    found = _inputs.get(key)
    if found is None:
        rows = np.array(kept, dtype=np.int64)
        names = tuple(batch.symbols[i] for i in kept)
        values = np.stack([session_indicators(batch, i, p) for i, p in zip(kept, own, strict=True)])
        found = KernelInput(
            names, np.array(sorted(range(len(kept)), key=lambda r: names[r]), dtype=np.int64),
            batch.has_bar[rows], batch.gap[rows], batch.open[rows], batch.high[rows],
            batch.low[rows], batch.close[rows], batch.prev_close[rows],
            batch.daily_atr_stat[rows], np.ascontiguousarray(values[:, 0]),
            np.ascontiguousarray(values[:, 1]), np.ascontiguousarray(values[:, 2]))
        if len(_inputs) >= _CACHE_MAX:
            _inputs.clear()
        _inputs[key] = found
    return found


def run_fast_trades(batch: DayBatch, default: Params, config: BacktestConfig,
                    overrides: Mapping[str, Params] | None = None) -> DayTrades:
    """Trade `batch` with `default` (and per-symbol `overrides`) on the compiled kernel."""
    params = [(overrides or {}).get(s, default) for s in batch.symbols]
    kept = kept_symbols(batch, params)
    if not kept:
        return DayTrades(batch.day, batch.open_at, None, (), np.zeros((0, 3), dtype=np.int64),
                         np.zeros((0, 6)))
    own = [params[i] for i in kept]
    data = kernel_input(batch, kept, own)
    rules = np.array([[p.profit_target, p.stop_loss, p.rsi_max, p.atr_min_pct,
                       1.0 if p.atr_timeframe == "1 day" else 0.0, 0.0,
                       math.nan if p.position_pct is None else p.position_pct,
                       60.0 * p.cooldown_minutes] for p in own])
    rules[:, kernel.RULE_DAILY_ATR] = data.daily_atr
    capacity = len(kept) * (batch.flatten // 2 + 2)
    out_i = np.empty((capacity, 3), dtype=np.int64)
    out_f = np.empty((capacity, 6))
    count = kernel.trade_session(
        data.has_bar, data.gap, data.open, data.high, data.low, data.close, data.prev_close,
        data.alpha, data.vwap, data.rsi, data.atr, rules, batch.flatten, batch.cutoff,
        config.allocation, float(config.equity),
        math.nan if config.daily_loss_pct is None else config.daily_loss_pct,
        config.max_open_positions or 0, config.slippage_bps, True, out_i, out_f,
    )
    if count == kernel.UNSUPPORTED:
        symbol = data.names[int(out_i[0, kernel.SYMBOL])]
        at = batch.open_at + timedelta(seconds=float(out_f[0, kernel.ENTRY_S]))
        raise FastEngineUnsupported(
            f"{symbol} {at:%Y-%m-%d %H:%M}: the entry's stop or target is marketable at its fill "
            f"(stop_loss/profit_target smaller than the slippage and the tick): the fast engine "
            "does not model that; use --engine event")
    return DayTrades(batch.day, batch.open_at, batch.open_at + timedelta(minutes=batch.flatten),
                     data.names, out_i[:count].copy(), out_f[:count].copy())


def run_fast_day(batch: DayBatch, default: Params, config: BacktestConfig,
                 overrides: Mapping[str, Params] | None = None) -> DayResult:
    return run_fast_trades(batch, default, config, overrides).result()
