"""reqHistoricalData as IB answers it: daily bars as yyyyMMdd whatever formatDate asks, useRTH=0
labelling bars on the clock without inventing extended-hours bars, and never another date's bars
for the days asked for (162 "HMDS query returned no data" instead). ib_async and ib_insync."""

from __future__ import annotations

import logging
from datetime import date, datetime

from ib_async import Stock

from sim.market.sessions import NY
from tests.sim.tws.clients import bar_start, connect, error_codes, settle, tap

SPY = Stock("SPY", "SMART", "USD")


async def test_daily_bars_come_back_as_dates_even_with_format_date_2(ib, gateway) -> None:
    gateway.step(1800)
    seen = tap(ib)
    daily = await ib.reqHistoricalDataAsync(SPY, "", "5 D", "1 day", "TRADES", True, formatDate=2)
    weekly = await ib.reqHistoricalDataAsync(SPY, "", "1 M", "1 week", "TRADES", True, formatDate=2)
    minutes = await ib.reqHistoricalDataAsync(SPY, "", "1800 S", "1 min", "TRADES", True, formatDate=2)
    assert [b.date for b in daily][-3:] == [date(2019, 2, 11), date(2019, 2, 12), date(2019, 2, 13)]
    assert all(type(b.date) is date for b in daily + weekly)
    raw = [f for f in seen if f[0] == "17"]
    assert raw[0][5] == "20190207" and len(daily) == 5 and raw[1][5].isdigit() and len(raw[1][5]) == 8
    assert all(isinstance(b.date, datetime) for b in minutes)  # intraday: epoch seconds as asked
    assert raw[2][5].isdigit() and len(raw[2][5]) == 10


async def test_use_rth_0_labels_hourly_bars_on_the_clock_hour(ib, gateway) -> None:
    gateway.step(3 * 3600)  # 12:30
    extended = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 hour", "TRADES", False)
    regular = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 hour", "TRADES", True)
    assert [b.date.astimezone(NY).strftime("%H:%M") for b in regular] == ["09:30", "10:00", "11:00", "12:00"]
    assert [b.date.astimezone(NY).strftime("%H:%M") for b in extended] == ["09:00", "10:00", "11:00", "12:00"]
    assert extended[0].volume == regular[0].volume and extended[0].open == regular[0].open  # same trades


async def test_use_rth_0_adds_no_bar_outside_the_regular_session(ib, gateway_factory) -> None:
    gateway = await gateway_factory(start=datetime(2019, 2, 13, 18, 30, tzinfo=NY))
    client = await connect(gateway, client_id=2)
    bars = await client.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", False)
    times = [bar_start(b).astimezone(NY) for b in bars]
    assert times[0].strftime("%H:%M") == "09:30" and times[-1].strftime("%H:%M") == "15:59" and len(bars) == 390
    client.disconnect()


async def test_a_symbol_without_bars_on_the_day_gets_162_not_another_dates_bars(gateway_with) -> None:
    gateway = await gateway_with(day=date(2026, 2, 10), symbols=("SPY", "NVDA"), whole_data=True)
    ib = await connect(gateway)
    codes = error_codes(ib)
    messages: list[str] = []
    ib.errorEvent += lambda req_id, code, msg, contract: messages.append(msg)
    gateway.step(3600)
    for symbol in ("AMZN", "TSLA"):  # their data holds 2019-02-11..14 only
        bars = await ib.reqHistoricalDataAsync(Stock(symbol, "SMART", "USD"), "", "1 D", "1 min", "TRADES", True)
        assert len(bars) == 0
    assert codes == [162, 162]
    assert messages[0] == "Historical Market Data Service error message:HMDS query returned no data: AMZN@SMART Trades"
    spy = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", True)
    assert {bar_start(b).date() for b in spy} == {date(2026, 2, 10)}
    ib.disconnect()


async def test_n_days_are_the_last_n_trading_days_not_the_last_n_files(gateway_with) -> None:
    """AAPL's data holds 2014-06-05/06 and 2019-02-11..14: "5 D" ending 2019-02-13 is 02-06..02-12,
    so only the two sessions the data holds in that window, never the 2014 files."""
    gateway = await gateway_with(whole_data=True)
    ib = await connect(gateway)
    bars = await ib.reqHistoricalDataAsync(Stock("AAPL", "SMART", "USD"), "", "5 D", "1 hour", "TRADES", True)
    assert {bar_start(b).date() for b in bars} == {date(2019, 2, 11), date(2019, 2, 12)}
    ib.disconnect()


async def test_ib_insync_gets_dates_for_daily_bars_and_an_error_for_no_data(gateway_with, caplog) -> None:
    from ib_insync import IB
    from ib_insync import Stock as InsyncStock

    caplog.set_level(logging.INFO, logger="ib_insync")
    gateway = await gateway_with(day=date(2026, 2, 10), symbols=("SPY", "NVDA"), whole_data=True)
    gateway.step(3600)
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=6, timeout=2)
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    try:
        daily = await ib.reqHistoricalDataAsync(InsyncStock("SPY", "SMART", "USD"), "", "5 D", "1 day",
                                                "TRADES", True, formatDate=2)
        assert all(type(b.date) is date for b in daily) and daily[-1].date == date(2026, 2, 10)  # the bar in progress
        assert len(await ib.reqHistoricalDataAsync(InsyncStock("TSLA", "SMART", "USD"), "", "1 D", "1 min",
                                                   "TRADES", True)) == 0
        await settle()
        assert codes == [162]
    finally:
        ib.disconnect()
    assert not [r for r in caplog.records if r.name == "ib_insync.Decoder"]
