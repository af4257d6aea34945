"""Server -> client order and execution messages: openOrder, orderStatus, completedOrder,
execDetails, commissionReport (version-gated like `encoders`, and round-trip tested the same way).

An `OrderView` is an order as one client sees it: its own order id and clientId, times already
in IB's wire format. A `Preview` carries the margin and commission figures of a what-if order.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.tws.contracts import StockContract
from sim.tws.encoders import Fields, contract_fields, price_field
from sim.tws.framing import UNSET_DOUBLE


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as one client sees it (its own order id and clientId)."""

    order_id: int
    client_id: int
    perm_id: int
    account: str
    action: str
    total_qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    oca_type: int
    parent_id: int
    order_ref: str
    outside_rth: bool
    status: str
    good_after: str = ""  # "YYYYMMDD HH:MM:SS US/Eastern" or ""
    good_till: str = ""
    trail_stop: float | None = None
    trail_percent: float | None = None
    why_held: str = ""


@dataclass(frozen=True, slots=True)
class Preview:
    """What-if figures (IB sends them as strings, commission as a number)."""

    init_margin_before: float
    maint_margin_before: float
    equity_with_loan_before: float
    init_margin_change: float
    maint_margin_change: float
    equity_with_loan_change: float
    commission: float
    min_commission: float
    max_commission: float

    def margin_strings(self) -> list[object]:
        before = (self.init_margin_before, self.maint_margin_before, self.equity_with_loan_before)
        change = (self.init_margin_change, self.maint_margin_change, self.equity_with_loan_change)
        after = tuple(b + c for b, c in zip(before, change, strict=True))
        return [f"{v:.2f}" for v in (*before, *change, *after)]


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """An execution as one client sees it."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    account: str
    side: str
    shares: float
    price: float
    time_str: str
    cum_qty: float
    avg_price: float
    order_ref: str


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
) -> Fields:
    return [
        3, order_id, status, filled, remaining, avg_fill_price, perm_id, parent_id,
        last_fill_price, client_id, why_held, 0.0,
    ]


def open_order(
    sv: int, o: OrderView, c: StockContract, preview: Preview | None = None, warning: str = ""
) -> Fields:
    trail_stop = price_field(o.trail_stop)
    f: Fields = [5, o.order_id, *contract_fields(c)]
    f += [
        o.action, o.total_qty, o.order_type, price_field(o.lmt_price), price_field(o.aux_price),
        o.tif, o.oca_group, o.account, "O", 0, o.order_ref, o.client_id, o.perm_id, o.outside_rth,
        0, 0.0, o.good_after, "",  # hidden, discretionaryAmt, goodAfterTime, obsolete sharesAllocation
        "", "", "",  # faGroup, faMethod, faPercentage
    ]
    if sv < 177:
        f.append("")  # faProfile
    f += [
        "", o.good_till, "", "", "",  # modelCode, goodTillDate, rule80A, percentOffset, settlingFirm
        0, "", -1, 0,  # shortSaleSlot, designatedLocation, exemptCode, auctionStrategy
        "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
        "", 0, 0, 0, "",  # displaySize, blockOrder, sweepToFill, allOrNone, minQty
        o.oca_type, 0, 0, "",  # ocaType, eTradeOnly, firmQuoteOnly, nbboPriceCap
        o.parent_id, 0, "", 0,  # parentId, triggerMethod, volatility, volatilityType
        "", "",  # deltaNeutralOrderType ("" => no 8 extras), deltaNeutralAuxPrice
        0, 0, trail_stop, price_field(o.trail_percent), "", "",  # .. trailStop, trail%, bp, bpType
        "", 0, 0, 0,  # comboLegsDescrip, nComboLegs, nOrderComboLegs, nSmartComboParams
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        0, "", "", 0, 0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc
        "",  # algoStrategy
        0, 1 if preview else 0,  # solicited, whatIf
        o.status,
    ]
    if preview is None:
        f += ["", "", "", "", "", "", "", "", ""]  # 9 margin strings
        f += ["", "", "", "", ""]  # commission, min, max, currency, warningText
    else:
        f += preview.margin_strings()
        f += [preview.commission, preview.min_commission, preview.max_commission, "USD", warning]
    f += [
        0, 0,  # randomizeSize, randomizePrice
        0,  # nConditions
        "", "", trail_stop, "", "", "", "", 0,  # adjusted order block (trailStopPrice again)
        "", "", "",  # softDollarTier
        "", 0, 0, 0, 0,  # cashQty, dontUseAutoPriceForHedge, isOmsContainer, discUpToLimit, priceMgmt
    ]
    if sv >= 159:
        f.append("")  # duration
    if sv >= 160:
        f.append("")  # postToAts
    if sv >= 162:
        f.append(0)  # autoCancelParent
    if sv >= 170:
        f += ["", "", "", "", ""]
    return f


def open_order_end() -> Fields:
    return [53, 1]


def completed_order(
    sv: int, o: OrderView, c: StockContract, filled_qty: float, completed_time: str
) -> Fields:
    f: Fields = [101, *contract_fields(c)]
    f += [
        o.action, o.total_qty, o.order_type, price_field(o.lmt_price), price_field(o.aux_price),
        o.tif, o.oca_group, o.account, "O", 0, o.order_ref, o.perm_id, o.outside_rth,
        0, 0.0, o.good_after,  # hidden, discretionaryAmt, goodAfterTime
        "", "", "",  # faGroup, faMethod, faPercentage
    ]
    if sv < 177:
        f.append("")  # faProfile
    f += [
        "", o.good_till, "", "", "",  # modelCode, goodTillDate, rule80A, percentOffset, settlingFirm
        0, "", -1,  # shortSaleSlot, designatedLocation, exemptCode
        "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
        "", 0, 0, "",  # displaySize, sweepToFill, allOrNone, minQty
        o.oca_type, 0, "", 0,  # ocaType, triggerMethod, volatility, volatilityType
        "", "",  # deltaNeutralOrderType, deltaNeutralAuxPrice
        0, 0, price_field(o.trail_stop), price_field(o.trail_percent),  # .. trailStop, trailing%
        "", 0, 0, 0,  # comboLegsDescrip, nComboLegs, nOrderComboLegs, nSmartComboParams
        "", "", "",  # scale fields
        "",  # hedgeType
        "", "", 0, 0,  # clearingAccount, clearingIntent, notHeld, dnc
        "",  # algoStrategy
        0, o.status, 0, 0,  # solicited, status, randomizeSize, randomizePrice
        0,  # nConditions
        price_field(o.trail_stop), "", "", 0, 0,  # trailStopPrice, lmtPriceOffset, cashQty, ..
        "", filled_qty, 0, 0,  # autoCancelDate, filledQuantity, refFuturesConId, autoCancelParent
        "", 0, 0, 0,  # shareholder, imbalanceOnly, routeMarketableToBbo, parentPermId
        completed_time, o.status,
    ]
    if sv >= 170:
        f += ["", "", "", "", ""]
    return f


def completed_orders_end() -> Fields:
    return [102]


def exec_details(sv: int, req_id: int, c: StockContract, e: ExecutionView) -> Fields:
    f: Fields = [
        11, req_id, e.order_id, *contract_fields(c, exchange=c.primary_exchange), e.exec_id,
        e.time_str, e.account, c.primary_exchange, e.side, e.shares, e.price, e.perm_id,
        e.client_id, 0, e.cum_qty, e.avg_price, e.order_ref, "", "", "", 2,
    ]
    if sv >= 178:
        f.append(0)  # pendingPriceRevision
    return f


def exec_details_end(req_id: int) -> Fields:
    return [55, 1, req_id]


def commission_report(exec_id: str, commission: float, realized_pnl: float | None) -> Fields:
    """TWS sends the UNSET double as realizedPNL on opening fills; we do the same."""
    pnl = UNSET_DOUBLE if realized_pnl is None else realized_pnl
    return [59, 1, exec_id, commission, "USD", pnl, UNSET_DOUBLE, ""]
