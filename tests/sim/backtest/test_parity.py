"""The fast engine makes the event engine's trades: the live `IntradayTrader` over `PaperBroker`
and the compiled kernel trade the same sessions and must agree on every round trip (symbol,
entry and exit times, quantities, prices, commissions, exit reason), the flat time and the
symbols the analyst kept.

A representative slice runs here: many symbols with gaps in the data (bars decided after a
backfill), a half day, the daily ATR screen keeping most symbols, the 1-minute rule trading all
day, the risk limits binding (exposure cap, cooldown, max open positions, daily loss cap),
per-symbol overrides and seeded synthetic sessions. Every shared session under every
configuration: `python -m sim.backtest.parity` (see the README; its result is in the report).
"""

from __future__ import annotations

from datetime import date

import pytest

from sim.backtest.bars import BarStore
from sim.backtest.config import BacktestConfig
from sim.backtest.parity import CONFIGS, compare_day, shared_universe
from sim.backtest.sessions import Market, Sessions
from sim.market.grid import TickGridSource
from trade.models import Params

QUIET = (Params(atr_timeframe="1 min", atr_min_pct=0.0001), BacktestConfig())
SLICE = [
    ("default", date(2019, 2, 13)),  # 21 symbols, 126 backfilled bars, 8 kept by the screen
    ("default", date(2026, 2, 12)),  # 19 symbols kept by the screen
    ("default", date(2015, 12, 24)),  # a half day the screen keeps
    ("one_minute", date(2019, 2, 12)),
    ("one_minute", date(2026, 2, 2)),
    ("quiet_one_minute", date(2025, 7, 3)),  # a half day (flatten 12:55) of quiet SPY
    ("one_minute", date(2025, 5, 13)),  # first bars after the 09:30 minute
    ("risk_limits", date(2019, 2, 14)),
    ("risk_limits", date(2026, 2, 3)),
]


@pytest.mark.parametrize(("config", "day"), SLICE, ids=[f"{c}-{d}" for c, d in SLICE])
def test_fast_engine_trades_exactly_as_the_event_engine(
    shared_source: TickGridSource, shared_store: BarStore, config: str, day: date
) -> None:
    params, settings = CONFIGS.get(config) or QUIET
    result = compare_day(shared_source, shared_store, day, shared_universe(shared_source),
                         params, settings)
    assert result.event.trades, f"{config} {day}: no trade, the comparison proves nothing"
    assert result.equal, result.difference()


def test_risk_limits_really_bind_in_the_slice(shared_source: TickGridSource,
                                              shared_store: BarStore) -> None:
    """Against the same day without limits, the limited run trades fewer, smaller positions."""
    params, settings = CONFIGS["risk_limits"]
    day = date(2026, 2, 3)
    symbols = shared_universe(shared_source)
    limited = compare_day(shared_source, shared_store, day, symbols, params, settings)
    free = compare_day(shared_source, shared_store, day, symbols,
                       params.with_overrides({"cooldown_minutes": 0}),
                       BacktestConfig(allocation=1.0))
    assert limited.equal and free.equal
    assert len(limited.event.trades) < len(free.event.trades)


def test_per_symbol_overrides_and_periods(shared_source: TickGridSource,
                                          shared_store: BarStore) -> None:
    base = Params(atr_timeframe="1 min", atr_min_pct=0.001)
    overrides = {
        "NVDA": base.with_overrides({"profit_target": 0.02, "stop_loss": 0.005}),
        "SOXL": base.with_overrides({"vwap_period": 7, "rsi_period": 5, "atr_period": 9,
                                     "rsi_max": 70.0}),
        "SPY": base.with_overrides({"atr_timeframe": "1 day", "atr_min_pct": 0.0}),
        "COIN": base.with_overrides({"position_pct": 0.03, "cooldown_minutes": 30}),
    }
    result = compare_day(shared_source, shared_store, date(2026, 2, 17),
                         shared_universe(shared_source), base, BacktestConfig(), overrides)
    traded = {t.symbol for t in result.event.trades}
    assert {"NVDA", "SOXL", "COIN"} <= traded
    assert result.equal, result.difference()


def test_seeded_synthetic_sessions_with_default_parameters() -> None:
    """Synthetic markets carry a year of daily bars, so the default daily ATR screen passes."""
    sessions = Sessions(Market(seed=11), ("AAA", "BBB", "CCC", "DDD"), date(2025, 3, 3),
                        date(2025, 3, 4))
    source = sessions.source()
    store = BarStore(source)
    trades = 0
    for day in sessions.days():
        result = compare_day(source, store, day, sessions.symbols, Params(), BacktestConfig())
        assert result.equal, result.difference()
        trades += len(result.event.trades)
    assert trades > 0
