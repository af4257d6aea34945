"""Client -> server TWS requests: field lists in, small typed requests out.

Field orders follow ib_async 2.1.0 / ib_insync 0.9.86 `client.py`. Only the fields the simulator
acts on are kept; the rest of each message is skipped by position, which is why the version
gates (faProfile < 177, etc.) matter even for fields we ignore.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sim.tws.fields import ContractSpec, RequestError
from sim.tws.fields import contract_at as _contract
from sim.tws.fields import opt_float as _opt_float
from sim.tws.fields import to_bool as _bool
from sim.tws.fields import to_float as _float
from sim.tws.fields import to_int as _int
from sim.tws.service_requests import LAYOUTS, ServiceRequest, parse_service_request


@dataclass(frozen=True, slots=True)
class StartApi:
    client_id: int


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    order_id: int
    contract: ContractSpec
    action: str
    total_qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    oca_type: int
    what_if: bool = False
    good_after: str = ""  # as sent: "YYYYMMDD HH:MM:SS <zone>" or "YYYYMMDD-HH:MM:SS" (UTC)
    good_till: str = ""
    trail_stop: float | None = None  # trailStopPrice
    trail_percent: float | None = None  # trailingPercent


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: int


@dataclass(frozen=True, slots=True)
class ContractDetailsRequest:
    req_id: int
    contract: ContractSpec


@dataclass(frozen=True, slots=True)
class HistoricalDataRequest:
    req_id: int
    contract: ContractSpec
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


@dataclass(frozen=True, slots=True)
class RealTimeBarsRequest:
    req_id: int
    contract: ContractSpec
    bar_size: int
    what_to_show: str
    use_rth: bool


@dataclass(frozen=True, slots=True)
class MarketDataRequest:
    req_id: int
    contract: ContractSpec
    generic_ticks: str
    snapshot: bool


@dataclass(frozen=True, slots=True)
class ExecutionsRequest:
    req_id: int
    client_id: int
    account: str
    time: str
    symbol: str
    sec_type: str
    exchange: str
    side: str


@dataclass(frozen=True, slots=True)
class AccountUpdatesRequest:
    subscribe: bool
    account: str


@dataclass(frozen=True, slots=True)
class AccountUpdatesMultiRequest:
    req_id: int
    account: str
    model_code: str


@dataclass(frozen=True, slots=True)
class AccountSummaryRequest:
    req_id: int
    group: str
    tags: str


@dataclass(frozen=True, slots=True)
class CancelById:
    """Any cancel-by-request-id message (history, realtime bars, mkt data, summaries...)."""

    msg_id: int
    req_id: int


@dataclass(frozen=True, slots=True)
class IdsRequest:
    count: int


@dataclass(frozen=True, slots=True)
class Simple:
    """A request without arguments we act on (reqPositions, reqOpenOrders, ...)."""

    msg_id: int
    arg: str = ""


Request = (
    StartApi | PlaceOrder | CancelOrder | ContractDetailsRequest | HistoricalDataRequest
    | RealTimeBarsRequest | MarketDataRequest | ExecutionsRequest | AccountUpdatesRequest
    | AccountUpdatesMultiRequest | AccountSummaryRequest | CancelById | IdsRequest | Simple
    | ServiceRequest
)

# message ids
START_API, PLACE_ORDER, CANCEL_ORDER, REQ_OPEN_ORDERS, REQ_ACCOUNT_UPDATES = 71, 3, 4, 5, 6
REQ_EXECUTIONS, REQ_IDS, REQ_CONTRACT_DETAILS, REQ_AUTO_OPEN_ORDERS = 7, 8, 9, 15
REQ_ALL_OPEN_ORDERS, REQ_MANAGED_ACCTS, REQ_HISTORICAL_DATA, CANCEL_HISTORICAL_DATA = 16, 17, 20, 25
REQ_MKT_DATA, CANCEL_MKT_DATA, REQ_CURRENT_TIME, REQ_REAL_TIME_BARS = 1, 2, 49, 50
CANCEL_REAL_TIME_BARS, REQ_GLOBAL_CANCEL, REQ_MARKET_DATA_TYPE, REQ_POSITIONS = 51, 58, 59, 61
REQ_ACCOUNT_SUMMARY, CANCEL_ACCOUNT_SUMMARY, CANCEL_POSITIONS = 62, 63, 64
REQ_ACCOUNT_UPDATES_MULTI, CANCEL_ACCOUNT_UPDATES_MULTI, REQ_COMPLETED_ORDERS = 76, 77, 99


def _place_order(f: list[str], sv: int) -> PlaceOrder:
    # 3, orderId, C12(2..13), secIdType, secId, action(16), qty, type, lmt, aux, tif, ocaGroup,
    # account, openClose, origin, orderRef(26), transmit, parentId, blockOrder, sweepToFill,
    # displaySize, triggerMethod, outsideRth(33), hidden(34), [BAG legs], "", discretionaryAmt,
    # goodAfterTime(37), goodTillDate(38), faGroup, faMethod, faPercentage, [faProfile < 177],
    # modelCode, ...
    contract = _contract(f, 2)
    if contract.sec_type == "BAG":
        raise RequestError("placeOrder.contract.secType: BAG (combo) orders are not simulated; use STK")
    i = 35 + 7 + (1 if sv < 177 else 0)  # now at modelCode
    oca_type = _int(f[i + 4], "placeOrder.ocaType") if len(f) > i + 4 else 0
    tail = _walk_tail(f, i)
    return PlaceOrder(
        order_id=_int(f[1], "placeOrder.orderId"),
        contract=contract,
        action=f[16].upper(),
        total_qty=_float(f[17], "placeOrder.totalQuantity"),
        order_type=f[18].upper(),
        lmt_price=_opt_float(f[19], "placeOrder.lmtPrice"),
        aux_price=_opt_float(f[20], "placeOrder.auxPrice"),
        tif=f[21].upper() or "DAY",
        oca_group=f[22],
        account=f[23],
        order_ref=f[26],
        transmit=_bool(f[27]),
        parent_id=_int(f[28], "placeOrder.parentId"),
        outside_rth=_bool(f[33]),
        oca_type=oca_type,
        what_if=tail.what_if,
        good_after=f[37].strip(),
        good_till=f[38].strip(),
        trail_stop=tail.trail_stop,
        trail_percent=tail.trail_percent,
    )


@dataclass(frozen=True, slots=True)
class _Tail:
    what_if: bool = False
    trail_stop: float | None = None
    trail_percent: float | None = None


def _opt_price(s: str, name: str) -> float | None:
    """A double the client may leave unset ("" or the UNSET double)."""
    value = _opt_float(s, name)
    return None if value is None or value >= 1.7e308 else value


def _walk_tail(f: list[str], i: int) -> _Tail:
    """Walk placeOrder's variable middle (delta-neutral, scale, hedge, algo blocks) to whatIf.

    `i` points at modelCode. A margin preview must never become a live order, so this is parsed
    even though the simulator acts on little else back here.
    """
    i += 22  # modelCode .. volatilityType; now at deltaNeutralOrderType
    i += 2 + (8 if f[i] else 0)  # deltaNeutralOrderType, deltaNeutralAuxPrice [+8]
    trail_stop = _opt_price(f[i + 2], "placeOrder.trailStopPrice")
    trail_percent = _opt_price(f[i + 3], "placeOrder.trailingPercent")
    increment = _float(f[i + 6], "placeOrder.scalePriceIncrement") if f[i + 6] else 0.0
    i += 7 + (7 if 0 < increment < 1.7e308 else 0)  # continuousUpdate .. scalePriceIncrement [+7]
    i += 3  # scaleTable, activeStartTime, activeStopTime
    i += 1 + (1 if f[i] else 0)  # hedgeType [hedgeParam]
    i += 4  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    i += 1 + (3 if _bool(f[i]) else 0)  # delta-neutral contract flag [conId, delta, price]
    algo = f[i]
    i += 1
    if algo:
        i += 1 + 2 * _int(f[i], "placeOrder.algoParams count")
    return _Tail(_bool(f[i + 1]), trail_stop, trail_percent)  # algoId, whatIf


def _historical(f: list[str]) -> HistoricalDataRequest:
    # 20, reqId, C12(2..13), includeExpired, end, barSize, duration, useRTH, whatToShow,
    # formatDate, keepUpToDate, chartOptions
    return HistoricalDataRequest(
        req_id=_int(f[1], "reqHistoricalData.reqId"), contract=_contract(f, 2), end=f[15],
        bar_size=f[16], duration=f[17], use_rth=_bool(f[18]), what_to_show=f[19],
        format_date=_int(f[20], "reqHistoricalData.formatDate") or 1,
        keep_up_to_date=_bool(f[21]) if len(f) > 21 else False,
    )


def _mkt_data(f: list[str]) -> MarketDataRequest:
    # 1, 11, reqId, C12(3..14), dncFlag, [3], genericTicks, snapshot, regulatorySnapshot, options
    i = 15
    if _bool(f[i]):
        i += 3
    i += 1
    return MarketDataRequest(
        req_id=_int(f[2], "reqMktData.reqId"), contract=_contract(f, 3), generic_ticks=f[i],
        snapshot=_bool(f[i + 1]),
    )


_PARSERS: dict[int, Callable[[list[str], int], Request]] = {
    START_API: lambda f, sv: StartApi(_int(f[2], "startApi.clientId")),
    PLACE_ORDER: _place_order,
    CANCEL_ORDER: lambda f, sv: CancelOrder(_int(f[2], "cancelOrder.orderId")),
    REQ_CONTRACT_DETAILS: lambda f, sv: ContractDetailsRequest(
        _int(f[2], "reqContractDetails.reqId"), _contract(f, 3)
    ),
    REQ_HISTORICAL_DATA: lambda f, sv: _historical(f),
    REQ_REAL_TIME_BARS: lambda f, sv: RealTimeBarsRequest(
        _int(f[2], "reqRealTimeBars.reqId"), _contract(f, 3),
        _int(f[15], "reqRealTimeBars.barSize") or 5, f[16], _bool(f[17]),
    ),
    REQ_MKT_DATA: lambda f, sv: _mkt_data(f),
    REQ_EXECUTIONS: lambda f, sv: ExecutionsRequest(
        _int(f[2], "reqExecutions.reqId"), _int(f[3], "reqExecutions.clientId"),
        *(f[4:10] + [""] * (6 - len(f[4:10]))),
    ),
    REQ_ACCOUNT_UPDATES: lambda f, sv: AccountUpdatesRequest(_bool(f[2]), f[3] if len(f) > 3 else ""),
    REQ_ACCOUNT_UPDATES_MULTI: lambda f, sv: AccountUpdatesMultiRequest(
        _int(f[2], "reqAccountUpdatesMulti.reqId"), f[3], f[4]
    ),
    REQ_ACCOUNT_SUMMARY: lambda f, sv: AccountSummaryRequest(
        _int(f[2], "reqAccountSummary.reqId"), f[3], f[4]
    ),
    REQ_IDS: lambda f, sv: IdsRequest(_int(f[2], "reqIds.numIds")),
    CANCEL_HISTORICAL_DATA: lambda f, sv: CancelById(CANCEL_HISTORICAL_DATA, _int(f[2], "reqId")),
    CANCEL_REAL_TIME_BARS: lambda f, sv: CancelById(CANCEL_REAL_TIME_BARS, _int(f[2], "reqId")),
    CANCEL_MKT_DATA: lambda f, sv: CancelById(CANCEL_MKT_DATA, _int(f[2], "reqId")),
    CANCEL_ACCOUNT_SUMMARY: lambda f, sv: CancelById(CANCEL_ACCOUNT_SUMMARY, _int(f[2], "reqId")),
    CANCEL_ACCOUNT_UPDATES_MULTI: lambda f, sv: CancelById(
        CANCEL_ACCOUNT_UPDATES_MULTI, _int(f[2], "reqId")
    ),
    REQ_MARKET_DATA_TYPE: lambda f, sv: Simple(REQ_MARKET_DATA_TYPE, f[2] if len(f) > 2 else "1"),
    REQ_COMPLETED_ORDERS: lambda f, sv: Simple(REQ_COMPLETED_ORDERS, f[1] if len(f) > 1 else "0"),
}


def _simple_parser(msg_id: int) -> Callable[[list[str], int], Request]:
    return lambda f, sv: Simple(msg_id)


for _simple in (REQ_OPEN_ORDERS, REQ_ALL_OPEN_ORDERS, REQ_AUTO_OPEN_ORDERS, REQ_MANAGED_ACCTS,
                REQ_CURRENT_TIME, REQ_GLOBAL_CANCEL, REQ_POSITIONS, CANCEL_POSITIONS):
    _PARSERS[_simple] = _simple_parser(_simple)


for _service in LAYOUTS:
    _PARSERS.setdefault(_service, parse_service_request)


def parse_request(fields: list[str], sv: int) -> Request | None:
    """The typed request for `fields`, or None for a message the simulator ignores."""
    try:
        msg_id = int(fields[0])
    except (ValueError, IndexError) as exc:
        raise RequestError(f"message id: expected an integer first field, got {fields[:1]!r}") from exc
    parser = _PARSERS.get(msg_id)
    if parser is None:
        return None
    try:
        return parser(fields, sv)
    except IndexError as exc:
        raise RequestError(f"message {msg_id}: too few fields ({len(fields)})") from exc
