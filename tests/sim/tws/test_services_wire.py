"""The rest of the API with ib_async: what-if orders, contract details, P&L, tick-by-tick,
head timestamp, matching symbols, market rules, histograms, positions by account."""

from __future__ import annotations

from datetime import datetime

import pytest
from ib_async import Forex, MarketOrder, Stock, TickByTickAllLast, TickByTickBidAsk

from sim.market.sessions import NY
from tests.sim.tws.clients import error_codes, settle, tap
from trade.ticks import on_tick

SPY = Stock("SPY", "SMART", "USD")


async def test_what_if_orders_preview_commission_and_margin_and_place_nothing(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    state = await ib.whatIfOrderAsync(spy, MarketOrder("BUY", 100))
    price = gateway.replay.price_at("SPY", gateway.now())
    assert state.commission > 0
    assert float(state.initMarginChange) == pytest.approx(100 * price / 4, rel=0.01)
    assert float(state.initMarginAfter) == pytest.approx(float(state.initMarginChange))
    fx = await ib.whatIfOrderAsync(Forex("EURUSD"), MarketOrder("BUY", 100))
    assert fx.commission == 2.0 and "margin not estimated" in fx.warningText
    assert gateway.engine.orders() == []


async def test_what_if_for_a_stock_without_an_exchange_is_321(ib) -> None:
    """ib_async 2.1.0 files 321 under warnings and so never ends the request (ib_insync raises
    RequestError 321: tests/sim/test_gateway_ib_insync.py); the error itself is what a Gateway
    sends, at once."""
    codes = error_codes(ib)
    ib.client.placeOrder(ib.client.getReqId(), Stock("XXX"), MarketOrder("BUY", 100, whatIf=True))
    await settle()
    assert codes == [321]


async def test_contract_details_like_a_real_gateway_for_a_us_stock(gateway_with) -> None:
    from tests.sim.tws.clients import connect

    ib = await connect(await gateway_with(day=datetime(2025, 7, 3).date(), symbols=("SPY", "NVDA")))
    try:
        [nvda] = await ib.reqContractDetailsAsync(Stock("NVDA", "SMART", "USD"))
        assert (nvda.longName, nvda.industry, nvda.category) == ("NVIDIA CORP", "Technology", "Semiconductors")
        assert nvda.timeZoneId == "US/Eastern" and nvda.minTick == 0.01 and nvda.stockType == "COMMON"
        trading, liquid = nvda.tradingHours.split(";"), nvda.liquidHours.split(";")
        assert trading[:2] == ["20250703:0400-20250703:1700", "20250704:CLOSED"]  # half day, holiday
        assert liquid[:2] == ["20250703:0930-20250703:1300", "20250704:CLOSED"]
        assert liquid[4] == "20250707:0930-20250707:1600" and trading[4] == "20250707:0400-20250707:2000"
    finally:
        ib.disconnect()


async def test_pnl_streams_follow_the_account(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    pnl = ib.reqPnL("DU1234567")
    single = ib.reqPnLSingle("DU1234567", "", spy.conId)
    await settle()
    assert pnl.dailyPnL == 0 and single.position == 0
    ib.placeOrder(spy, MarketOrder("BUY", 100))
    await settle()
    gateway.step(1800)
    await settle()
    mark = gateway.replay.price_at("SPY", gateway.now())
    [fill] = ib.fills()
    assert single.position == 100
    assert single.unrealizedPnL == pytest.approx((mark - fill.execution.price) * 100 - fill.commissionReport.commission, abs=0.02)
    assert single.value == pytest.approx(100 * mark, abs=0.02)
    assert pnl.unrealizedPnL == pytest.approx(single.unrealizedPnL, abs=0.02)
    assert pnl.dailyPnL == pytest.approx(single.dailyPnL, abs=0.02)


async def test_tick_by_tick_all_last_prints_the_price_path(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    ticker = ib.reqTickByTickData(spy, "AllLast")
    quotes = ib.reqTickByTickData(spy, "BidAsk")
    ticks: list = []
    ticker.updateEvent += lambda t: ticks.extend(t.tickByTicks)  # one ticker per contract
    assert quotes is ticker
    for _ in range(30):
        gateway.step(2)
        await settle()
    seen = [t for t in ticks if isinstance(t, TickByTickAllLast)]
    bidask = [t for t in ticks if isinstance(t, TickByTickBidAsk)]
    assert len(seen) > 10 and len(bidask) > 10 and all(on_tick(t.price) for t in seen)
    assert all(b.bidPrice < b.askPrice for b in bidask)
    assert seen[-1].price == pytest.approx(gateway.replay.price_at("SPY", gateway.now()), abs=0.006)


async def test_head_timestamp_is_the_first_bar_in_the_data(ib) -> None:
    head = await ib.reqHeadTimeStampAsync(SPY, "TRADES", True, 1)
    assert head <= datetime(2011, 1, 3, 9, 30, tzinfo=NY)


async def test_matching_symbols_market_rule_and_histogram(ib, gateway) -> None:
    found = await ib.reqMatchingSymbolsAsync("MS")
    assert [d.contract.symbol for d in found] == ["MSFT"]
    [details] = await ib.reqContractDetailsAsync(SPY)
    rule = await ib.reqMarketRuleAsync(int(details.marketRuleIds.split(",")[0]))
    assert [(r.lowEdge, r.increment) for r in rule] == [(0.0, 0.0001), (1.0, 0.01)]
    histogram = await ib.reqHistogramDataAsync(SPY, True, "2 days")
    assert histogram and all(on_tick(h.price) for h in histogram)
    assert sum(h.count for h in histogram) > 1_000_000


async def test_positions_by_account(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    ib.placeOrder(spy, MarketOrder("BUY", 4))
    await settle()
    seen = tap(ib)
    ib.client.reqPositionsMulti(77, "DU1234567", "")
    await settle()
    multi = [f for f in seen if f[0] in ("71", "72")]
    assert [(f[0], f[3], f[5], f[15]) for f in multi[:1]] == [("71", "DU1234567", "SPY", "4")]
    assert multi[-1] == ["72", "1", "77"]
