"""No look-ahead: a spike planted in the future changes no decision taken before it.

The market of a session is replaced, from 13:00 on, by a violent spike (a symbol's bars jump
and keep climbing with ten times the volume). Every entry and every exit before 13:00 must be
the same as on the untouched market, for both engines (the fast engine holds the whole day in
arrays, so reading ahead would be an easy mistake), and the spike must change something after
13:00 (else the test proves nothing).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from typing import Any

import pytest

from sim.backtest.bars import BarStore
from sim.backtest.config import BacktestConfig
from sim.backtest.parity import compare_day, shared_universe
from sim.market.bar_sources import CsvBarSource
from sim.market.grid import TickGridSource, on_grid
from sim.market.sessions import NY
from tests.paths import DATA
from trade.models import Bar, Params


class SpikedSource:
    """A `BarSource` equal to `inner` except `symbol`'s bars on `day` from `at` on."""

    def __init__(self, inner: Any, symbol: str, day: date, at: datetime) -> None:
        self.inner, self.symbol, self.day, self.at = inner, symbol, day, at

    def symbols(self) -> list[str]:
        return self.inner.symbols()

    def sessions(self, symbol: str) -> list[date]:
        return self.inner.sessions(symbol)

    def daily_bars(self, symbol: str) -> list[Bar]:
        return self.inner.daily_bars(symbol)

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        bars = self.inner.session_bars(symbol, day)
        if symbol.upper() != self.symbol or day != self.day:
            return bars
        out = []
        for bar in bars:
            if bar.start >= self.at:
                k = 1.0 + 0.002 * ((bar.start - self.at).total_seconds() / 60.0 + 1.0)
                bar = replace(bar, open=bar.open * k, high=bar.high * k * 1.01,
                              low=bar.low * k, close=bar.close * k * 1.005,
                              volume=bar.volume * 10.0)
            out.append(bar)
        return out


CASES = [
    (date(2026, 2, 2), "SOXL", Params(atr_timeframe="1 min", atr_min_pct=0.001)),
    (date(2019, 2, 13), "AAPL", Params()),
]


@pytest.mark.parametrize(("day", "symbol", "params"), CASES, ids=[str(c[0]) for c in CASES])
def test_a_future_spike_changes_no_earlier_decision(
    shared_source: TickGridSource, shared_store: BarStore, day: date, symbol: str, params: Params
) -> None:
    spike_at = datetime.combine(day, time(13, 0), tzinfo=NY)
    symbols = shared_universe(shared_source)
    spiked_source = on_grid(SpikedSource(CsvBarSource(DATA), symbol, day, spike_at))
    config = BacktestConfig()
    before = compare_day(shared_source, shared_store, day, symbols, params, config)
    after = compare_day(spiked_source, BarStore(spiked_source), day, symbols, params, config)
    assert before.equal and after.equal, (before.difference(), after.difference())
    for engine in ("event", "fast"):
        old, new = getattr(before, engine).trades, getattr(after, engine).trades
        entries = sorted((t.symbol, t.entry_time, t.qty, t.entry_price)
                         for t in old if t.entry_time < spike_at)
        assert entries == sorted((t.symbol, t.entry_time, t.qty, t.entry_price)
                                 for t in new if t.entry_time < spike_at), engine
        exits = sorted((t.symbol, t.exit_time, t.exit_price, t.exit_reason)
                       for t in old if t.exit_time < spike_at)
        assert exits == sorted((t.symbol, t.exit_time, t.exit_price, t.exit_reason)
                               for t in new if t.exit_time < spike_at), engine
        assert entries, f"{engine}: no entry before the spike, the test proves nothing"
        assert old != new, f"{engine}: the spike changed nothing after 13:00"
