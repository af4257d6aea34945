"""goodAfterTime and the bracket rules over the wire, with the real ib_async client.

The day trader's broker-held backstop is a market SELL child in the exits' OCA group with a
goodAfterTime at the flatten time + 2 minutes; these tests drive exactly that through the TWS
protocol, plus the parent/child rules when a parent or a child is rejected.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from ib_async import LimitOrder, MarketOrder, Order, Stock, StopOrder

from sim.market.sessions import NY
from sim.tws.faults import OrderFilter
from tests.sim.tws.clients import connect, error_codes, settle

SPY = Stock("SPY", "SMART", "USD")
TEN = datetime(2019, 2, 13, 10, 0, tzinfo=NY)


def at(hh: int, mm: int) -> datetime:
    return datetime(2019, 2, 13, hh, mm, tzinfo=NY)


@pytest.mark.parametrize("when", [
    "20190213 10:00:00 US/Eastern",
    "20190213 10:00:00 America/New_York",
    "20190213 15:00:00 UTC",
    "20190213-15:00:00",
])
async def test_good_after_time_holds_a_market_order_until_then_in_every_client_format(ib, gateway, when) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 5, goodAfterTime=when))
    await settle()
    assert trade.orderStatus.status == "PreSubmitted"
    gateway.step_to(at(9, 59))
    await settle()
    assert trade.fills == []
    gateway.step_to(at(10, 1))
    await settle()
    assert trade.orderStatus.status == "Filled"
    [fill] = trade.fills
    assert fill.execution.time == TEN
    assert 0 <= fill.execution.price - gateway.replay.price_at("SPY", TEN) <= 0.04  # 1 bp, rounded up


async def test_good_after_time_is_echoed_in_open_and_completed_orders(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    ib.placeOrder(spy, MarketOrder("BUY", 5, goodAfterTime="20190213-15:00:00"))
    await settle()
    observer = await connect(gateway, client_id=0)  # clientId 0 sees every client's orders
    try:
        [held] = observer.openTrades()
        assert held.order.goodAfterTime == "20190213 10:00:00 US/Eastern"
        assert held.orderStatus.status == "PreSubmitted"
    finally:
        observer.disconnect()
    gateway.step_to(at(10, 1))
    await settle()
    [done] = await ib.reqCompletedOrdersAsync(apiOnly=True)
    assert done.order.goodAfterTime == "20190213 10:00:00 US/Eastern"


async def test_backstop_flatten_child_sells_at_its_time_and_cancels_the_exits(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    price = gateway.replay.price_at("SPY", gateway.now())
    parent = MarketOrder("BUY", 10, transmit=False, orderRef="bot:SPY:1")
    parent.orderId = ib.client.getReqId()
    exits = [
        LimitOrder("SELL", 10, round(price * 1.2, 2), transmit=False),
        StopOrder("SELL", 10, round(price * 0.8, 2), transmit=False),
        MarketOrder("SELL", 10, goodAfterTime="20190213 15:57:00 US/Eastern", tif="GTC", transmit=True),
    ]
    trades = [ib.placeOrder(spy, parent)]
    for order in exits:
        order.parentId, order.ocaGroup, order.ocaType = parent.orderId, "OCA-bot:SPY:1", 2
        trades.append(ib.placeOrder(spy, order))
    await settle()
    assert [t.orderStatus.status for t in trades] == ["Filled", "Submitted", "PreSubmitted", "PreSubmitted"]
    gateway.step_to(at(15, 58))
    await settle()
    entry, target, stop, backstop = trades
    assert [t.orderStatus.status for t in (target, stop, backstop)] == ["Cancelled", "Cancelled", "Filled"]
    assert backstop.fills[0].execution.time == at(15, 57)
    assert gateway.engine.positions() == {}


async def test_children_of_a_rejected_parent_are_rejected_too(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    price = gateway.replay.price_at("SPY", gateway.now())
    codes = error_codes(ib)
    gateway.reject_next_order(201, OrderFilter(role="parent"))
    bracket = ib.bracketOrder("BUY", 10, round(price + 0.5, 2), round(price + 0.02, 2), round(price - 0.02, 2))
    trades = [ib.placeOrder(spy, o) for o in bracket]
    await settle()
    gateway.step(30 * 60)
    await settle()
    assert codes == [201, 201, 201]
    assert [t.orderStatus.status for t in trades] == ["Cancelled"] * 3
    assert gateway.engine.orders() == [] and gateway.engine.positions() == {}


async def test_a_child_naming_an_unknown_parent_gets_10006(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    codes = error_codes(ib)
    child = StopOrder("SELL", 10, 200.0, parentId=987654)
    trade = ib.placeOrder(spy, child)
    await settle()
    assert codes == [10006] and trade.orderStatus.status == "Cancelled"
    assert gateway.engine.orders() == []


async def test_reject_next_child_rejects_one_exit_and_leaves_the_rest_of_the_bracket(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    price = gateway.replay.price_at("SPY", gateway.now())
    codes = error_codes(ib)
    gateway.reject_next_child(201, OrderFilter(order_type="STP"))
    bracket = ib.bracketOrder("BUY", 10, round(price + 0.5, 2), round(price * 1.2, 2), round(price * 0.8, 2))
    entry, target, stop = (ib.placeOrder(spy, o) for o in bracket)
    await settle()
    assert codes == [201]
    assert (entry.orderStatus.status, target.orderStatus.status, stop.orderStatus.status) == (
        "Filled", "Submitted", "Cancelled")


async def test_cancel_from_tws_reaches_the_owner_as_cancelled_and_202(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    price = gateway.replay.price_at("SPY", gateway.now())
    trade = ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.8, 2), orderRef="keep-me"))
    other = ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.7, 2), orderRef="cancel-me"))
    codes = error_codes(ib)
    await settle()
    target = [o.order_id for o in gateway.engine.open_orders() if o.order_ref == "cancel-me"]
    assert gateway.cancel_order_from_tws("cancel-me") == target
    await settle()
    assert (trade.orderStatus.status, other.orderStatus.status) == ("Submitted", "Cancelled")
    assert codes == [202]


async def test_off_tick_limit_price_is_rejected_with_110(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    codes = error_codes(ib)
    trade = ib.placeOrder(spy, LimitOrder("BUY", 1, 270.123))
    await settle()
    assert codes == [110] and trade.orderStatus.status == "Cancelled"


async def test_ioc_limit_that_cannot_fill_is_cancelled_at_once(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    price = gateway.replay.price_at("SPY", gateway.now())
    trade = ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.9, 2), tif="IOC"))
    await settle()
    assert trade.orderStatus.status == "Cancelled" and trade.fills == []


async def test_order_for_another_accounts_name_is_rejected(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(SPY)
    codes = error_codes(ib)
    ib.placeOrder(spy, Order(action="BUY", totalQuantity=1, orderType="MKT", account="U9999999"))
    await settle()
    assert codes == [201]
