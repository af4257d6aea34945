"""The data aggregator: verdicts from IB daily history, FMP's screener and key metrics on top,
and an FMP failure stopping the cycle before any order."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from sim.market.sessions import NY
from tests.fakes.fmp_server import KEY_METRICS, SCREENER, FakeFMPServer, company
from tests.trade.portfolio.conftest import MONDAY, RULES, SYMBOLS
from trade.models import Bar
from trade.portfolio.cycle import CycleFailed
from trade.portfolio.fmp import FmpClient
from trade.portfolio.screener import NoCandidates, judge, screen
from trade.portfolio.universe import PortfolioRules

KEY = "fmp-test-key-0123456789"


def _daily(n: int, last: date, close: float = 50.0, volume: float = 1e6) -> list[Bar]:
    return [Bar("X", datetime.combine(last - timedelta(days=n - 1 - i), datetime.min.time(),
                                      tzinfo=NY).replace(hour=9, minute=30),
                close, close, close, close, volume, 23400) for i in range(n)]


@pytest.mark.parametrize(("bars", "kept", "words"), [
    (_daily(250, date(2019, 2, 8)), True, "kept: 250 daily bars"),
    (_daily(120, date(2019, 2, 8)), False, "120 daily bars (< 200 needed"),
    (_daily(250, date(2019, 1, 2)), False, "stale data, last daily bar 2019-01-02"),
    (_daily(250, date(2019, 2, 8), close=3.0, volume=1e8), False, "price 3.00 < 5.00"),
    (_daily(250, date(2019, 2, 8), volume=1000), False, "avg dollar volume 50,000 < 5,000,000"),
])
def test_judge_states_each_reason(bars, kept, words):
    verdict = judge("X", bars, PortfolioRules(), MONDAY)
    assert verdict.kept is kept and words in verdict.reason


async def test_ib_history_alone_screens_the_universe(weekly_market):
    market = await weekly_market()
    result = await screen(market.broker, [*SYMBOLS, "ZZZZ"], RULES, MONDAY)
    assert result.source == "ib"
    assert [c.symbol for c in result.candidates] == list(SYMBOLS)
    assert result.verdicts[-1].as_dict()["reason"] == "dropped: unknown to the broker (no contract)"
    ko = result.candidates[0]
    assert ko.bars[-1].start.date() == date(2019, 2, 8)  # completed sessions only
    assert ko.fundamentals == {}


async def test_fmp_screens_and_annotates_on_top_of_ib(weekly_market):
    market = await weekly_market()
    server = await FakeFMPServer(KEY, [company("KO", 2e11), company("PEP", 1.5e11),
                                       company("MSFT", 8e11), company("NEE", 9e10),
                                       company("V", 3e11)],
                                 {"KO": {"earningsYieldTTM": 0.04, "returnOnEquityTTM": 0.4}}).start()
    try:
        async with FmpClient(KEY, server.base_url, backoff_s=0.01) as fmp:
            result = await screen(market.broker, SYMBOLS, RULES, MONDAY, fmp)
    finally:
        await server.stop()
    assert result.source == "fmp+ib"
    assert "COST" not in [c.symbol for c in result.candidates]
    cost = next(v for v in result.verdicts if v.symbol == "COST")
    assert cost.reason.startswith("dropped: not in FMP's screener (market cap >=")
    ko = result.candidates[0]
    assert ko.fundamentals["earningsYieldTTM"] == 0.04 and ko.fundamentals["marketCap"] is None
    assert server.count(KEY_METRICS) == 5


async def test_nothing_left_is_one_line(weekly_market):
    market = await weekly_market()
    with pytest.raises(NoCandidates, match="no candidate survived the screen .*check the universe"):
        await screen(market.broker, ["ZZZZ"], RULES, MONDAY)


async def test_an_fmp_failure_stops_the_cycle_before_any_order(weekly_market, caplog):
    market = await weekly_market()
    server = await FakeFMPServer(KEY, [company(s, 1e11) for s in SYMBOLS]).start()
    server.fail(SCREENER, 429, times=10)
    try:
        cycle = market.cycle(fmp=lambda: FmpClient(KEY, server.base_url, attempts=2,
                                                    backoff_s=0.01))
        with pytest.raises(CycleFailed) as failure:
            await cycle.run()
    finally:
        await server.stop()
    message = str(failure.value)
    assert "\n" not in message and "rate limited (429) after 2 attempts" in message
    assert KEY not in message and KEY not in caplog.text
    assert market.refs() == []
    assert market.db.weekly_cycle(MONDAY).status == "failed"

