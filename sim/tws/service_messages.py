"""Server -> client answers to the less common requests (P&L, tick-by-tick, head timestamp,
matching symbols, market rules, histograms, positions by account, and the empty-but-valid
answers a real Gateway gives when it has nothing: no option chains, no news providers, ...).

Field lists follow the decoders of ib_async 2.1.0 / ib_insync 0.9.86 / ibapi 9.81 and are
round-trip tested like `encoders`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sim.tws.contracts import StockContract
from sim.tws.encoders import Fields, contract_fields

TICK_LAST, TICK_ALL_LAST, TICK_BID_ASK, TICK_MIDPOINT = 1, 2, 3, 4


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> Fields:
    return [94, req_id, daily, unrealized, realized]


def pnl_single(req_id: int, position: float, daily: float, unrealized: float, realized: float,
               value: float) -> Fields:
    return [95, req_id, position, daily, unrealized, realized, value]


def tick_by_tick_last(req_id: int, tick_type: int, epoch: int, price: float, size: float,
                      exchange: str) -> Fields:
    return [99, req_id, tick_type, epoch, price, size, 0, exchange, ""]


def tick_by_tick_bid_ask(req_id: int, epoch: int, bid: float, ask: float, bid_size: float,
                         ask_size: float) -> Fields:
    return [99, req_id, TICK_BID_ASK, epoch, bid, ask, bid_size, ask_size, 0]


def tick_by_tick_midpoint(req_id: int, epoch: int, midpoint: float) -> Fields:
    return [99, req_id, TICK_MIDPOINT, epoch, midpoint]


def head_timestamp(req_id: int, when: str) -> Fields:
    return [88, req_id, when]


# What IB lists as a US stock's derivatives in reqMatchingSymbols (TWS API "Stock Symbol Search":
# "Derivative Types: CFD OPT IOPT WAR"); the simulator itself serves the stocks only.
STOCK_DERIVATIVES = ("CFD", "OPT", "IOPT", "WAR")


def symbol_samples(sv: int, req_id: int, contracts: Sequence[StockContract]) -> Fields:
    f: Fields = [79, req_id, len(contracts)]
    for c in contracts:
        f += [c.con_id, c.symbol, "STK", c.primary_exchange, "USD", len(STOCK_DERIVATIVES), *STOCK_DERIVATIVES]
        if sv >= 176:
            f += [c.long_name, ""]  # description, issuerId
    return f


def market_rule(rule_id: int, increments: Sequence[tuple[float, float]]) -> Fields:
    f: Fields = [93, rule_id, len(increments)]
    for low_edge, increment in increments:
        f += [low_edge, increment]
    return f


def histogram_data(req_id: int, items: Sequence[tuple[float, int]]) -> Fields:
    f: Fields = [89, req_id, len(items)]
    for price, count in items:
        f += [price, count]
    return f


def position_multi(req_id: int, account: str, c: StockContract, qty: float, avg_cost: float) -> Fields:
    return [71, 1, req_id, account, *contract_fields(c, exchange=""), qty, avg_cost, ""]


def position_multi_end(req_id: int) -> Fields:
    return [72, 1, req_id]


def sec_def_opt_params_end(req_id: int) -> Fields:
    return [76, req_id]


def soft_dollar_tiers(req_id: int) -> Fields:
    return [77, req_id, 0]


def family_codes() -> Fields:
    return [78, 0]


def mkt_depth_exchanges() -> Fields:
    return [80, 0]


def smart_components(req_id: int) -> Fields:
    return [82, req_id, 0]


def news_providers() -> Fields:
    return [85, 0]


def historical_news_end(req_id: int) -> Fields:
    return [87, req_id, 0]  # hasMore = False


def user_info(req_id: int) -> Fields:
    return [107, req_id, ""]  # whiteBrandingId: none


def scanner_parameters(xml: str) -> Fields:
    return [19, 1, xml]


def scanner_data(req_id: int, contracts: Sequence[StockContract]) -> Fields:
    """scannerData (20): per row its rank, the contract, marketName, tradingClass, distance,
    benchmark, projection, legs; the clients' decoders call scannerDataEnd after the rows."""
    fields: Fields = [20, 3, req_id, len(contracts)]
    for rank, c in enumerate(contracts):
        fields += [rank, c.con_id, c.symbol, "STK", "", 0.0, "", "SMART", "USD", c.symbol,
                   c.primary_exchange, c.symbol, "", "", "", ""]
    return fields


def display_group_list(req_id: int) -> Fields:
    return [67, 1, req_id, ""]


def display_group_updated(req_id: int) -> Fields:
    return [68, 1, req_id, ""]
