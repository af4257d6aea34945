"""Pure mappings from real ib_async objects to our models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import ib_async
import pytest

from trade.ib import translate as ib_translate
from trade.models import OrderStatus, OrderType, Side

NY = ZoneInfo("America/New_York")
UNSET = ib_translate.UNSET_DOUBLE
SPY = ib_async.Stock("SPY", "SMART", "USD")


def ib_trade(order: ib_async.Order, status: str = "Submitted", filled: float = 0.0,
             avg: float = 0.0, perm_id: int = 0) -> ib_async.Trade:
    return ib_async.Trade(SPY, order, ib_async.OrderStatus(order.orderId, status, filled,
                                                           order.totalQuantity - filled, avg, perm_id))


def test_limit_order_keeps_its_limit_and_has_no_stop():
    order = ib_async.LimitOrder("SELL", 10, 101.42, orderId=7, orderRef="DT-20250703-SPY-1-TP",
                                parentId=6, ocaGroup="BRK-6")
    ticket = ib_translate.order_ticket(ib_trade(order))
    assert (ticket.order_id, ticket.order_ref, ticket.symbol, ticket.side, ticket.qty) == (
        7, "DT-20250703-SPY-1-TP", "SPY", Side.SELL, 10)
    assert (ticket.order_type, ticket.limit_price, ticket.stop_price) == (OrderType.LIMIT, 101.42, None)
    assert (ticket.parent_id, ticket.oca_group, ticket.status) == (6, "BRK-6", OrderStatus.SUBMITTED)


def test_stop_order_takes_its_stop_from_aux_price():
    ticket = ib_translate.order_ticket(ib_trade(ib_async.StopOrder("SELL", 10, 99.2, orderId=8)))
    assert (ticket.order_type, ticket.limit_price, ticket.stop_price) == (OrderType.STOP, None, 99.2)


def test_stop_limit_order_has_both_prices():
    order = ib_async.StopLimitOrder("SELL", 5, 99.0, 99.2, orderId=9)
    ticket = ib_translate.order_ticket(ib_trade(order))
    assert (ticket.order_type, ticket.limit_price, ticket.stop_price) == (OrderType.STOP_LIMIT, 99.0, 99.2)


def test_market_order_has_no_prices_even_with_stray_values():
    order = ib_async.MarketOrder("BUY", 3, orderId=10)
    order.lmtPrice, order.auxPrice = 5.0, 6.0
    ticket = ib_translate.order_ticket(ib_trade(order))
    assert (ticket.order_type, ticket.limit_price, ticket.stop_price) == (OrderType.MARKET, None, None)
    assert ticket.side is Side.BUY


def test_unset_limit_price_is_none():
    order = ib_async.Order(orderId=11, action="SELL", totalQuantity=1, orderType="LMT", lmtPrice=UNSET)
    assert ib_translate.order_ticket(ib_trade(order)).limit_price is None


def test_fill_progress_and_perm_id_come_from_the_status():
    order = ib_async.MarketOrder("BUY", 10, orderId=12)
    ticket = ib_translate.order_ticket(ib_trade(order, "Filled", 10.0, 620.05, perm_id=555))
    assert (ticket.status, ticket.filled, ticket.remaining) == (OrderStatus.FILLED, 10, 0)
    assert (ticket.avg_fill_price, ticket.perm_id) == (620.05, 555)


@pytest.mark.parametrize(("ib_status", "ours"), [
    ("PreSubmitted", OrderStatus.PRE_SUBMITTED), ("Cancelled", OrderStatus.CANCELLED),
    ("ApiCancelled", OrderStatus.API_CANCELLED), ("Inactive", OrderStatus.INACTIVE),
    ("PendingSubmit", OrderStatus.PENDING_SUBMIT), ("ApiPending", OrderStatus.PENDING_SUBMIT),
])
def test_order_status_mapping(ib_status: str, ours: OrderStatus):
    ticket = ib_translate.order_ticket(ib_trade(ib_async.MarketOrder("BUY", 1, orderId=1), ib_status))
    assert ticket.status is ours


def test_execution_maps_to_a_fill_with_commission_and_ny_time():
    execution = ib_async.Execution(execId="0001.01", time=datetime(2025, 7, 3, 14, 1, 0, tzinfo=UTC),
                                   side="BOT", shares=10.0, price=620.05, orderId=12,
                                   orderRef="DT-20250703-SPY-1-ENTRY")
    report = ib_async.CommissionReport("0001.01", 1.0, "USD", UNSET)
    fill = ib_translate.fill(ib_async.Fill(SPY, execution, report, execution.time))
    assert (fill.exec_id, fill.order_id, fill.order_ref, fill.symbol) == (
        "0001.01", 12, "DT-20250703-SPY-1-ENTRY", "SPY")
    assert (fill.side, fill.qty, fill.price, fill.commission) == (Side.BUY, 10, 620.05, 1.0)
    assert fill.time == datetime(2025, 7, 3, 10, 1, tzinfo=NY)
    assert fill.time.utcoffset() is not None and fill.time.tzinfo == NY
    assert fill.realized_pnl is None  # opening execution: IB reports the unset double


def test_sold_execution_is_a_sell_with_realized_pnl():
    execution = ib_async.Execution(execId="2", time=datetime(2025, 7, 3, 15, 0, tzinfo=UTC), side="SLD",
                                   shares=10.0, price=628.7, orderId=13)
    report = ib_async.CommissionReport("2", 1.0, "USD", 84.5)
    fill = ib_translate.fill(ib_async.Fill(SPY, execution, report, execution.time))
    assert (fill.side, fill.realized_pnl, fill.order_ref) == (Side.SELL, 84.5, "")


def test_execution_whose_commission_report_has_not_come_has_no_commission_yet():
    """IB sends the commission report after the execution: until it comes the commission is
    unknown (None), never 0 for good (before: 0.0, recorded as the execution's commission)."""
    execution = ib_async.Execution(execId="3", time=datetime(2025, 7, 3, 15, 0, tzinfo=UTC), side="SLD",
                                   shares=1.0, price=1.0)
    waiting = ib_async.CommissionReport()  # what ib_async attaches until the report arrives
    fill = ib_translate.fill(ib_async.Fill(SPY, execution, waiting, execution.time))
    assert (fill.commission, fill.cost, fill.realized_pnl) == (None, 0.0, None)
    # ib_async types the report as always present; a fill can carry None before it comes
    fill = ib_translate.fill(ib_async.Fill(SPY, execution, None, execution.time))  # type: ignore[arg-type]
    assert fill.commission is None


def test_a_commission_ib_left_unset_is_unknown_not_a_huge_fee():
    execution = ib_async.Execution(execId="4", time=datetime(2025, 7, 3, 15, 0, tzinfo=UTC), side="BOT",
                                   shares=1.0, price=1.0)
    report = ib_async.CommissionReport("4", UNSET, "USD", UNSET)
    assert ib_translate.fill(ib_async.Fill(SPY, execution, report, execution.time)).commission is None


def test_naive_times_are_taken_as_utc():
    assert ib_translate.to_ny(datetime(2025, 7, 3, 14, 0)) == datetime(2025, 7, 3, 10, 0, tzinfo=NY)  # noqa: DTZ001


def test_position_maps_symbol_qty_cost_and_account():
    position = ib_translate.position(ib_async.Position("DU1234567", SPY, 30.0, 619.5))
    assert (position.symbol, position.qty, position.avg_cost, position.account) == ("SPY", 30, 619.5, "DU1234567")


def test_short_position_keeps_its_sign():
    assert ib_translate.position(ib_async.Position("DU1", SPY, -5.0, 10.0)).qty == -5


def values(*rows: tuple[str, str, str, str]) -> list[ib_async.AccountValue]:
    return [ib_async.AccountValue(account, tag, value, currency, "") for account, tag, value, currency in rows]


def test_account_reads_usd_rows_of_its_own_account():
    account = ib_translate.account("DU1", values(
        ("DU1", "NetLiquidation", "100000.5", "USD"), ("DU1", "TotalCashValue", "90000", "USD"),
        ("DU1", "BuyingPower", "400000", "USD"), ("DU1", "RealizedPnL", "12.5", "USD"),
        ("DU1", "UnrealizedPnL", "-3", "USD"), ("DU2", "NetLiquidation", "1", "USD"),
        ("DU1", "NetLiquidation", "7", "EUR"), ("DU1", "AccountType", "INDIVIDUAL", ""),
    ))
    assert (account.account_id, account.net_liquidation, account.cash, account.buying_power) == (
        "DU1", 100000.5, 90000.0, 400000.0)
    assert (account.realized_pnl, account.unrealized_pnl) == (12.5, -3.0)


def test_buying_power_falls_back_to_available_funds():
    account = ib_translate.account("DU1", values(("DU1", "AvailableFunds", "5000", "USD")))
    assert account.buying_power == 5000.0


def test_account_with_no_rows_is_all_zero():
    account = ib_translate.account("DU1", [])
    assert (account.net_liquidation, account.cash, account.buying_power) == (0.0, 0.0, 0.0)


def test_intraday_bar_data_keeps_its_start_in_new_york_time():
    data = ib_async.BarData(datetime(2025, 7, 3, 13, 30, tzinfo=UTC), 620.0, 621.0, 619.5, 620.5, 1200, 620.2, 30)
    bar = ib_translate.bar("SPY", data)
    assert bar.start == datetime(2025, 7, 3, 9, 30, tzinfo=NY)
    assert (bar.symbol, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.seconds) == (
        "SPY", 620.0, 621.0, 619.5, 620.5, 1200.0, 60)


def test_daily_bar_data_starts_at_the_open():
    data = ib_async.BarData(date(2025, 7, 3), 1.0, 2.0, 0.5, 1.5, 10, 1.2, 3)
    bar = ib_translate.bar("SPY", data, seconds=86_400)
    assert bar.start == datetime(2025, 7, 3, 9, 30, tzinfo=NY) and bar.seconds == 86_400
