"""reqMktData like a real Gateway: the day's marks (close, open, high, low) and the generic ticks,
through ib_async and ib_insync (the official ibapi in test_paper_gateway_ibapi.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, datetime, timedelta

import pytest
from ib_async import Stock

from sim.market.sessions import NY
from tests.sim.tws.clients import connect, error_codes, settle

SPY = Stock("SPY", "SMART", "USD")
PRIOR = date(2019, 2, 12)


async def _spy(ib):
    [spy] = await ib.qualifyContractsAsync(SPY)
    return spy


async def test_a_snapshot_carries_the_prior_close_and_todays_open_high_low(ib, gateway) -> None:
    gateway.step(20 * 60)  # 09:50
    [ticker] = await ib.reqTickersAsync(await _spy(ib))
    prior = gateway.replay.source.session_bars("SPY", PRIOR)
    today = [b for b in gateway.replay.bars("SPY") if b.end <= gateway.now()]
    assert ticker.close == prior[-1].close  # tick 9: the previous trading day's close
    assert ticker.open == today[0].open  # tick 14: today's open
    assert ticker.high >= max(b.high for b in today) and ticker.low <= min(b.low for b in today)
    assert ticker.low <= ticker.last <= ticker.high and ticker.minTick == 0.01
    assert ticker.marketPrice() == ticker.last


async def test_before_the_open_the_close_is_yesterdays_and_the_open_refers_to_yesterday(gateway_factory) -> None:
    gateway = await gateway_factory(start=datetime(2019, 2, 13, 8, 0, tzinfo=NY))
    ib = await connect(gateway)
    [ticker] = await ib.reqTickersAsync(await _spy(ib))
    prior = gateway.replay.source.session_bars("SPY", PRIOR)
    assert (ticker.close, ticker.open, ticker.last) == (prior[-1].close, prior[0].open, prior[-1].close)
    assert ticker.high != ticker.high  # NaN: no high for a day that has not traded yet
    ib.disconnect()


async def test_the_stream_moves_high_and_low_with_the_path(ib, gateway) -> None:
    ticker = ib.reqMktData(await _spy(ib))
    highs, lows = [], []
    for _ in range(40):
        gateway.step(15)
        await settle()
        highs.append(ticker.high)
        lows.append(ticker.low)
    assert highs == sorted(highs) and lows == sorted(lows, reverse=True)
    assert highs[-1] > highs[0] or lows[-1] < lows[0]
    assert ticker.close == gateway.replay.source.session_bars("SPY", PRIOR)[-1].close


async def test_generic_ticks_rt_volume_shortable_and_misc_stats(ib, gateway) -> None:
    gateway.step(600)
    ticker = ib.reqMktData(await _spy(ib), "233,236,165,293,295,318")
    for _ in range(5):
        gateway.step(2)
        await settle()
    completed = [b for b in gateway.replay.bars("SPY") if b.end <= gateway.now()]
    assert ticker.rtVolume >= sum(b.volume for b in completed) and ticker.vwap > 0
    assert min(b.low for b in completed) <= ticker.vwap <= max(b.high for b in completed)
    assert ticker.shortable == 3.0  # > 2.5: at least 1000 shares to borrow
    daily = [b for b in gateway.replay.source.daily_bars("SPY") if b.start.date() < gateway.replay.day]
    year = [b for b in daily if b.start.date() >= gateway.replay.day - timedelta(weeks=52)]
    assert ticker.high52week >= max(b.high for b in year) and ticker.low52week <= min(b.low for b in year)
    assert ticker.low13week >= ticker.low52week and ticker.high13week <= ticker.high52week
    assert ticker.avVolume == pytest.approx(sum(b.volume for b in daily[-90:]) / 90, rel=0.02)
    assert ticker.tradeCount > 0 and ticker.volumeRate > 0 and ticker.lastRthTrade == ticker.last


async def test_rt_volume_ticks_add_up_to_the_volume(ib, gateway) -> None:
    gateway.step(300)
    spy = await _spy(ib)
    ticker = ib.reqMktData(spy, "233")
    await settle()
    start = ticker.rtVolume
    sizes: list[float] = []
    ticker.updateEvent += lambda t: sizes.extend(tick.size for tick in t.ticks if tick.tickType == 48)
    for _ in range(30):
        gateway.step(2)
        await settle()
    assert sizes and start + sum(sizes) == ticker.rtVolume


async def test_a_tick_without_data_gets_10090_and_the_rest_streams(ib, gateway) -> None:
    codes = error_codes(ib)
    ticker = ib.reqMktData(await _spy(ib), "236,456")
    await settle()
    assert codes == [10090] and ticker.shortable == 3.0 and ticker.last > 0


async def test_a_tick_ib_does_not_list_for_stocks_is_321_and_nothing_streams(ib, gateway, caplog) -> None:
    codes = error_codes(ib)
    ticker = ib.reqMktData(await _spy(ib), "999")
    await settle()
    gateway.step(5)
    await settle()
    assert codes == [321] and ticker.last != ticker.last  # NaN: IB refuses the whole request
    message = next(r.getMessage() for r in caplog.records if "321" in r.getMessage())
    assert "Incorrect generic tick list of 999" in message and "233(RTVolume)" in message


async def test_a_snapshot_with_generic_ticks_is_321(ib, gateway) -> None:
    codes = error_codes(ib)
    ib.reqMktData(await _spy(ib), "233", snapshot=True)
    await settle()
    assert codes == [321]


async def test_mdoff_streams_only_the_generic_ticks(ib, gateway) -> None:
    ticker = ib.reqMktData(await _spy(ib), "mdoff,236")
    gateway.step(5)
    await settle()
    assert ticker.shortable == 3.0 and ticker.bid != ticker.bid and ticker.close != ticker.close


async def test_ib_insync_gets_the_close_and_rt_volume(gateway, caplog) -> None:
    from ib_insync import IB
    from ib_insync import Stock as InsyncStock

    caplog.set_level(logging.INFO, logger="ib_insync")
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=4, timeout=2)
    try:
        [spy] = await ib.qualifyContractsAsync(InsyncStock("SPY", "SMART", "USD"))
        ticker = ib.reqMktData(spy, "233,165")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and ticker.rtVolume != ticker.rtVolume:
            gateway.step(2)
            await asyncio.sleep(0.01)
        assert ticker.close == gateway.replay.source.session_bars("SPY", PRIOR)[-1].close
        assert ticker.rtVolume > 0 and ticker.avVolume > 0 and ticker.high52week > ticker.low52week
    finally:
        ib.disconnect()
    assert not [r for r in caplog.records if r.name == "ib_insync.Decoder"]
