"""No request of the TWS API is left unanswered: each one ib_async's client can send gets data or
an error from the simulator at once (within one replay step of 6 s for streams that start with
the next bar), except the few a real Gateway answers with silence (cancels, bulletin and log
settings, display-group updates). A new client method fails this test until it is classified.
"""

from __future__ import annotations

import inspect

import pytest
from ib_async import Contract, ExecutionFilter, LimitOrder, ScannerSubscription
from ib_async.client import Client
from ib_async.objects import WshEventData

from tests.sim.tws.clients import connect, settle, tap

SPY = Contract(conId=0, symbol="SPY", secType="STK", exchange="SMART", currency="USD")
ACCOUNT = "DU1234567"

CALLS = {
    "reqMktData": lambda c, r: c.reqMktData(r, SPY, "", False, False, []),
    "placeOrder": lambda c, r: c.placeOrder(r, SPY, LimitOrder("BUY", 1, 100.0)),
    "cancelOrder": lambda c, r: c.cancelOrder(r),  # unknown id: 10147
    "reqOpenOrders": lambda c, r: c.reqOpenOrders(),
    "reqAccountUpdates": lambda c, r: c.reqAccountUpdates(True, ACCOUNT),
    "reqExecutions": lambda c, r: c.reqExecutions(r, ExecutionFilter()),
    "reqIds": lambda c, r: c.reqIds(1),
    "reqContractDetails": lambda c, r: c.reqContractDetails(r, SPY),
    "reqMktDepth": lambda c, r: c.reqMktDepth(r, SPY, 5, False, []),
    "reqAllOpenOrders": lambda c, r: c.reqAllOpenOrders(),
    "reqManagedAccts": lambda c, r: c.reqManagedAccts(),
    "requestFA": lambda c, r: c.requestFA(1),
    "replaceFA": lambda c, r: c.replaceFA(r, 1, "<ListOfGroups/>"),
    "reqHistoricalData": lambda c, r: c.reqHistoricalData(r, SPY, "", "1 D", "1 min", "TRADES", 1, 1, False, []),
    "exerciseOptions": lambda c, r: c.exerciseOptions(r, SPY, 1, 1, ACCOUNT, 0),
    "reqScannerSubscription": lambda c, r: c.reqScannerSubscription(r, ScannerSubscription(), [], []),
    "reqScannerParameters": lambda c, r: c.reqScannerParameters(),
    "reqCurrentTime": lambda c, r: c.reqCurrentTime(),
    "reqRealTimeBars": lambda c, r: c.reqRealTimeBars(r, SPY, 5, "TRADES", True, []),
    "reqFundamentalData": lambda c, r: c.reqFundamentalData(r, SPY, "ReportSnapshot", []),
    "calculateImpliedVolatility": lambda c, r: c.calculateImpliedVolatility(r, SPY, 1.0, 100.0, []),
    "calculateOptionPrice": lambda c, r: c.calculateOptionPrice(r, SPY, 0.2, 100.0, []),
    "reqPositions": lambda c, r: c.reqPositions(),
    "reqAccountSummary": lambda c, r: c.reqAccountSummary(r, "All", "NetLiquidation"),
    "verifyRequest": lambda c, r: c.verifyRequest("app", "1"),
    "verifyMessage": lambda c, r: c.verifyMessage("data"),
    "verifyAndAuthRequest": lambda c, r: c.verifyAndAuthRequest("app", "1", "key"),
    "verifyAndAuthMessage": lambda c, r: c.verifyAndAuthMessage("data", "xyz"),
    "queryDisplayGroups": lambda c, r: c.queryDisplayGroups(r),
    "subscribeToGroupEvents": lambda c, r: c.subscribeToGroupEvents(r, 1),
    "reqPositionsMulti": lambda c, r: c.reqPositionsMulti(r, ACCOUNT, ""),
    "reqAccountUpdatesMulti": lambda c, r: c.reqAccountUpdatesMulti(r, ACCOUNT, "", False),
    "reqSecDefOptParams": lambda c, r: c.reqSecDefOptParams(r, "SPY", "", "STK", 1),
    "reqSoftDollarTiers": lambda c, r: c.reqSoftDollarTiers(r),
    "reqFamilyCodes": lambda c, r: c.reqFamilyCodes(),
    "reqMatchingSymbols": lambda c, r: c.reqMatchingSymbols(r, "SP"),
    "reqMktDepthExchanges": lambda c, r: c.reqMktDepthExchanges(),
    "reqSmartComponents": lambda c, r: c.reqSmartComponents(r, "a6"),
    "reqNewsArticle": lambda c, r: c.reqNewsArticle(r, "BZ", "BZ$1", []),
    "reqNewsProviders": lambda c, r: c.reqNewsProviders(),
    "reqHistoricalNews": lambda c, r: c.reqHistoricalNews(r, 1, "BZ", "", "", 10, []),
    "reqHeadTimeStamp": lambda c, r: c.reqHeadTimeStamp(r, SPY, "TRADES", True, 1),
    "reqHistogramData": lambda c, r: c.reqHistogramData(r, SPY, True, "1 day"),
    "reqMarketRule": lambda c, r: c.reqMarketRule(26),
    "reqPnL": lambda c, r: c.reqPnL(r, ACCOUNT, ""),
    "reqPnLSingle": lambda c, r: c.reqPnLSingle(r, ACCOUNT, "", 0),  # unknown conId: an error
    "reqHistoricalTicks": lambda c, r: c.reqHistoricalTicks(r, SPY, "", "20190213 10:00:00", 10, "TRADES", 1, False, []),
    "reqTickByTickData": lambda c, r: c.reqTickByTickData(r, SPY, "AllLast", 0, False),
    "reqCompletedOrders": lambda c, r: c.reqCompletedOrders(False),
    "reqWshMetaData": lambda c, r: c.reqWshMetaData(r),
    "reqWshEventData": lambda c, r: c.reqWshEventData(r, WshEventData()),
    "reqUserInfo": lambda c, r: c.reqUserInfo(r),
}
SILENT_AT_IB_TOO = {
    "cancelMktData", "cancelMktDepth", "cancelNewsBulletins", "cancelScannerSubscription",
    "cancelHistoricalData", "cancelRealTimeBars", "cancelFundamentalData",
    "cancelCalculateImpliedVolatility", "cancelCalculateOptionPrice", "cancelAccountSummary",
    "cancelPositions", "cancelPositionsMulti", "cancelAccountUpdatesMulti", "cancelHistogramData",
    "cancelHeadTimeStamp", "cancelPnL", "cancelPnLSingle", "cancelTickByTickData",
    "cancelWshMetaData", "cancelWshEventData", "reqNewsBulletins", "setServerLogLevel",
    "reqAutoOpenOrders", "reqGlobalCancel", "reqMarketDataType", "updateDisplayGroup",
    "unsubscribeFromGroupEvents",
}
NOT_REQUESTS = {
    "reset", "serverVersion", "run", "isConnected", "isReady", "connectionStats", "getReqId",
    "updateReqId", "getAccounts", "setConnectOptions", "connect", "disconnect", "send", "sendMsg",
    "startApi", "connectAsync",
}


def test_every_client_request_is_classified() -> None:
    methods = {n for n, f in inspect.getmembers(Client, inspect.isfunction) if not n.startswith("_")}
    assert methods - NOT_REQUESTS == set(CALLS) | SILENT_AT_IB_TOO


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_request_gets_an_answer_or_an_error_at_once(gateway, name) -> None:
    ib = await connect(gateway, client_id=5)
    try:
        seen = tap(ib)
        CALLS[name](ib.client, ib.client.getReqId())
        await settle()
        if not seen:
            gateway.step(6)  # a stream's first bar (real-time bars) comes with the next 5 s
            await settle()
        assert seen, f"{name}: no answer"
    finally:
        ib.disconnect()
