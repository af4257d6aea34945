"""A client that rebuilds 1-minute bars from the simulator's 5-second real-time bars (as the day
trader does) must get exactly the source session's bars: same OHLC, same volume."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sim.gateway import GatewaySimulator
from sim.market.bar_sources import CsvBarSource
from tests.paths import DATA
from trade.ib.minute_bars import MinuteBarBuilder


@pytest.mark.parametrize(("symbol", "day"), [("SPY", date(2025, 7, 3)), ("IONQ", date(2026, 2, 3))])
def test_minutes_rebuilt_from_five_second_bars_equal_the_source(symbol: str, day: date) -> None:
    sim = GatewaySimulator.build(CsvBarSource(DATA, [symbol]), day, [symbol])
    source = sim.replay.bars(symbol)
    builder = MinuteBarBuilder(symbol)
    rebuilt = []
    for bar in source:
        for k in range(12):
            rt = sim.feeds._rtb(symbol, bar.start + timedelta(seconds=5 * k))
            assert rt is not None
            rebuilt.extend(builder.add(rt.start, rt.open, rt.high, rt.low, rt.close, rt.volume))
    assert [(b.start, b.open, b.high, b.low, b.close, b.volume) for b in rebuilt] == [
        (b.start, b.open, b.high, b.low, b.close, b.volume) for b in source
    ]
