"""The money-safety campaign's faults, from the admin port (the same code as the Python handle):
child rejections and partial fills, cancels "from TWS", a Gateway restart across the flatten time
and the close while broker-held orders keep working."""

from __future__ import annotations

import asyncio
from datetime import datetime

from ib_async import LimitOrder, MarketOrder, Stock, StopOrder

from sim.market.sessions import NY
from tests.sim.tws.clients import connect, error_codes, qualified, settle

SPY = Stock("SPY", "SMART", "USD")


def at(hh: int, mm: int) -> datetime:
    return datetime(2019, 2, 13, hh, mm, tzinfo=NY)


async def admin(gateway, *lines: str) -> list[str]:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.admin_port)
    replies = []
    for line in lines:
        writer.write(line.encode() + b"\n")
        await writer.drain()
        replies.append((await reader.readline()).decode().strip())
    writer.close()
    return replies


def bracket(ib, spy, price: float, qty: int = 10):
    orders = ib.bracketOrder("BUY", qty, round(price + 0.5, 2), round(price * 1.2, 2), round(price * 0.8, 2))
    return [ib.placeOrder(spy, o) for o in orders]


async def test_admin_rejects_the_next_child_only(gateway_with) -> None:
    gateway = await gateway_with(admin_port=0)
    ib = await connect(gateway)
    try:
        [spy] = await qualified(ib, SPY)
        codes = error_codes(ib)
        [reply] = await admin(gateway, "reject-next-child 201 type=LMT")
        assert reply == "OK next order (child type=LMT) will be rejected with 201"
        entry, target, stop = bracket(ib, spy, gateway.replay.price_at("SPY", gateway.now()))
        await settle()
        assert codes == [201]
        assert [t.orderStatus.status for t in (entry, target, stop)] == ["Filled", "Cancelled", "PreSubmitted"]
    finally:
        ib.disconnect()


async def test_admin_rejects_every_matching_order_until_lifted(gateway_with) -> None:
    """`reject-orders`: IB refusing a symbol's exits again and again (the day trader's repairs
    fail until a person steps in), where `reject-next` refuses one order only."""
    gateway = await gateway_with(admin_port=0)
    ib = await connect(gateway)
    try:
        [spy] = await qualified(ib, SPY)
        codes = error_codes(ib)
        [reply] = await admin(gateway, "reject-orders 201 action=SELL")
        assert reply == "OK every new order (action=SELL) is rejected with 201 until 'reject-orders off'"
        price = gateway.replay.price_at("SPY", gateway.now())
        sells = [ib.placeOrder(spy, LimitOrder("SELL", 1, round(price * 1.5, 2))) for _ in range(3)]
        buy = ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.5, 2)))
        await settle()
        assert codes == [201, 201, 201]
        assert [t.orderStatus.status for t in sells] == ["Cancelled"] * 3
        assert buy.orderStatus.status in ("Submitted", "PreSubmitted")
        [reply] = await admin(gateway, "reject-orders off")
        assert reply == "OK orders are no longer rejected"
        after = ib.placeOrder(spy, LimitOrder("SELL", 1, round(price * 1.5, 2)))
        await settle()
        assert codes == [201, 201, 201]
        assert after.orderStatus.status in ("Submitted", "PreSubmitted")
    finally:
        ib.disconnect()


async def test_admin_partial_fill_of_the_next_child(gateway_with) -> None:
    gateway = await gateway_with(admin_port=0)
    ib = await connect(gateway)
    try:
        [spy] = await qualified(ib, SPY)
        [reply] = await admin(gateway, "partial-next-child 0.3")
        assert reply.startswith("OK next fill (child)")
        entry = ib.placeOrder(spy, MarketOrder("BUY", 10))
        await settle()
        assert entry.orderStatus.filled == 10  # the parent-less entry is not a child
        exit_ = StopOrder("SELL", 10, 400.0)  # a sell stop above the market triggers at once
        exit_.parentId = entry.order.orderId
        child = ib.placeOrder(spy, exit_)
        gateway.step(60)  # (not in the instant its parent filled: rule R3)
        await settle()
        assert (child.orderStatus.filled, child.orderStatus.remaining) == (3, 7)
    finally:
        ib.disconnect()


async def test_admin_cancel_order_by_symbol_reaches_the_owner(gateway_with) -> None:
    gateway = await gateway_with(admin_port=0)
    ib = await connect(gateway)
    try:
        [spy] = await qualified(ib, SPY)
        price = gateway.replay.price_at("SPY", gateway.now())
        trade = ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.8, 2)))
        codes = error_codes(ib)
        await settle()
        replies = await admin(gateway, "cancel-order SPY", "cancel-order NOPE", "cancel-order")
        await settle()
        assert replies[0] == f"OK cancelled {gateway.engine.orders()[0].order_id}"
        assert replies[1].startswith("ERR cancel-order NOPE") and replies[2].startswith("ERR cancel-order")
        assert trade.orderStatus.status == "Cancelled" and codes == [202]
    finally:
        ib.disconnect()


async def test_restart_across_the_flatten_time_and_the_close_keeps_orders_working(gateway_with) -> None:
    gateway = await gateway_with(admin_port=0)
    ib = await connect(gateway)
    [spy] = await qualified(ib, SPY)
    price = gateway.replay.price_at("SPY", gateway.now())
    parent = MarketOrder("BUY", 10, transmit=False)
    parent.orderId = ib.client.getReqId()
    backstop = MarketOrder("SELL", 10, goodAfterTime="20190213 15:57:00 US/Eastern", parentId=parent.orderId,
                           ocaGroup="G", ocaType=2, transmit=False)
    stop = StopOrder("SELL", 10, round(price * 0.8, 2), parentId=parent.orderId, ocaGroup="G", ocaType=2)
    for order in (parent, backstop, stop):
        ib.placeOrder(spy, order)
    await settle()
    gateway.step_to(at(15, 54))
    [reply] = await admin(gateway, "restart 0.3")
    assert reply.startswith("OK restarting")
    await asyncio.sleep(0.05)
    assert not ib.isConnected()
    gateway.step_to(at(16, 1))  # the clock and the engine go on while nobody can connect
    await asyncio.sleep(0.4)
    ib = await connect(gateway)
    try:
        done = sorted((t.order.orderType, t.orderStatus.status) for t in await ib.reqCompletedOrdersAsync(apiOnly=True))
        assert done == [("MKT", "Filled"), ("MKT", "Filled"), ("STP", "Cancelled")]
        assert gateway.engine.positions() == {}
        fills = sorted((f.execution.side, f.execution.time) for f in ib.fills())
        assert fills[-1] == ("SLD", at(15, 57))
    finally:
        ib.disconnect()
