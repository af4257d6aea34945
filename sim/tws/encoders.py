"""Server -> client TWS messages, one function per message, gated on the negotiated version.

Each function returns the message's fields (id first) in the order the clients' `Decoder`
reads them; `framing.encode` turns them into bytes. Field lists are checked by the round-trip
test against the real ib_async and ib_insync decoders at every version we negotiate: a wrong
count or type makes the client log "Error handling fields" and silently drop the message.
Unset values are "" (the decoders map "" to the dataclass default); bool/int fields always
carry integers, never the UNSET double.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.tws.contracts import StockContract
from sim.tws.framing import UNSET_DOUBLE

Fields = list[object]


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


@dataclass(frozen=True, slots=True)
class WireBar:
    """A bar ready for the wire: `date` already formatted as the request asked."""

    date: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


def _c11(c: StockContract, exchange: str = "SMART") -> Fields:
    return [c.con_id, c.symbol, "STK", "", 0.0, "", "", exchange, "USD", c.symbol, c.symbol]


def _price(p: float | None) -> object:
    return "" if p is None else p


# --- handshake / session -------------------------------------------------------------------


def next_valid_id(order_id: int) -> Fields:
    return [9, 1, order_id]


def managed_accounts(accounts: Sequence[str]) -> Fields:
    return [15, 1, ",".join(accounts)]


def error(sv: int, req_id: int, code: int, text: str) -> Fields:
    fields: Fields = [4, 2, req_id, code, text]
    if sv >= 166:
        fields.append("")  # advancedOrderRejectJson
    return fields


def current_time(epoch: int) -> Fields:
    return [49, 1, epoch]


# --- account and positions -----------------------------------------------------------------


def update_account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [6, 2, key, value, currency, account]


def update_portfolio(
    c: StockContract,
    position: float,
    market_price: float,
    market_value: float,
    average_cost: float,
    unrealized_pnl: float,
    realized_pnl: float,
    account: str,
) -> Fields:
    return [
        7, 8, c.con_id, c.symbol, "STK", "", 0.0, "", "", c.primary_exchange, "USD", c.symbol,
        c.symbol, position, market_price, market_value, average_cost, unrealized_pnl,
        realized_pnl, account,
    ]


def update_account_time(hh_mm: str) -> Fields:
    return [8, 1, hh_mm]


def account_download_end(account: str) -> Fields:
    return [54, 1, account]


def position(account: str, c: StockContract, qty: float, avg_cost: float) -> Fields:
    return [61, 3, account, *_c11(c, exchange=""), qty, avg_cost]


def position_end() -> Fields:
    return [62, 1]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return [63, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return [64, 1, req_id]


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> Fields:
    return [73, 1, req_id, account, model_code, key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [74, 1, req_id]


# --- contracts ------------------------------------------------------------------------------


def contract_details(
    sv: int, req_id: int, c: StockContract, trading_hours: str, liquid_hours: str
) -> Fields:
    fields: Fields = [10]
    if sv < 164:
        fields.append(8)
    fields += [
        req_id, c.symbol, "STK", "", 0.0, "", "SMART", "USD", c.symbol, c.symbol, c.symbol,
        c.con_id, 0.01,
    ]
    if sv < 164:
        fields.append(1)  # obsolete mdSizeMultiplier
    fields += [
        "",  # multiplier
        "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AON,AVGCOST,BASKET,DAY,GTC,LIT,LMT,MIT,MKT,MOC,OCA,REL,STP,STPLMT,TRAIL",
        f"SMART,{c.primary_exchange}",
        1,  # priceMagnifier
        0,  # underConId
        c.long_name,
        c.primary_exchange,
        "",  # contractMonth
        "", "", "",  # industry, category, subcategory
        "US/Eastern",
        trading_hours,
        liquid_hours,
        "", "",  # evRule, evMultiplier
        0,  # no secIds
        1,  # aggGroup
        "", "",  # underSymbol, underSecType
        "26",  # marketRuleIds
        "",  # realExpirationDate
        "ETF" if c.is_etf else "COMMON",
    ]
    if sv == 163:
        fields.append(100)
    elif sv >= 164:
        fields += [1, 1, 100]
    return fields


def contract_details_end(req_id: int) -> Fields:
    return [52, 1, req_id]


# --- orders ---------------------------------------------------------------------------------


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
) -> Fields:
    return [
        3, order_id, status, filled, remaining, avg_fill_price, perm_id, parent_id,
        last_fill_price, client_id, "", 0.0,
    ]


def open_order(sv: int, o: OrderView, c: StockContract) -> Fields:
    f: Fields = [5, o.order_id, *_c11(c)]
    f += [
        o.action, o.total_qty, o.order_type, _price(o.lmt_price), _price(o.aux_price), o.tif,
        o.oca_group, o.account, "O", 0, o.order_ref, o.client_id, o.perm_id, o.outside_rth,
        0, 0.0, "", "",  # hidden, discretionaryAmt, goodAfterTime, obsolete sharesAllocation
        "", "", "",  # faGroup, faMethod, faPercentage
    ]
    if sv < 177:
        f.append("")  # faProfile
    f += [
        "", "", "", "", "",  # modelCode, goodTillDate, rule80A, percentOffset, settlingFirm
        0, "", -1, 0,  # shortSaleSlot, designatedLocation, exemptCode, auctionStrategy
        "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
        "", 0, 0, 0, "",  # displaySize, blockOrder, sweepToFill, allOrNone, minQty
        o.oca_type, 0, 0, "",  # ocaType, eTradeOnly, firmQuoteOnly, nbboPriceCap
        o.parent_id, 0, "", 0,  # parentId, triggerMethod, volatility, volatilityType
        "", "",  # deltaNeutralOrderType ("" => no 8 extras), deltaNeutralAuxPrice
        0, 0, "", "", "", "",  # continuousUpdate, referencePriceType, trailStop, trail%, bp, bpType
        "", 0, 0, 0,  # comboLegsDescrip, nComboLegs, nOrderComboLegs, nSmartComboParams
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        0, "", "", 0, 0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc
        "",  # algoStrategy
        0, 0,  # solicited, whatIf
        o.status,
        "", "", "", "", "", "", "", "", "",  # 9 margin strings
        "", "", "", "", "",  # commission, min, max, currency, warningText
        0, 0,  # randomizeSize, randomizePrice
        0,  # nConditions
        "", "", "", "", "", "", "", 0,  # adjusted order block
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
    f: Fields = [101, *_c11(c)]
    f += [
        o.action, o.total_qty, o.order_type, _price(o.lmt_price), _price(o.aux_price), o.tif,
        o.oca_group, o.account, "O", 0, o.order_ref, o.perm_id, o.outside_rth,
        0, 0.0, "",  # hidden, discretionaryAmt, goodAfterTime
        "", "", "",  # faGroup, faMethod, faPercentage
    ]
    if sv < 177:
        f.append("")  # faProfile
    f += [
        "", "", "", "", "",  # modelCode, goodTillDate, rule80A, percentOffset, settlingFirm
        0, "", -1,  # shortSaleSlot, designatedLocation, exemptCode
        "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
        "", 0, 0, "",  # displaySize, sweepToFill, allOrNone, minQty
        o.oca_type, 0, "", 0,  # ocaType, triggerMethod, volatility, volatilityType
        "", "",  # deltaNeutralOrderType, deltaNeutralAuxPrice
        0, 0, "", "",  # continuousUpdate, referencePriceType, trailStopPrice, trailingPercent
        "", 0, 0, 0,  # comboLegsDescrip, nComboLegs, nOrderComboLegs, nSmartComboParams
        "", "", "",  # scale fields
        "",  # hedgeType
        "", "", 0, 0,  # clearingAccount, clearingIntent, notHeld, dnc
        "",  # algoStrategy
        0, o.status, 0, 0,  # solicited, status, randomizeSize, randomizePrice
        0,  # nConditions
        "", "", "", 0, 0,  # trailStopPrice, lmtPriceOffset, cashQty, dontUseAuto, isOms
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
        11, req_id, e.order_id, *_c11(c, exchange=c.primary_exchange), e.exec_id, e.time_str,
        e.account, c.primary_exchange, e.side, e.shares, e.price, e.perm_id, e.client_id,
        0, e.cum_qty, e.avg_price, e.order_ref, "", "", "", 2,
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


# --- market data ----------------------------------------------------------------------------


def historical_data(req_id: int, start: str, end: str, bars: Sequence[WireBar]) -> Fields:
    f: Fields = [17, req_id, start, end, len(bars)]
    for b in bars:
        f += [b.date, b.open, b.high, b.low, b.close, b.volume, b.wap, b.count]
    return f


def historical_data_update(req_id: int, b: WireBar) -> Fields:
    """Note IB's order here: open, close, high, low (not OHLC), then wap, volume."""
    return [90, req_id, b.count, b.date, b.open, b.close, b.high, b.low, b.wap, b.volume]


def realtime_bar(req_id: int, b: WireBar, epoch: int) -> Fields:
    return [50, 3, req_id, epoch, b.open, b.high, b.low, b.close, b.volume, b.wap, b.count]


def tick_price(req_id: int, tick_type: int, price: float, size: float) -> Fields:
    return [1, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return [2, 6, req_id, tick_type, size]


def tick_snapshot_end(req_id: int) -> Fields:
    return [57, 1, req_id]


def market_data_type(req_id: int, data_type: int) -> Fields:
    return [58, 1, req_id, data_type]
