"""Client -> server: what the real clients put on the wire parses into the right requests.

The clients' own `Client` objects encode the requests (captured instead of sent), at the lowest
and highest versions each negotiates, so placeOrder's version-gated middle (faProfile < 177) and
tail are exercised the way they arrive from a live client.
"""

from __future__ import annotations

import ib_async
import ib_insync
import pytest

from sim.tws import requests as rq
from sim.tws.framing import FrameReader

CASES = [(ib_async, 157), (ib_async, 176), (ib_async, 178), (ib_insync, 157), (ib_insync, 176)]


def capturing_client(lib, sv: int):
    client = lib.client.Client(lib.wrapper.Wrapper(lib.IB()))
    frames: list[list[str]] = []
    reader = FrameReader()
    client.conn.sendMsg = lambda data: frames.extend(reader.feed(data))
    client.connState = client.CONNECTED
    client._serverVersion = sv
    return client, frames


def parse_placed(fields: list[str], sv: int) -> rq.PlaceOrder:
    req = rq.parse_request(fields, sv)
    assert isinstance(req, rq.PlaceOrder), req
    return req


@pytest.mark.parametrize(("lib", "sv"), CASES)
async def test_bracket_child_order_parses_with_ids_prices_and_oca(lib, sv: int) -> None:
    client, frames = capturing_client(lib, sv)
    contract = lib.Stock("SPY", "SMART", "USD")
    order = lib.StopOrder("SELL", 10, 99.5, orderRef="bot:1", ocaGroup="oca-1", ocaType=1,
                          parentId=41, tif="GTC", transmit=True, outsideRth=True)
    client.placeOrder(42, contract, order)
    req = rq.parse_request(frames[0], sv)
    assert isinstance(req, rq.PlaceOrder)
    assert (req.order_id, req.contract.ticker, req.action, req.total_qty) == (42, "SPY", "SELL", 10.0)
    assert (req.order_type, req.lmt_price, req.aux_price, req.tif) == ("STP", None, 99.5, "GTC")
    assert (req.oca_group, req.oca_type, req.parent_id, req.order_ref) == ("oca-1", 1, 41, "bot:1")
    assert req.transmit and req.outside_rth


@pytest.mark.parametrize(("lib", "sv"), CASES)
async def test_what_if_flag_is_found_behind_the_variable_blocks(lib, sv: int) -> None:
    client, frames = capturing_client(lib, sv)
    contract = lib.Stock("SPY", "SMART", "USD")
    plain = lib.LimitOrder("BUY", 1, 100.0)
    preview = lib.LimitOrder("BUY", 1, 100.0, whatIf=True, algoStrategy="Adaptive",
                             algoParams=[lib.TagValue("adaptivePriority", "Normal")], hedgeType="")
    client.placeOrder(1, contract, plain)
    client.placeOrder(2, contract, preview)
    assert [parse_placed(f, sv).what_if for f in frames] == [False, True]


@pytest.mark.parametrize(("lib", "sv"), CASES)
async def test_market_data_requests_parse(lib, sv: int) -> None:
    client, frames = capturing_client(lib, sv)
    contract = lib.Stock("QQQ", "SMART", "USD")
    client.reqHistoricalData(5, contract, "20190213 15:00:00 UTC", "2 D", "5 mins", "TRADES", 1, 1, True, [])
    client.reqRealTimeBars(6, contract, 5, "TRADES", True, [])
    client.reqMktData(7, contract, "", True, False, [])
    client.reqContractDetails(8, contract)
    client.reqExecutions(9, lib.ExecutionFilter(clientId=3, symbol="QQQ", side="BUY"))
    client.cancelOrder(10)
    hist, rtb, mkt, details, execs, cancel = (rq.parse_request(f, sv) for f in frames)
    assert isinstance(hist, rq.HistoricalDataRequest)
    assert (hist.req_id, hist.contract.ticker, hist.end, hist.duration, hist.bar_size) == (
        5, "QQQ", "20190213 15:00:00 UTC", "2 D", "5 mins")
    assert hist.use_rth and hist.keep_up_to_date and hist.format_date == 1
    assert isinstance(rtb, rq.RealTimeBarsRequest) and (rtb.req_id, rtb.bar_size) == (6, 5)
    assert isinstance(mkt, rq.MarketDataRequest) and (mkt.req_id, mkt.snapshot) == (7, True)
    assert isinstance(details, rq.ContractDetailsRequest) and details.contract.ticker == "QQQ"
    assert isinstance(execs, rq.ExecutionsRequest)
    assert (execs.req_id, execs.client_id, execs.symbol, execs.side) == (9, 3, "QQQ", "BUY")
    assert cancel == rq.CancelOrder(10)


def test_unknown_messages_are_ignored_and_garbage_is_a_clear_error() -> None:
    assert rq.parse_request(["999", "1", "1"], 178) is None  # not a TWS API request
    with pytest.raises(rq.RequestError, match="message id"):
        rq.parse_request(["x"], 178)
    with pytest.raises(rq.RequestError, match="too few fields"):
        rq.parse_request(["3", "1"], 178)


@pytest.mark.parametrize(("lib", "sv"), CASES)
async def test_good_after_good_till_and_trailing_fields_parse(lib, sv: int) -> None:
    client, frames = capturing_client(lib, sv)
    contract = lib.Stock("SPY", "SMART", "USD")
    trail = lib.Order(action="SELL", totalQuantity=5, orderType="TRAIL", trailingPercent=1.5,
                      trailStopPrice=270.5, tif="GTD", goodTillDate="20190213 15:00:00 US/Eastern",
                      goodAfterTime="20190213-15:00:00")
    client.placeOrder(3, contract, trail)
    req = parse_placed(frames[0], sv)
    assert (req.order_type, req.trail_percent, req.trail_stop, req.tif) == ("TRAIL", 1.5, 270.5, "GTD")
    assert (req.good_after, req.good_till) == ("20190213-15:00:00", "20190213 15:00:00 US/Eastern")
