"""Pure mappings from IB client objects to our models (duck-typed: no ib_async import here).

Kept apart from the adapter so every mapping is unit-tested without a connection, and so the
only modules that import the IB library stay `trade/ib/connection.py`, `trade/ib/broker.py`
and `trade/ib/market_data.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from trade.ib import errors as ib_errors
from trade.models import Account, Bar, Fill, OrderStatus, OrderTicket, OrderType, Position, Side

NY = ZoneInfo("America/New_York")
UNSET_DOUBLE = 1.7976931348623157e308

_STATUS = {s.value: s for s in OrderStatus}
_TYPES = {t.value: t for t in OrderType}


def _price(value: float | None) -> float | None:
    if value is None or value >= UNSET_DOUBLE or value != value:
        return None
    return float(value)


def quantity(value: float | Decimal | None) -> int:
    """A share count IB may leave unset (its max double): 0 then."""
    if value is None:
        return 0
    number = float(value)
    if number >= UNSET_DOUBLE or number != number:
        return 0
    return int(number)


def to_ny(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(NY)


def ib_datetime(value: datetime) -> str:
    """A time as IB order fields take it (goodAfterTime): `YYYYMMDD HH:MM:SS US/Eastern`."""
    return value.astimezone(NY).strftime("%Y%m%d %H:%M:%S") + " US/Eastern"


def _good_after(text: str) -> datetime | None:
    """goodAfterTime as IB echoes it: `YYYYMMDD HH:MM:SS [zone]` or `YYYYMMDD-HH:MM:SS` (UTC)."""
    text = (text or "").strip()
    if not text:
        return None
    utc_form = "-" in text[8:9]
    zone = "UTC" if utc_form else text[18:].strip()
    try:
        tz = UTC if zone in ("UTC", "GMT") else ZoneInfo(zone) if zone else NY
        moment = datetime.strptime(text[:17].replace("-", " ", 1) + " +0000", "%Y%m%d %H:%M:%S %z")
    except (ValueError, KeyError):
        return None
    return moment.replace(tzinfo=tz).astimezone(NY)


def order_ticket(trade: Any) -> OrderTicket:
    """An ib_async `Trade` as an OrderTicket."""
    order, status = trade.order, trade.orderStatus
    kind = _TYPES.get(order.orderType, OrderType.MARKET)
    limit = _price(order.lmtPrice) if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    stop = _price(order.auxPrice) if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None
    return OrderTicket(
        order_id=order.orderId,
        order_ref=order.orderRef or "",
        symbol=trade.contract.symbol,
        side=Side(order.action),
        qty=int(order.totalQuantity),
        order_type=kind,
        status=_STATUS.get(status.status, OrderStatus.PENDING_SUBMIT),
        limit_price=limit,
        stop_price=stop,
        parent_id=order.parentId or 0,
        oca_group=order.ocaGroup or "",
        filled=int(status.filled),
        avg_fill_price=float(status.avgFillPrice or 0.0),
        perm_id=order.permId or status.permId or 0,
        good_after=_good_after(getattr(order, "goodAfterTime", "")),
        account=order.account or "",
        client_id=int(order.clientId or 0),
        rejected=_refusal(trade),
    )


def _refusal(trade: Any) -> int:
    """IB's code when the order ended by IB's refusal (ib_async records the error that ended it
    in the trade's log): a definite answer, unlike a cancel an OCA sibling's fill may explain."""
    if trade.orderStatus.status not in ("Cancelled", "Inactive") or not trade.log:
        return 0
    code = int(getattr(trade.log[-1], "errorCode", 0) or 0)
    return code if code in ib_errors.ORDER_REJECTED else 0


def commission(report: Any) -> float | None:
    """A commission report's commission, or None while it has not come: ib_async gives every
    execution an empty report (execId "") until IB's report arrives, and IB writes its unset
    double (1.8e308) where it has no figure."""
    if report is None or not getattr(report, "execId", ""):
        return None
    return _price(report.commission)


def fill(ib_fill: Any) -> Fill:
    """An ib_async `Fill` (contract, execution, commission report) as our Fill; commission None
    until the report has come."""
    execution, report = ib_fill.execution, ib_fill.commissionReport
    realized = _price(report.realizedPNL) if report is not None and report.execId else None
    return Fill(
        exec_id=execution.execId,
        order_id=execution.orderId,
        order_ref=execution.orderRef or "",
        symbol=ib_fill.contract.symbol,
        side=Side.BUY if execution.side == "BOT" else Side.SELL,
        qty=int(execution.shares),
        price=float(execution.price),
        time=to_ny(execution.time),
        commission=commission(report),
        realized_pnl=realized if realized else None,
    )


def position(ib_position: Any) -> Position:
    return Position(
        symbol=ib_position.contract.symbol,
        qty=int(ib_position.position),
        avg_cost=float(ib_position.avgCost),
        account=ib_position.account,
    )


SIMULATOR_TAG = "SimulatedGateway"  # sent only by sim/gateway.py (sim/tws/account_values.py)
# its value: "ib-gateway-sim/<simulator id>" (a simulator that names no id: "ib-gateway-sim")


def account(account_id: str, values: list[Any]) -> Account:
    """Account from `accountValues()`; USD (or BASE) rows win over other currencies."""
    fields: dict[str, float] = {}
    simulated, simulator_id = False, None
    for value in values:
        if value.account != account_id or value.currency not in ("USD", "BASE", ""):
            continue
        if value.tag == SIMULATOR_TAG:
            simulated = True
            simulator_id = str(value.value).partition("/")[2] or None
            continue
        try:
            fields[value.tag] = float(value.value)
        except ValueError:
            continue
    return Account(
        account_id=account_id,
        net_liquidation=fields.get("NetLiquidation", 0.0),
        cash=fields.get("TotalCashValue", 0.0),
        buying_power=fields.get("BuyingPower", fields.get("AvailableFunds", 0.0)),
        realized_pnl=fields.get("RealizedPnL", 0.0),
        unrealized_pnl=fields.get("UnrealizedPnL", 0.0),
        simulated=simulated,
        simulator_id=simulator_id,
    )


def bar(symbol: str, bar_data: Any, seconds: int = 60) -> Bar:
    """A historical `BarData` as a Bar (date is a datetime for intraday, a date for daily)."""
    start = bar_data.date
    if not isinstance(start, datetime):
        start = datetime(start.year, start.month, start.day, 9, 30, tzinfo=NY)
    return Bar(
        symbol, to_ny(start), float(bar_data.open), float(bar_data.high), float(bar_data.low),
        float(bar_data.close), float(bar_data.volume), seconds,
    )
