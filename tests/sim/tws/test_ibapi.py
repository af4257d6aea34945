"""The official client, `ibapi` 9.81.1 (API versions 100..157; the simulator negotiates 157),
against the simulator: every server message through its Decoder, then a live session on a
gateway thread covering the handshake, contract details, history, real-time bars, market data,
account summary with tags, positions, a bracket through its fill with execDetails and
commissionReport, executions filtered by client, open orders, cancel and global cancel.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from typing import Any

import pytest
from ibapi.client import EClient
from ibapi.comm import read_fields
from ibapi.contract import Contract
from ibapi.decoder import Decoder
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from sim.tws.framing import encode
from tests.sim.test_tws_roundtrip import messages

IBAPI_VERSION = 157
IBAPI_NAMES = {  # where ibapi's wrapper method differs from ib_async's
    "priceSizeTick": "tickPrice", "historicalDataEnd": "historicalDataEnd",
}


class Recorder(EWrapper):
    """Records every wrapper call (name, args) and keeps them in a queue for the live tests."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.events: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()

    def __getattribute__(self, name: str) -> Any:
        attr = object.__getattribute__(self, name)
        if name.startswith("_") or not callable(attr) or name not in EWRAPPER_METHODS:
            return attr

        def record(*args: Any) -> None:
            object.__getattribute__(self, "calls").append((name, args))
            object.__getattribute__(self, "events").put((name, args))
            return attr(*args)

        return record


EWRAPPER_METHODS = {n for n in dir(EWrapper) if not n.startswith("_") and callable(getattr(EWrapper, n))}


def decode(fields: list[object]) -> Recorder:
    wrapper = Recorder()
    payload = encode(fields)[4:]
    Decoder(wrapper, IBAPI_VERSION).interpret(read_fields(payload))
    return wrapper


def test_every_server_message_decodes_with_ibapi(caplog) -> None:
    """Except the answers to requests ibapi 9.81 cannot make (its decoder has no entry for them)."""
    caplog.set_level(logging.ERROR, logger="ibapi")
    known = Decoder(Recorder(), IBAPI_VERSION).msgId2handleInfo
    for fields, method in messages(IBAPI_VERSION):
        if int(str(fields[0])) not in known:
            continue
        wrapper = decode(fields)
        names = [n for n, _ in wrapper.calls]
        expected = IBAPI_NAMES.get(method, method)
        assert expected in names, f"message {fields[0]}: ibapi called {names}, expected {expected}"
    problems = [r.getMessage() for r in caplog.records if r.name != "ibapi.wrapper"]  # it logs errors it is handed
    assert not problems, problems[:3]


# -- a live session --------------------------------------------------------------------------


class App(Recorder, EClient):
    def __init__(self) -> None:
        Recorder.__init__(self)
        EClient.__init__(self, self)

    def wait(self, name: str, timeout: float = 5.0, where: Any = None) -> tuple[Any, ...]:
        """The next call of `name` (matching `where(args)`), skipping others (kept in `seen`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got, args = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen[got].append(args)
            if got == name and (where is None or where(args)):
                return args
        raise AssertionError(f"no {name} within {timeout} s; seen {sorted(self.seen)}")

    @property
    def seen(self) -> dict[str, list[tuple[Any, ...]]]:
        if "_seen" not in self.__dict__:
            self.__dict__["_seen"] = defaultdict(list)
        return self.__dict__["_seen"]


def spy() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "SPY", "STK", "SMART", "USD"
    return c


@pytest.fixture
def live():
    """A gateway on its own thread (ibapi blocks) and a connected ibapi client (clientId 7)."""
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource
    from tests.conftest import TEST_DAY, TEST_SYMBOLS
    from tests.paths import DATA

    sim = GatewaySimulator.build(CsvBarSource(DATA, TEST_SYMBOLS), TEST_DAY, TEST_SYMBOLS, port=0,
                                 master_client_id=9)
    handle = sim.start_in_thread()
    app = App()
    app.connect(handle.host, handle.port, 7)
    reader = threading.Thread(target=app.run, daemon=True)
    reader.start()
    app.wait("nextValidId")
    yield handle, app
    app.disconnect()
    reader.join(5)
    handle.stop()


def test_ibapi_handshake_negotiates_157_and_sees_the_account(live) -> None:
    handle, app = live
    assert app.serverVersion() == IBAPI_VERSION
    app.reqManagedAccts()
    assert app.wait("managedAccounts") == ("DU1234567",)


def test_ibapi_contract_details_history_real_time_bars_and_market_data(live) -> None:
    handle, app = live
    app.reqContractDetails(1, spy())
    (_, details) = app.wait("contractDetails")
    assert (details.contract.symbol, details.timeZoneId, details.minTick) == ("SPY", "US/Eastern", 0.01)
    assert details.liquidHours.startswith("20190213:0930-20190213:1600")
    app.reqHistoricalData(2, spy(), "", "1 D", "1 min", "TRADES", 1, 1, False, [])
    app.wait("historicalDataEnd")
    assert len([a for a in app.seen["historicalData"] if a[0] == 2]) == 390
    app.reqRealTimeBars(3, spy(), 5, "TRADES", True, [])
    app.reqMktData(4, spy(), "", False, False, [])
    app.wait("tickPrice", where=lambda a: a[0] == 4 and a[1] == 4)  # both requests are in
    handle.call(handle.sim.step, 30)
    bar = app.wait("realtimeBar", where=lambda a: a[0] == 3)
    assert bar[3] >= max(bar[2], bar[5]) >= min(bar[2], bar[5]) >= bar[4]  # high, open/close, low


def test_ibapi_account_summary_with_tags_and_positions(live) -> None:
    handle, app = live
    app.reqAccountSummary(5, "All", "NetLiquidation,BuyingPower")
    app.wait("accountSummaryEnd")
    tags = [a[2] for a in app.seen["accountSummary"] if a[0] == 5]
    assert tags == ["NetLiquidation", "BuyingPower"]
    app.reqPositions()
    app.wait("positionEnd")
    assert app.seen["position"] == []


def test_ibapi_bracket_fills_with_exec_details_and_commission_then_executions_by_client(live) -> None:
    handle, app = live
    price = handle.call(lambda: handle.sim.replay.price_at("SPY", handle.sim.now()))
    first = app.seen["nextValidId"][-1][0]
    legs = []
    for i, (action, kind, lmt, aux) in enumerate([("BUY", "MKT", 0.0, 0.0), ("SELL", "LMT", round(price * 1.2, 2), 0.0),
                                                  ("SELL", "STP", 0.0, round(price * 0.8, 2))]):
        order = Order()
        order.action, order.orderType, order.totalQuantity = action, kind, 10
        order.lmtPrice, order.auxPrice = lmt, aux
        order.parentId = first if i else 0
        order.transmit = i == 2
        order.orderRef = "ibapi:bracket"
        order.eTradeOnly = order.firmQuoteOnly = False  # not accepted by IB since API 9.76
        legs.append(order)
        app.placeOrder(first + i, spy(), order)
    (_, _, execution) = app.wait("execDetails")
    (report,) = app.wait("commissionReport")
    assert (execution.orderId, execution.side, execution.shares, execution.orderRef) == (first, "BOT", 10, "ibapi:bracket")
    assert report.execId == execution.execId and report.commission > 0
    app.wait("orderStatus", where=lambda a: a[0] == first + 2 and a[1] == "PreSubmitted")
    app.reqOpenOrders()
    app.wait("openOrderEnd")
    assert {a[0] for a in app.seen["openOrder"]} >= {first + 1, first + 2}
    app.cancelOrder(first + 1)
    app.wait("orderStatus", where=lambda a: a[0] == first + 1 and a[1] == "Cancelled")
    app.wait("error", where=lambda a: a[0] == first + 1 and a[1] == 202)
    app.reqGlobalCancel()
    app.wait("orderStatus", where=lambda a: a[0] == first + 2 and a[1] == "Cancelled")
    other = ExecutionFilter()
    other.clientId = 8  # someone else's executions: none for this client
    app.reqExecutions(6, other)
    app.wait("execDetailsEnd", where=lambda a: a[0] == 6)
    app.reqExecutions(7, ExecutionFilter())
    app.wait("execDetailsEnd", where=lambda a: a[0] == 7)
    assert [a[2].execId for a in app.seen["execDetails"] if a[0] == 7] == [execution.execId]
    assert [a for a in app.seen["execDetails"] if a[0] == 6] == []
