"""The synthetic market knows real tickers only (sim/market/tickers.py): the shipped list of
US stocks and ETFs and the shared data's symbols. An unknown one has no bars and the Gateway
simulator answers it as IB does (error 200); a real one it does not replay has history on demand
and no live data (354), as a real contract without a subscription."""

from __future__ import annotations

from datetime import date

import pytest

from sim.gateway import GatewaySimulator
from sim.market.sessions import previous_sessions
from sim.market.synthetic import SyntheticMarket
from sim.market.tickers import data_symbols, known_tickers, shipped
from tests.paths import DATA
from trade.ib.session import ib_broker

DAY = date(2026, 2, 6)


def test_the_shipped_list_is_real_well_known_tickers_with_their_kind() -> None:
    listed = shipped()
    assert 300 <= len(listed) <= 600
    assert {"SPY", "QQQ", "AAPL", "NVDA", "TSLA", "AMD", "SOXL"} <= set(listed)
    assert listed["SPY"].kind == "etf" and listed["SOXL"].kind == "leveraged"
    assert listed["NVDA"].kind == "stock" and listed["NVDA"].name == "NVIDIA"
    assert "XYZQ" not in listed


def test_the_shared_data_adds_its_symbols_when_it_is_there(tmp_path) -> None:
    if not (DATA / "daily").is_dir():
        pytest.skip("no shared data beside the checkout")
    assert {"UTX", "FB", "ANTM"} <= data_symbols(DATA)  # real once, no longer listed
    assert known_tickers(DATA) >= set(shipped()) | data_symbols(DATA)
    assert known_tickers(tmp_path) == frozenset(shipped())  # no data: the shipped list alone


def test_an_unknown_ticker_has_no_bars_and_a_known_one_has_history_on_demand() -> None:
    days = [*previous_sessions(DAY, 5), DAY]
    market = SyntheticMarket(7, ["SPY", "XYZQ"], days, universe=known_tickers(None))
    assert market.sessions("XYZQ") == [] and market.daily_bars("XYZQ") == []
    assert market.session_bars("NFLX", DAY) and market.daily_bars("NFLX")  # not replayed, real
    assert "NFLX" in market.symbols() and "XYZQ" not in market.symbols()
    same = SyntheticMarket(7, ["NFLX"], days)  # each symbol its own seeded stream
    assert same.session_bars("NFLX", DAY) == market.session_bars("NFLX", DAY)


async def test_the_simulator_answers_an_unknown_ticker_as_ib_does() -> None:
    days = [*previous_sessions(DAY, 5), DAY]
    market = SyntheticMarket(7, ["SPY", "XYZQ"], days, universe=known_tickers(None))
    sim = GatewaySimulator.build(market, DAY, ["SPY", "XYZQ"], port=0)
    await sim.start()
    try:
        async with ib_broker(sim.host, sim.port, 9) as broker:
            known = await broker.qualify(["SPY", "NFLX", "XYZQ"])
    finally:
        await sim.stop()
    assert known == {"SPY": True, "NFLX": True, "XYZQ": False}
