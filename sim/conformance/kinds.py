"""Every request kind the conformance walk makes, how it is sent and what answers it.

Each kind is sent through ib_async's own `Client` (so the request is encoded exactly as a real
script encodes it) and is answered by the first message whose id is in `answers`, or by an IB
error carrying its request id (-1 for requests without one). `expect` is what a real Gateway
gives an account like the simulator's: "data" for what the simulator serves, "error" for what
it refuses (market depth, fundamentals, news articles, ... exactly as IB refuses an account
without those services; other asset classes: error 200). Requests a real Gateway answers with
silence (cancels, reqGlobalCancel, log levels, bulletins, display-group updates) are not walked:
"no answer" would be right for them, and reqGlobalCancel would cancel a running bot's orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ib_async import Contract, ExecutionFilter, LimitOrder, ScannerSubscription
from ib_async.objects import WshEventData

FAR_BELOW = 0.5  # the walk's one live order: a 1-share buy limit at half the price, cancelled next


@dataclass
class WalkState:
    """What the walk learns on its way (the symbol's conId, the order it placed)."""

    symbol: str
    account: str = ""
    contract: Any = None
    price: float = 0.0
    order_id: int = 0


Send = Callable[[Any, int, WalkState], None]


@dataclass(frozen=True)
class Kind:
    name: str
    send: Send
    answers: frozenset[int]
    expect: str = "data"  # "data" | "error"
    cleanup: Send | None = None
    keyed: bool = True  # its errors carry its request id (False: -1)
    label: str = field(default="")
    by_order: bool = False  # answered under the order id the walk placed (cancelOrder)
    register: str | None = ""  # the key ib_async's wrapper files the answer under ("": the request
    # id, None: nothing to file), set up first as the client's own reqXxxAsync does

    @property
    def title(self) -> str:
        return self.label or self.name


def _stk(ctx: WalkState) -> Any:
    return ctx.contract or Contract(symbol=ctx.symbol, secType="STK", exchange="SMART", currency="USD")


def _place(c: Any, r: int, ctx: WalkState) -> None:
    ctx.order_id = r
    c.placeOrder(r, _stk(ctx), LimitOrder("BUY", 1, max(0.01, round(ctx.price * FAR_BELOW, 2)), tif="DAY"))


def _cancel(c: Any, r: int, ctx: WalkState) -> None:
    c.cancelOrder(ctx.order_id or r)


def _scan() -> ScannerSubscription:
    return ScannerSubscription(numberOfRows=10, instrument="STK", locationCode="STK.US.MAJOR",
                               scanCode="MOST_ACTIVE")


FUTURE = Contract(symbol="ES", secType="FUT", exchange="CME", currency="USD", lastTradeDateOrContractMonth="202603")
TICKS, TICK_STRINGS = frozenset({1, 2, 45, 46, 81, 58}), frozenset({1, 2, 45, 46})

KINDS: tuple[Kind, ...] = (
    Kind("reqCurrentTime", lambda c, r, x: c.reqCurrentTime(), frozenset({49}), keyed=False),
    Kind("reqManagedAccts", lambda c, r, x: c.reqManagedAccts(), frozenset({15}), keyed=False),
    Kind("reqIds", lambda c, r, x: c.reqIds(1), frozenset({9}), keyed=False),
    Kind("reqContractDetails", lambda c, r, x: c.reqContractDetails(r, _stk(x)), frozenset({10})),
    Kind("reqMatchingSymbols", lambda c, r, x: c.reqMatchingSymbols(r, x.symbol[:2]), frozenset({79})),
    Kind("reqMarketRule", lambda c, r, x: c.reqMarketRule(26), frozenset({93}), keyed=False),
    Kind("reqHeadTimeStamp", lambda c, r, x: c.reqHeadTimeStamp(r, _stk(x), "TRADES", 1, 1), frozenset({88})),
    Kind("reqHistoricalData", lambda c, r, x: c.reqHistoricalData(
        r, _stk(x), "", "2 D", "5 mins", "TRADES", 1, 1, False, []), frozenset({17})),
    Kind("reqHistoricalData", lambda c, r, x: c.reqHistoricalData(
        r, _stk(x), "", "1 M", "1 day", "TRADES", 1, 2, False, []), frozenset({17}), label="reqHistoricalData (daily)"),
    Kind("reqHistogramData", lambda c, r, x: c.reqHistogramData(r, _stk(x), True, "1 day"), frozenset({89})),
    Kind("reqRealTimeBars", lambda c, r, x: c.reqRealTimeBars(r, _stk(x), 5, "TRADES", True, []), frozenset({50}),
         cleanup=lambda c, r, x: c.cancelRealTimeBars(r)),
    Kind("reqMktData", lambda c, r, x: c.reqMktData(r, _stk(x), "", False, False, []), TICKS,
         cleanup=lambda c, r, x: c.cancelMktData(r)),
    Kind("reqMktData", lambda c, r, x: c.reqMktData(r, _stk(x), "165,233,236", False, False, []), TICK_STRINGS,
         cleanup=lambda c, r, x: c.cancelMktData(r), label="reqMktData (generic ticks)"),
    Kind("reqMktData", lambda c, r, x: c.reqMktData(r, _stk(x), "", True, False, []), TICKS,
         label="reqMktData (snapshot)"),
    Kind("reqTickByTickData", lambda c, r, x: c.reqTickByTickData(r, _stk(x), "AllLast", 0, False), frozenset({99}),
         cleanup=lambda c, r, x: c.cancelTickByTickData(r)),
    Kind("reqScannerParameters", lambda c, r, x: c.reqScannerParameters(), frozenset({19}), keyed=False),
    Kind("reqScannerSubscription", lambda c, r, x: c.reqScannerSubscription(r, _scan(), [], []), frozenset({20}),
         cleanup=lambda c, r, x: c.cancelScannerSubscription(r), register=None),
    Kind("reqAccountSummary", lambda c, r, x: c.reqAccountSummary(r, "All", "NetLiquidation"), frozenset({63, 64}),
         cleanup=lambda c, r, x: c.cancelAccountSummary(r)),
    Kind("reqAccountUpdates", lambda c, r, x: c.reqAccountUpdates(True, x.account), frozenset({6, 7, 8, 54}),
         cleanup=lambda c, r, x: c.reqAccountUpdates(False, x.account), keyed=False),
    Kind("reqAccountUpdatesMulti", lambda c, r, x: c.reqAccountUpdatesMulti(r, x.account, "", False),
         frozenset({73, 74}), cleanup=lambda c, r, x: c.cancelAccountUpdatesMulti(r)),
    Kind("reqPositions", lambda c, r, x: c.reqPositions(), frozenset({61, 62}),
         cleanup=lambda c, r, x: c.cancelPositions(), keyed=False),
    Kind("reqPositionsMulti", lambda c, r, x: c.reqPositionsMulti(r, x.account, ""), frozenset({71, 72}),
         cleanup=lambda c, r, x: c.cancelPositionsMulti(r)),
    Kind("reqPnL", lambda c, r, x: c.reqPnL(r, x.account, ""), frozenset({94}), cleanup=lambda c, r, x: c.cancelPnL(r)),
    Kind("reqPnLSingle", lambda c, r, x: c.reqPnLSingle(r, x.account, "", _stk(x).conId), frozenset({95}),
         cleanup=lambda c, r, x: c.cancelPnLSingle(r)),
    Kind("placeOrder", lambda c, r, x: c.placeOrder(r, _stk(x), LimitOrder("BUY", 100, round(x.price, 2), whatIf=True)),
         frozenset({5}), label="placeOrder (whatIf)", register=None),
    Kind("placeOrder", _place, frozenset({5, 3}), register=None),
    Kind("reqOpenOrders", lambda c, r, x: c.reqOpenOrders(), frozenset({53}), keyed=False, register="openOrders"),
    Kind("reqAllOpenOrders", lambda c, r, x: c.reqAllOpenOrders(), frozenset({53}), keyed=False,
         register="openOrders"),
    Kind("cancelOrder", _cancel, frozenset({3}), by_order=True, register=None),
    Kind("reqCompletedOrders", lambda c, r, x: c.reqCompletedOrders(False), frozenset({101, 102}), keyed=False,
         register="completedOrders"),
    Kind("reqExecutions", lambda c, r, x: c.reqExecutions(r, ExecutionFilter()), frozenset({11, 55})),
    Kind("reqSecDefOptParams", lambda c, r, x: c.reqSecDefOptParams(r, x.symbol, "", "STK", _stk(x).conId),
         frozenset({75, 76})),
    Kind("reqSoftDollarTiers", lambda c, r, x: c.reqSoftDollarTiers(r), frozenset({77})),
    Kind("reqFamilyCodes", lambda c, r, x: c.reqFamilyCodes(), frozenset({78}), keyed=False),
    Kind("reqMktDepthExchanges", lambda c, r, x: c.reqMktDepthExchanges(), frozenset({80}), keyed=False),
    Kind("reqSmartComponents", lambda c, r, x: c.reqSmartComponents(r, "a6"), frozenset({82})),
    Kind("reqNewsProviders", lambda c, r, x: c.reqNewsProviders(), frozenset({85}), keyed=False),
    Kind("reqHistoricalNews", lambda c, r, x: c.reqHistoricalNews(r, _stk(x).conId, "BZ", "", "", 10, []),
         frozenset({86, 87})),
    Kind("reqUserInfo", lambda c, r, x: c.reqUserInfo(r), frozenset({107})),
    Kind("queryDisplayGroups", lambda c, r, x: c.queryDisplayGroups(r), frozenset({67})),
    Kind("subscribeToGroupEvents", lambda c, r, x: c.subscribeToGroupEvents(r, 1), frozenset({68}),
         cleanup=lambda c, r, x: c.unsubscribeFromGroupEvents(r)),
    # refused, as IB refuses an account without the service or another asset class
    Kind("reqContractDetails", lambda c, r, x: c.reqContractDetails(r, FUTURE), frozenset({10}), "error",
         label="reqContractDetails (future)"),
    Kind("reqMktDepth", lambda c, r, x: c.reqMktDepth(r, _stk(x), 5, False, []), frozenset({12, 13}), "error",
         cleanup=lambda c, r, x: c.cancelMktDepth(r, False)),
    Kind("reqFundamentalData", lambda c, r, x: c.reqFundamentalData(r, _stk(x), "ReportSnapshot", []),
         frozenset({51}), "error"),
    Kind("reqHistoricalTicks", lambda c, r, x: c.reqHistoricalTicks(
        r, _stk(x), "", "20190213 10:00:00", 10, "TRADES", 1, False, []), frozenset({96, 97, 98}), "error"),
    Kind("reqNewsArticle", lambda c, r, x: c.reqNewsArticle(r, "BZ", "BZ$1", []), frozenset({83}), "error"),
    Kind("calculateImpliedVolatility", lambda c, r, x: c.calculateImpliedVolatility(r, _stk(x), 1.0, 100.0, []),
         frozenset({21}), "error"),
    Kind("calculateOptionPrice", lambda c, r, x: c.calculateOptionPrice(r, _stk(x), 0.2, 100.0, []),
         frozenset({21}), "error"),
    Kind("exerciseOptions", lambda c, r, x: c.exerciseOptions(r, _stk(x), 1, 1, x.account, 0), frozenset(), "error"),
    Kind("requestFA", lambda c, r, x: c.requestFA(1), frozenset({16}), "error", keyed=False),
    Kind("replaceFA", lambda c, r, x: c.replaceFA(r, 1, "<ListOfGroups/>"), frozenset({103}), "error"),
    Kind("reqWshMetaData", lambda c, r, x: c.reqWshMetaData(r), frozenset({104}), "error"),
    Kind("reqWshEventData", lambda c, r, x: c.reqWshEventData(r, WshEventData()), frozenset({105}), "error"),
    Kind("verifyRequest", lambda c, r, x: c.verifyRequest("app", "1"), frozenset({65}), "error", keyed=False),
)
