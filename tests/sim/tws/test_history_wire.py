"""reqHistoricalData with a real Gateway's semantics (ib_async as the client)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from ib_async import Stock

from sim.market.sessions import NY
from tests.sim.tws.clients import bar_start, error_codes, settle, tap
from trade.ticks import on_tick

SPY = Stock("SPY", "SMART", "USD")


async def test_one_day_ending_now_includes_the_bar_in_progress(ib, gateway) -> None:
    gateway.step(10 * 60 + 25)  # 09:40:25
    bars = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", True)
    assert bars[-1].date == datetime(2019, 2, 13, 9, 40, tzinfo=NY)  # started, not complete
    assert bars[-2].date == datetime(2019, 2, 13, 9, 39, tzinfo=NY)
    minute = gateway.replay.bars("SPY")[10]
    assert bars[-1].volume < minute.volume and bars[-1].open == pytest.approx(minute.open, abs=0.005)
    fixed = await ib.reqHistoricalDataAsync(SPY, "20190213 09:40:25 US/Eastern", "1 D", "1 min", "TRADES", True)
    assert fixed[-1].date == datetime(2019, 2, 13, 9, 39, tzinfo=NY)  # an explicit end: completed only


async def test_keep_up_to_date_updates_the_bar_in_progress_then_appends_it(ib, gateway) -> None:
    gateway.step(30)
    bars = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", True, keepUpToDate=True)
    assert bars[-1].date == datetime(2019, 2, 13, 9, 30, tzinfo=NY)
    first = bars[-1].close
    gateway.step(20)
    await settle()
    assert len(bars) == 391 and bars[-1].date.minute == 30
    gateway.step(20)  # 09:31:10
    await settle()
    assert len(bars) == 392 and bars[-1].date.minute == 31
    assert bars[-2].close == pytest.approx(gateway.replay.bars("SPY")[0].close, abs=0.005)
    assert first is not None


async def test_symbols_not_replayed_are_served_from_the_data(gateway_with) -> None:
    from tests.sim.tws.clients import connect

    ib = await connect(await gateway_with(whole_data=True))
    aapl = Stock("AAPL", "SMART", "USD")
    [details] = await ib.reqContractDetailsAsync(aapl)
    assert details.longName == "APPLE INC"
    bars = await ib.reqHistoricalDataAsync(aapl, "", "2 D", "1 hour", "TRADES", False)
    assert bars and {bar_start(b).date() for b in bars} == {date(2019, 2, 11), date(2019, 2, 12)}
    assert all(on_tick(p) for b in bars for p in (b.open, b.high, b.low, b.close))
    ib.disconnect()


async def test_weekly_and_monthly_bars_aggregate_the_days(ib) -> None:
    daily = await ib.reqHistoricalDataAsync(SPY, "", "2 M", "1 day", "TRADES", True)
    weekly = await ib.reqHistoricalDataAsync(SPY, "", "2 M", "1 week", "TRADES", True)
    monthly = await ib.reqHistoricalDataAsync(SPY, "", "2 M", "1 month", "TRADES", True)
    assert 6 <= len(weekly) <= 10 and len(monthly) in (2, 3)
    assert sum(b.volume for b in weekly) == pytest.approx(sum(b.volume for b in daily))
    week = [d for d in daily if d.date.isocalendar()[1] == weekly[-1].date.isocalendar()[1]]
    assert weekly[-1].high == max(d.high for d in week) and weekly[-1].close == week[-1].close


async def test_quote_bars_differ_from_trades_and_carry_no_volume(ib, gateway) -> None:
    gateway.step(600)
    trades = await ib.reqHistoricalDataAsync(SPY, "20190213 09:40:00 US/Eastern", "600 S", "1 min", "TRADES", True)
    bid = await ib.reqHistoricalDataAsync(SPY, "20190213 09:40:00 US/Eastern", "600 S", "1 min", "BID", True)
    ask = await ib.reqHistoricalDataAsync(SPY, "20190213 09:40:00 US/Eastern", "600 S", "1 min", "ASK", True)
    mid = await ib.reqHistoricalDataAsync(SPY, "20190213 09:40:00 US/Eastern", "600 S", "1 min", "MIDPOINT", True)
    assert len(trades) == len(bid) == len(ask) == len(mid) == 10
    assert all(a.close > b.close for a, b in zip(ask, bid, strict=True))
    assert {b.volume for b in bid + ask + mid} == {-1}


async def test_seconds_bars_come_from_the_path_within_ibs_limits(ib, gateway) -> None:
    gateway.step(300)
    bars = await ib.reqHistoricalDataAsync(SPY, "", "120 S", "30 secs", "TRADES", True)
    assert len(bars) == 4 and bars[1].date - bars[0].date == timedelta(seconds=30)
    minute = gateway.replay.bars("SPY")[3]  # 09:33
    pair = [b for b in bars if b.date.astimezone(NY).minute == 33]
    assert sum(b.volume for b in pair) == minute.volume
    codes = error_codes(ib)
    assert len(await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 secs", "TRADES", True)) == 0
    assert codes == [162]


async def test_other_data_types_are_refused_with_162(ib) -> None:
    codes = error_codes(ib)
    assert len(await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "OPTION_IMPLIED_VOLATILITY", True)) == 0
    assert codes == [162]


async def test_bar_and_execution_times_name_the_zone_as_a_gateway_does(ib, gateway) -> None:
    from ib_async import MarketOrder

    seen = tap(ib)
    await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", True)
    [spy] = await ib.qualifyContractsAsync(SPY)
    ib.placeOrder(spy, MarketOrder("BUY", 1))
    await settle()
    bars = next(f for f in seen if f[0] == "17")
    execution = next(f for f in seen if f[0] == "11")
    assert bars[5] == "20190212 09:30:00 US/Eastern"
    assert execution[15] == "20190213 09:30:00 US/Eastern"
