"""Reference data like a real Gateway's (scanner parameters and scans, matching symbols with their
derivative types, head timestamps from each symbol's own data, the venues a US stock trades on)
and error 200 naming the asset classes the simulator serves. ib_async and ib_insync."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
from ib_async import Contract, Forex, Future, Index, MarketOrder, ScannerSubscription, Stock

from tests.sim.tws.clients import connect, error_codes, settle

SPY = Stock("SPY", "SMART", "USD")


async def test_scanner_parameters_are_a_well_formed_list_of_what_is_scanned(ib) -> None:
    xml = await ib.reqScannerParametersAsync()
    root = ET.fromstring(xml)
    assert root.tag == "ScanParameterResponse"
    codes = [e.text for e in root.iter("scanCode")]
    locations = [e.text for e in root.iter("locationCode")]
    assert codes == ["TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE"]
    assert locations == ["STK.US", "STK.US.MAJOR"] and [e.text for e in root.iter("type")] == ["STK"]


async def test_a_most_active_scan_ranks_the_replayed_symbols_by_volume(ib, gateway) -> None:
    gateway.step(1800)
    scan = ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode="MOST_ACTIVE")
    rows = await ib.reqScannerDataAsync(scan)
    volumes = {s: sum(b.volume for b in gateway.replay.bars(s) if b.end <= gateway.now()) for s in ("SPY", "QQQ", "MSFT")}
    assert [r.contractDetails.contract.symbol for r in rows] == sorted(volumes, key=lambda s: -volumes[s])
    assert [r.rank for r in rows] == [0, 1, 2] and rows[0].contractDetails.contract.conId > 0


async def test_gainers_and_losers_split_on_the_change_since_the_prior_close(ib, gateway) -> None:
    gateway.step(3600)
    gainers = await ib.reqScannerDataAsync(ScannerSubscription(instrument="STK", locationCode="STK.US",
                                                               scanCode="TOP_PERC_GAIN"))
    losers = await ib.reqScannerDataAsync(ScannerSubscription(instrument="STK", locationCode="STK.US",
                                                              scanCode="TOP_PERC_LOSE"))
    up = {r.contractDetails.contract.symbol for r in gainers}
    down = {r.contractDetails.contract.symbol for r in losers}
    assert not up & down and up | down
    for symbol in up | down:
        change = gateway.replay.price_at(symbol, gateway.now()) - gateway.replay.source.session_bars(
            symbol, gateway.replay.day.replace(day=12))[-1].close
        assert (change > 0) == (symbol in up)


async def test_a_scan_the_simulator_does_not_have_is_321(ib) -> None:
    codes = error_codes(ib)
    ib.reqScannerSubscription(ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR",
                                                  scanCode="HIGH_OPT_IMP_VOLAT"))
    await settle()
    assert codes == [321]


async def test_matching_symbols_carry_the_derivative_types_ib_lists(ib) -> None:
    [found] = await ib.reqMatchingSymbolsAsync("MSF")
    assert found.contract.symbol == "MSFT" and found.derivativeSecTypes == ["CFD", "OPT", "IOPT", "WAR"]


async def test_head_timestamp_is_each_symbols_own_first_bar(gateway_with) -> None:
    from sim.tws.times import ib_time

    gateway = await gateway_with(whole_data=True)
    ib = await connect(gateway)
    source = gateway.replay.source
    for symbol in ("SPY", "NVDA", "TSLA"):
        firsts = [b.start for b in source.daily_bars(symbol)[:1]]
        firsts += [source.session_bars(symbol, d)[0].start for d in source.sessions(symbol)[:1]]
        head = await ib.reqHeadTimeStampAsync(Stock(symbol, "SMART", "USD"), "TRADES", True, 1)
        assert ib_time(head) == ib_time(min(firsts)), symbol
    heads = {await ib.reqHeadTimeStampAsync(Stock(s, "SMART", "USD"), "MIDPOINT", True, 1) for s in ("SPY", "NVDA")}
    assert len(heads) == 2
    codes = error_codes(ib)
    await ib.reqHeadTimeStampAsync(SPY, "OPTION_IMPLIED_VOLATILITY", True, 1)
    assert codes == [162]
    ib.disconnect()


async def test_a_us_stock_lists_the_venues_ib_lists(ib) -> None:
    [details] = await ib.reqContractDetailsAsync(Stock("MSFT", "SMART", "USD"))
    venues = details.validExchanges.split(",")
    assert venues[0] == "SMART" and {"NYSE", "ARCA", "ISLAND", "BATS", "IEX", "EDGX", "MEMX"} <= set(venues)
    assert details.marketRuleIds.split(",") == ["26"] * len(venues)


@pytest.mark.parametrize(("contract", "named"), [
    (Future("ES", "202603", "CME"), "ES is a future"),
    (Index("SPX", "CBOE"), "SPX is an index"),
    (Forex("EURUSD"), "EUR is a forex pair"),
    (Contract(symbol="SPY", secType="STK", exchange="SMART", currency="EUR"), "SPY in EUR"),
])
async def test_other_asset_classes_get_200_saying_what_is_served(ib, contract, named, caplog) -> None:
    codes = error_codes(ib)
    assert await ib.reqContractDetailsAsync(contract) == []
    ib.reqMktData(Contract(**{**contract.__dict__, "conId": 1}))
    await ib.reqHistoricalDataAsync(contract, "", "1 D", "1 min", "TRADES", True)
    await settle()
    assert codes == [200, 200, 200]
    texts = [r.getMessage() for r in caplog.records if "Error 200" in r.getMessage()]
    assert all(named in t and "serves US stocks and ETFs only (secType STK, currency USD)" in t for t in texts)


async def test_an_order_for_another_asset_class_is_200_saying_what_is_served(ib, gateway) -> None:
    messages: list[str] = []
    ib.errorEvent += lambda req_id, code, msg, contract: messages.append(f"{code} {msg}")
    trade = ib.placeOrder(Future("ES", "202603", "CME"), MarketOrder("BUY", 1))
    await settle()
    assert trade.orderStatus.status == "Cancelled" and gateway.engine.orders() == []
    assert messages[0].startswith("200 ") and "serves US stocks and ETFs only" in messages[0]


async def test_ib_insync_scans_and_sees_derivative_types(gateway, caplog) -> None:
    from ib_insync import IB
    from ib_insync import ScannerSubscription as InsyncScan

    caplog.set_level(logging.INFO, logger="ib_insync")
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=8, timeout=2)
    try:
        gateway.step(600)
        rows = await ib.reqScannerDataAsync(InsyncScan(instrument="STK", locationCode="STK.US.MAJOR",
                                                       scanCode="MOST_ACTIVE", numberOfRows=2))
        assert len(rows) == 2
        matches = await ib.reqMatchingSymbolsAsync("QQ")
        assert matches is not None, "no symbolSamples reply"
        [found] = matches
        assert found.derivativeSecTypes == ["CFD", "OPT", "IOPT", "WAR"]
    finally:
        ib.disconnect()
    assert not [r for r in caplog.records if r.name == "ib_insync.Decoder"]
