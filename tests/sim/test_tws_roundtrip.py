"""Every server->client message, encoded by the simulator, decoded by the real client Decoders.

The clients only *log* decode errors and drop the message, so a wrong field list would pass any
connect test silently. Here each message is framed, unframed and fed to ib_async's and
ib_insync's own `Decoder` at every server version we negotiate; the test fails on any logged
decoder error and checks the values that arrive in the client's wrapper call.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import ib_async.decoder
import ib_insync.decoder
import pytest

from sim.tws import encoders as enc
from sim.tws import order_messages as om
from sim.tws import service_messages as sm
from sim.tws.contracts import stock
from sim.tws.framing import FrameReader, encode

IB_ASYNC_VERSIONS = [157, *range(159, 179)]
IB_INSYNC_VERSIONS = [157, *range(159, 177)]
CASES = [("ib_async", v) for v in IB_ASYNC_VERSIONS] + [("ib_insync", v) for v in IB_INSYNC_VERSIONS]

SPY = stock("SPY")
ORDER = om.OrderView(
    order_id=7, client_id=3, perm_id=900001, account="DU1234567", action="SELL", total_qty=10.0,
    order_type="STP", lmt_price=None, aux_price=99.5, tif="GTC", oca_group="oca-7", oca_type=1,
    parent_id=5, order_ref="bot:2025-07-03:SPY:1", outside_rth=False, status="PreSubmitted",
)
EXEC = om.ExecutionView(
    exec_id="0000e1a7.65f1a2b3.01.01", order_id=5, client_id=3, perm_id=900000,
    account="DU1234567", side="BOT", shares=10.0, price=101.25,
    time_str="20250703 10:31:05 America/New_York", cum_qty=10.0, avg_price=101.25,
    order_ref="bot:2025-07-03:SPY:1",
)
BAR = enc.WireBar("20250703 09:30:00 America/New_York", 100.0, 101.0, 99.5, 100.5, 1200.0, 100.4, 7)


class RecordingWrapper:
    """Stands in for the client's Wrapper: records every call the Decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.defaultTimezone = datetime.now().astimezone().tzinfo
        self.ib = type("IBStub", (), {"TimezoneTWS": None})()

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def messages(sv: int) -> list[tuple[list[object], str]]:
    """(fields, wrapper method the client must call) for every message the server sends."""
    return [
        (enc.next_valid_id(11), "nextValidId"),
        (enc.managed_accounts(["DU1234567"]), "managedAccounts"),
        (enc.error(sv, -1, 2104, "Market data farm connection is OK:usfarm"), "error"),
        (enc.current_time(1751549400), "currentTime"),
        (enc.update_account_value("NetLiquidation", "100000.00", "USD", "DU1234567"), "updateAccountValue"),
        (enc.update_portfolio(SPY, 10.0, 101.0, 1010.0, 100.5, 5.0, 0.0, "DU1234567"), "updatePortfolio"),
        (enc.update_account_time("10:31"), "updateAccountTime"),
        (enc.account_download_end("DU1234567"), "accountDownloadEnd"),
        (enc.position("DU1234567", SPY, 10.0, 100.5), "position"),
        (enc.position_end(), "positionEnd"),
        (enc.account_summary(4, "DU1234567", "NetLiquidation", "100000.00", "USD"), "accountSummary"),
        (enc.account_summary_end(4), "accountSummaryEnd"),
        (enc.account_update_multi(5, "DU1234567", "", "CashBalance", "1.0", "USD"), "accountUpdateMulti"),
        (enc.account_update_multi_end(5), "accountUpdateMultiEnd"),
        (enc.contract_details(sv, 6, SPY, "20250703:0930-20250703:1300", "20250703:0930-20250703:1300"), "contractDetails"),
        (enc.contract_details_end(6), "contractDetailsEnd"),
        (om.order_status(7, "PreSubmitted", 0.0, 10.0, 0.0, 900001, 5, 0.0, 3), "orderStatus"),
        (om.open_order(sv, ORDER, SPY), "openOrder"),
        (om.open_order_end(), "openOrderEnd"),
        (om.completed_order(sv, ORDER, SPY, 10.0, "20250703 10:31:05 America/New_York"), "completedOrder"),
        (om.completed_orders_end(), "completedOrdersEnd"),
        (om.exec_details(sv, -1, SPY, EXEC), "execDetails"),
        (om.exec_details_end(8), "execDetailsEnd"),
        (om.commission_report(EXEC.exec_id, 1.0, None), "commissionReport"),
        (enc.historical_data(9, "20250702 09:30:00", "20250703 16:00:00", [BAR, BAR]), "historicalDataEnd"),
        (enc.historical_data_update(9, BAR), "historicalDataUpdate"),
        (enc.realtime_bar(10, BAR, 1751549400), "realtimeBar"),
        (enc.tick_price(12, 4, 101.25, 100.0), "priceSizeTick"),
        (enc.tick_size(12, 8, 5000.0), "tickSize"),
        (enc.tick_price(12, 9, 100.75, 0.0), "priceSizeTick"),
        (enc.tick_generic(12, 46, 3.0), "tickGeneric"),
        (enc.tick_string(12, 48, "101.25;100;1751549400000;5000;101.1;false"), "tickString"),
        (enc.tick_req_params(12, 0.01, "", 3), "tickReqParams"),
        (enc.tick_snapshot_end(12), "tickSnapshotEnd"),
        (enc.market_data_type(12, 1), "marketDataType"),
        (sm.pnl(13, 12.5, -3.25, 15.75), "pnl"),
        (sm.pnl_single(14, 10.0, 12.5, -3.25, 15.75, 1010.0), "pnlSingle"),
        (sm.tick_by_tick_last(15, sm.TICK_ALL_LAST, 1751549400, 101.25, 100.0, "ARCA"), "tickByTickAllLast"),
        (sm.tick_by_tick_bid_ask(15, 1751549400, 101.24, 101.25, 100.0, 100.0), "tickByTickBidAsk"),
        (sm.tick_by_tick_midpoint(15, 1751549400, 101.245), "tickByTickMidPoint"),
        (sm.head_timestamp(16, "20110103 09:30:00 US/Eastern"), "headTimestamp"),
        (sm.symbol_samples(sv, 17, [SPY, SPY]), "symbolSamples"),
        (sm.market_rule(26, [(0.0, 0.0001), (1.0, 0.01)]), "marketRule"),
        (sm.histogram_data(18, [(101.25, 1200), (101.26, 800)]), "histogramData"),
        (sm.position_multi(19, "DU1234567", SPY, 10.0, 100.5), "positionMulti"),
        (sm.position_multi_end(19), "positionMultiEnd"),
        (sm.sec_def_opt_params_end(20), "securityDefinitionOptionParameterEnd"),
        (sm.soft_dollar_tiers(21), "softDollarTiers"),
        (sm.family_codes(), "familyCodes"),
        (sm.mkt_depth_exchanges(), "mktDepthExchanges"),
        (sm.smart_components(22), "smartComponents"),
        (sm.news_providers(), "newsProviders"),
        (sm.historical_news_end(23), "historicalNewsEnd"),
        (sm.user_info(24), "userInfo"),
        (sm.scanner_parameters("<ScanParameterResponse/>"), "scannerParameters"),
        (sm.scanner_data(26, [SPY, SPY]), "scannerDataEnd"),
        (sm.display_group_list(25), "displayGroupList"),
        (sm.display_group_updated(25), "displayGroupUpdated"),
    ]


def decode(library: str, sv: int, fields: list[object], caplog) -> RecordingWrapper:
    module = ib_async.decoder if library == "ib_async" else ib_insync.decoder
    wrapper = RecordingWrapper()
    decoder = module.Decoder(wrapper, sv)
    reader = FrameReader()
    frames = reader.feed(encode(fields))
    assert len(frames) == 1
    with caplog.at_level(logging.ERROR, logger=f"{library}.Decoder"):
        decoder.interpret(frames[0])
    return wrapper


@pytest.mark.parametrize(("library", "sv"), CASES)
def test_every_server_message_decodes_without_error(library: str, sv: int, caplog) -> None:
    for fields, method in messages(sv):
        caplog.clear()
        wrapper = decode(library, sv, fields, caplog)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, f"{library}@{sv} message {fields[0]}: {errors[0][:300]}"
        names = [name for name, _ in wrapper.calls]
        assert method in names, f"{library}@{sv} message {fields[0]} did not call {method}: {names}"


@pytest.mark.parametrize(("library", "sv"), CASES)
def test_open_order_fields_arrive_intact(library: str, sv: int, caplog) -> None:
    wrapper = decode(library, sv, om.open_order(sv, ORDER, SPY), caplog)
    (_, (order_id, contract, order, state)), = wrapper.calls
    assert (order_id, order.clientId, order.permId, order.parentId) == (7, 3, 900001, 5)
    assert (order.action, order.totalQuantity, order.orderType, order.auxPrice) == ("SELL", 10.0, "STP", 99.5)
    assert (order.ocaGroup, order.ocaType, order.orderRef, order.tif) == ("oca-7", 1, ORDER.order_ref, "GTC")
    assert (contract.symbol, contract.conId, state.status) == ("SPY", SPY.con_id, "PreSubmitted")


@pytest.mark.parametrize(("library", "sv"), CASES)
def test_exec_details_fields_arrive_intact(library: str, sv: int, caplog) -> None:
    wrapper = decode(library, sv, om.exec_details(sv, -1, SPY, EXEC), caplog)
    (_, (req_id, contract, ex)), = wrapper.calls
    assert (req_id, ex.orderId, ex.clientId, ex.permId) == (-1, 5, 3, 900000)
    assert (ex.execId, ex.side, ex.shares, ex.price, ex.orderRef) == (EXEC.exec_id, "BOT", 10.0, 101.25, EXEC.order_ref)
    assert ex.time.astimezone().utcoffset() is not None
    assert contract.symbol == "SPY"


@pytest.mark.parametrize(("library", "sv"), [("ib_async", 157), ("ib_async", 178), ("ib_insync", 176)])
def test_historical_bars_keep_their_values_and_count(library: str, sv: int, caplog) -> None:
    wrapper = decode(library, sv, enc.historical_data(9, "s", "e", [BAR, BAR]), caplog)
    bars = [args[1] for name, args in wrapper.calls if name == "historicalData"]
    assert len(bars) == 2
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume) == (100.0, 101.0, 99.5, 100.5, 1200.0)
    update = decode(library, sv, enc.historical_data_update(9, BAR), caplog).calls[0][1][1]
    assert (update.open, update.high, update.low, update.close, update.volume) == (100.0, 101.0, 99.5, 100.5, 1200.0)


def test_the_round_trip_covers_every_encoder(monkeypatch) -> None:
    """A new encoder without a round-trip case fails here, not silently in a client's log."""
    import inspect

    helpers = {"contract_fields", "price_field"}
    encoders, called = set(), set()
    for module in (enc, om, sm):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_") or name in helpers:
                continue
            encoders.add(name)

            def spy(*args: Any, _fn: Any = fn, _name: str = name, **kwargs: Any) -> Any:
                called.add(_name)
                return _fn(*args, **kwargs)

            monkeypatch.setattr(module, name, spy)
    messages(178)
    assert encoders - called == set()
