"""The compiled indicators are `trade.indicators.IndicatorState`, bit for bit, on real sessions."""

from __future__ import annotations

import math
import random
from datetime import date

import numpy as np
import pytest

from sim.backtest.bars import BarStore
from sim.backtest.fast import indicators as ind
from trade.indicators import IndicatorState

SESSIONS = [("SPY", date(2025, 7, 3)), ("IONQ", date(2026, 2, 2)), ("AAPL", date(2014, 6, 6)),
            ("SOXL", date(2026, 2, 13))]


def test_fsum_is_math_fsum() -> None:
    rng = random.Random(3)
    for _ in range(5_000):
        n = rng.randint(1, 40)
        values = np.array([rng.choice([rng.uniform(-1e6, 1e6),
                                       rng.uniform(0, 1) * 10 ** rng.randint(-20, 20),
                                       1e16, -1e16, 0.1, 0.0]) for _ in range(n)])
        assert ind.fsum(values) == math.fsum(values), values


@pytest.mark.parametrize(("symbol", "day"), SESSIONS)
@pytest.mark.parametrize("periods", [(20, 14, 14), (7, 3, 5), (1, 2, 1)])
def test_update_matches_the_traders_incremental_state_bit_for_bit(
    shared_store: BarStore, symbol: str, day: date, periods: tuple[int, int, int]
) -> None:
    days = [d for d in shared_store.sessions(symbol) if d <= day][-3:]
    reference = IndicatorState(*periods)
    state, tpv, vol = ind.new_state(periods[0])
    checked = 0
    for d in days:
        bars = shared_store.session(symbol, d)
        for m in range(bars.size):
            h, lo, c, v = bars.high[m], bars.low[m], bars.close[m], bars.volume[m]
            reference.update_values(h, lo, c, v, d.toordinal())
            ind.update(state, tpv, vol, *periods, h, lo, c, v)
            for name, index in (("close", ind.CLOSE), ("vwap", ind.VWAP), ("rsi", ind.RSI),
                                ("atr", ind.ATR)):
                expected, got = getattr(reference, name), state[index]
                assert expected == got or (expected != expected and got != got), (d, m, name)
            checked += 1
    assert checked > 700


def test_session_values_continue_the_warm_up(shared_store: BarStore) -> None:
    days = shared_store.sessions("QQQ")
    warm = [shared_store.session("QQQ", d) for d in days[-3:-1]]
    today = shared_store.session("QQQ", days[-1])
    high = np.concatenate([w.high for w in warm])
    low = np.concatenate([w.low for w in warm])
    close = np.concatenate([w.close for w in warm])
    volume = np.concatenate([w.volume for w in warm])
    state, tpv, vol = ind.warm_up(high, low, close, volume, 20, 14, 14)
    has_bar = np.zeros(390, dtype=np.bool_)
    has_bar[today.minute] = True
    grid = {k: np.full(390, np.nan) for k in ("high", "low", "close", "volume")}
    for k in grid:
        grid[k][today.minute] = getattr(today, k)
    values = ind.session_values(state, tpv, vol, 20, 14, 14, has_bar, grid["high"], grid["low"],
                                grid["close"], grid["volume"])
    reference = IndicatorState(20, 14, 14)
    for h, lo, c, v in zip(high, low, close, volume, strict=True):
        reference.update_values(h, lo, c, v, 0)
    for m in today.minute:
        reference.update_values(grid["high"][m], grid["low"][m], grid["close"][m],
                                grid["volume"][m], 1)
        assert (values[0, m], values[1, m], values[2, m]) == (reference.vwap, reference.rsi,
                                                              reference.atr)
    assert np.isnan(values[:, ~has_bar]).all()
