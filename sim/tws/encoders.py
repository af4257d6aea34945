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

Fields = list[object]
ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AON,AVGCOST,BASKET,DAY,FOK,GAT,GTC,GTD,IOC,LIT,LMT,LOC,MIT,MKT,MOC,"
    "OCA,REL,STP,STPLMT,TRAIL,WHATIF"
)


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


def contract_fields(c: StockContract, exchange: str = "SMART") -> Fields:
    return [c.con_id, c.symbol, "STK", "", 0.0, "", "", exchange, "USD", c.symbol, c.symbol]


def price_field(p: float | None) -> object:
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
    return [61, 3, account, *contract_fields(c, exchange=""), qty, avg_cost]


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
        ORDER_TYPES,
        c.valid_exchanges,
        1,  # priceMagnifier
        0,  # underConId
        c.long_name,
        c.primary_exchange,
        "",  # contractMonth
        *c.industry,  # industry, category, subcategory
        "US/Eastern",
        trading_hours,
        liquid_hours,
        "", "",  # evRule, evMultiplier
        0,  # no secIds
        1,  # aggGroup
        "", "",  # underSymbol, underSecType
        ",".join(["26"] * len(c.valid_exchanges.split(","))),  # marketRuleIds: one per valid exchange
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


def tick_generic(req_id: int, tick_type: int, value: float) -> Fields:
    """Generic ticks (shortable 46, trade count 54, ...): ib_async's `tickGeneric`."""
    return [45, 6, req_id, tick_type, value]


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    """String ticks (RTVolume 48: "price;size;ms;total volume;VWAP;single trade flag")."""
    return [46, 6, req_id, tick_type, value]


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int) -> Fields:
    """Sent first for every reqMktData since API 9.73 (the contract's minimum tick)."""
    return [81, req_id, min_tick, bbo_exchange, snapshot_permissions]


def tick_snapshot_end(req_id: int) -> Fields:
    return [57, 1, req_id]


def market_data_type(req_id: int, data_type: int) -> Fields:
    return [58, 1, req_id, data_type]
