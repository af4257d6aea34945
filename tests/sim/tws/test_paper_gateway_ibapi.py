"""The official client, `ibapi` 9.81, on the behaviours of a paper Gateway a script relies on:
the day's marks and generic ticks, IB's date formats, extended hours, trailing stops, no stale
history, scanners, matching symbols and the asset classes served."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.scanner import ScannerSubscription

from sim.market.sessions import NY
from tests.sim.tws.test_ibapi import App, spy


def _start(start: datetime | None = None, day: date = date(2019, 2, 13), whole_data: bool = False,
           symbols: tuple[str, ...] = ("SPY", "QQQ", "MSFT")) -> tuple[Any, App, threading.Thread]:
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource
    from tests.paths import DATA

    source = CsvBarSource(DATA, None if whole_data else symbols)
    handle = GatewaySimulator.build(source, day, symbols, port=0, start=start).start_in_thread()
    app = App()
    app.connect(handle.host, handle.port, 11)
    reader = threading.Thread(target=app.run, daemon=True)
    reader.start()
    app.wait("nextValidId")
    return handle, app, reader


@pytest.fixture
def paper() -> Iterator[Any]:
    """`paper(start=..., day=..., whole_data=...)`: a gateway thread and a connected ibapi app."""
    started: list[tuple[Any, App, threading.Thread]] = []

    def make(**kwargs: Any) -> tuple[Any, App]:
        started.append(_start(**kwargs))
        return started[-1][0], started[-1][1]

    yield make
    for handle, app, reader in started:
        app.disconnect()
        reader.join(5)
        handle.stop()


def _order(action: str, kind: str, qty: float = 10, **fields: Any) -> Order:
    order = Order()
    order.action, order.orderType, order.totalQuantity = action, kind, qty
    order.eTradeOnly = order.firmQuoteOnly = False  # not accepted by IB since API 9.76
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def test_ibapi_market_data_carries_the_days_marks_and_the_generic_ticks(paper) -> None:
    handle, app = paper(start=datetime(2019, 2, 13, 10, 0, tzinfo=NY))
    app.reqMktData(21, spy(), "233,236,165", False, False, [])
    prices = {}
    for tick in (9, 14, 6, 7, 19, 20):
        args = app.wait("tickPrice", where=lambda a, t=tick: a[0] == 21 and a[1] == t)
        prices[tick] = args[2]
    shortable = app.wait("tickGeneric", where=lambda a: a[0] == 21 and a[1] == 46)
    handle.call(handle.sim.step, 3)
    rt_volume = app.wait("tickString", where=lambda a: a[0] == 21 and a[1] == 48)
    source = handle.call(lambda: handle.sim.replay.source)
    assert prices[9] == source.session_bars("SPY", date(2019, 2, 12))[-1].close
    assert prices[14] == source.session_bars("SPY", date(2019, 2, 13))[0].open
    assert prices[7] <= prices[14] <= prices[6] and prices[19] < prices[20]
    assert shortable[2] == 3.0
    price, size, ms, total, vwap, single = rt_volume[2].split(";")
    assert int(ms) // 1000 >= int(datetime(2019, 2, 13, 10, 0, tzinfo=NY).timestamp()) and int(total) > 0
    assert float(vwap) > 0 and single == "false"


def test_ibapi_daily_bars_are_yyyymmdd_and_extended_hourly_bars_start_on_the_hour(paper) -> None:
    handle, app = paper(start=datetime(2019, 2, 13, 11, 0, tzinfo=NY))
    app.reqHistoricalData(22, spy(), "", "3 D", "1 day", "TRADES", 1, 2, False, [])
    app.wait("historicalDataEnd", where=lambda a: a[0] == 22)
    daily = [a[1].date for a in app.seen["historicalData"] if a[0] == 22]
    assert daily == ["20190211", "20190212", "20190213"]
    app.reqHistoricalData(23, spy(), "", "1 D", "1 hour", "TRADES", 0, 1, False, [])
    app.wait("historicalDataEnd", where=lambda a: a[0] == 23)
    hourly = [a[1].date for a in app.seen["historicalData"] if a[0] == 23]
    assert [h.split()[1] for h in hourly] == ["09:00:00", "10:00:00"]


def test_ibapi_gets_162_for_a_symbol_without_bars_that_day(paper) -> None:
    handle, app = paper(day=date(2026, 2, 10), whole_data=True, symbols=("SPY",),
                        start=datetime(2026, 2, 10, 11, 0, tzinfo=NY))
    amzn = spy()
    amzn.symbol = "AMZN"
    app.reqHistoricalData(24, amzn, "", "1 D", "1 min", "TRADES", 1, 1, False, [])
    error = app.wait("error", where=lambda a: a[0] == 24)
    assert error[1:] == (162, "Historical Market Data Service error message:HMDS query returned no data: "
                              "AMZN@SMART Trades")
    assert [a for a in app.seen["historicalData"] if a[0] == 24] == []


def test_ibapi_order_before_the_open_is_warned_with_399_before_its_status(paper) -> None:
    handle, app = paper(start=datetime(2019, 2, 13, 8, 0, tzinfo=NY))
    order_id = app.seen["nextValidId"][-1][0]
    app.placeOrder(order_id, spy(), _order("BUY", "MKT"))
    app.wait("orderStatus", where=lambda a: a[0] == order_id and a[1] == "PreSubmitted")
    [warning] = [a for a in app.seen["error"] if a[0] == order_id]
    assert warning[1] == 399 and warning[2].endswith("until 2019-02-13 09:30:00 US/Eastern")
    assert app.seen["orderStatus"][0][-2] == ""  # whyHeld: empty (IB documents only "locate")


def test_ibapi_open_orders_carry_a_trailing_stop_as_it_moves(paper) -> None:
    handle, app = paper()
    order_id = app.seen["nextValidId"][-1][0]
    app.placeOrder(order_id, spy(), _order("SELL", "TRAIL", auxPrice=0.5))
    app.wait("orderStatus", where=lambda a: a[0] == order_id)
    for _ in range(20):
        handle.call(handle.sim.step, 30)
    handle.call(lambda: None)
    app.reqOpenOrders()
    app.wait("openOrderEnd")
    stops = [a[2].trailStopPrice for a in app.seen["openOrder"] if a[0] == order_id]
    assert stops == sorted(stops) and len(set(stops)) > 2
    assert stops[-1] == handle.call(lambda: handle.sim.engine.open_orders()[0].trail_stop)


def test_ibapi_scanner_matching_symbols_and_other_asset_classes(paper) -> None:
    handle, app = paper(start=datetime(2019, 2, 13, 10, 0, tzinfo=NY))
    scan = ScannerSubscription()
    scan.instrument, scan.locationCode, scan.scanCode = "STK", "STK.US.MAJOR", "MOST_ACTIVE"
    app.reqScannerSubscription(25, scan, [], [])
    app.wait("scannerDataEnd", where=lambda a: a[0] == 25)
    ranked = [a[2].contract.symbol for a in app.seen["scannerData"] if a[0] == 25]
    assert sorted(ranked) == ["MSFT", "QQQ", "SPY"]
    app.reqMatchingSymbols(26, "SP")
    (_, descriptions) = app.wait("symbolSamples", where=lambda a: a[0] == 26)
    assert [d.derivativeSecTypes for d in descriptions][0] == ["CFD", "OPT", "IOPT", "WAR"]
    future = Contract()
    future.symbol, future.secType, future.exchange, future.currency = "ES", "FUT", "CME", "USD"
    future.lastTradeDateOrContractMonth = "202603"
    app.reqContractDetails(27, future)
    error = app.wait("error", where=lambda a: a[0] == 27)
    assert error[1] == 200 and "serves US stocks and ETFs only" in error[2]
