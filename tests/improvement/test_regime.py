"""improvement.regime on known SPY episodes from the shared daily data, and no look-ahead."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date, timedelta

import pytest

from improvement.regime import NEEDED, classify, regime_bars
from sim.market.bar_sources import CsvBarSource
from sim.market.sessions import sessions_between
from tests.paths import DATA
from trade.models import Bar


@pytest.fixture(scope="module")
def spy() -> list[Bar]:
    return regime_bars(CsvBarSource(DATA), "SPY")


def month(year: int, number: int) -> list[date]:
    last = (date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1))
    return sessions_between(date(year, number, 1), last)


def names(bars: list[Bar], days: list[date]) -> Counter[str]:
    return Counter(classify(bars, d).name for d in days)


def test_october_2008_is_high_volatility(spy: list[Bar]) -> None:
    assert names(spy, month(2008, 10)) == {"high_volatility": len(month(2008, 10))}
    regime = classify(spy, date(2008, 10, 15))
    assert regime.reason.startswith("realised volatility") and regime.features is not None
    assert regime.features.realised_vol > 0.5


def test_march_2020_is_high_volatility(spy: list[Bar]) -> None:
    assert names(spy, month(2020, 3)) == {"high_volatility": len(month(2020, 3))}


def test_2017_is_low_volatility(spy: list[Bar]) -> None:
    calm = [d for m in (2, 4, 10, 11, 12) for d in month(2017, m)]
    assert names(spy, calm) == {"low_volatility": len(calm)}
    year = names(spy, sessions_between(date(2017, 1, 3), date(2017, 12, 29)))
    assert year["low_volatility"] > 0.6 * sum(year.values())
    assert year["high_volatility"] == 0 and year["trending_down"] == 0


def test_late_2013_is_an_uptrend(spy: list[Bar]) -> None:
    assert names(spy, month(2013, 11)) == {"trending_up": len(month(2013, 11))}
    regime = classify(spy, date(2013, 10, 31))
    assert regime.name == "trending_up" and "above its 200-session SMA" in regime.reason


def test_july_2008_is_a_downtrend_and_june_2015_a_range(spy: list[Bar]) -> None:
    assert names(spy, month(2008, 7)) == {"trending_down": len(month(2008, 7))}
    assert names(spy, month(2015, 6)) == {"ranging": len(month(2015, 6))}


def test_appending_future_bars_never_changes_a_past_classification(spy: list[Bar]) -> None:
    checkpoints = [d for year in range(2002, 2021, 2) for d in month(year, 5)[::7]]
    for day in checkpoints:
        past = [b for b in spy if b.start.date() <= day]
        # the future: the real bars, then the same bars with a planted crash
        crash = [dataclasses.replace(b, open=b.open * 0.5, high=b.high * 0.5, low=b.low * 0.2,
                                     close=b.close * 0.3) if b.start.date() > day else b
                 for b in spy]
        alone = classify(past, day)
        assert classify(spy, day) == alone, day
        assert classify(crash, day) == alone, day


def test_without_enough_contiguous_history_the_regime_is_unknown(spy: list[Bar]) -> None:
    short = classify(spy[:NEEDED - 1], spy[NEEDED - 2].start.date())
    assert short.name == "unknown" and f"needs {NEEDED} daily bars" in short.reason
    stale = classify(spy, date(2021, 6, 1))  # the daily file ends 2021-03-31
    assert stale.name == "unknown" and "ends 2021-03-31" in stale.reason
    gap = classify(spy, date(2026, 2, 20))  # 2026 sessions aggregated from 1-minute files
    assert gap.name == "unknown" and "gap" in gap.reason
    assert set(gap.as_dict()) == {"name", "reason", "as_of", "symbol", "features"}
