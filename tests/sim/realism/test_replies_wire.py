"""Replies under IB's timing, through the real ib_async client: a latency that lets two requests
of one kind overlap (ib_async keys reqPositions by a fixed name: the first caller waits for
ever), replies of different kinds overtaking each other, the statuses IB pushes to a client
that reconnects, and reqAllOpenOrders seeing every client's orders."""

from __future__ import annotations

import asyncio

from ib_async import LimitOrder
from ib_async.ib import StartupFetchNONE

from sim.tws.realism import REPLY_KINDS, Delay, Realism
from tests.sim.realism.conftest import SPY, connect, fixed, of_kind, quiet, tap, until


def replies(**ms: float) -> dict[str, Delay]:
    return {kind: fixed(ms.get(kind, 0.0)) for kind in REPLY_KINDS}


async def overlapping_positions(gateway) -> tuple[asyncio.Future, asyncio.Future]:
    ib = await connect(gateway, fetchFields=StartupFetchNONE)
    first = asyncio.ensure_future(ib.reqPositionsAsync())
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(ib.reqPositionsAsync())
    await asyncio.wait_for(second, 5)
    await ib.reqCurrentTimeAsync()  # a round trip: any answer still owed the first has come
    ib.disconnect()
    return first, second


async def test_a_reply_latency_lets_two_position_requests_overlap_and_orphans_the_first(realistic) -> None:
    gateway = await realistic(quiet(reply=replies(positions=600)))
    first, second = await overlapping_positions(gateway)
    assert second.done() and not first.done()  # its answer went to the second: it never returns
    first.cancel()


async def test_without_realism_the_first_position_request_is_answered_before_the_second(realistic) -> None:
    gateway = await realistic(None)
    first, second = await overlapping_positions(gateway)
    assert first.done() and second.done()


async def test_replies_of_different_kinds_may_overtake_each_other(realistic) -> None:
    gateway = await realistic(quiet(reply=replies(positions=1000, current_time=10)))
    ib = await connect(gateway, fetchFields=StartupFetchNONE)
    frames = tap(ib)
    positions = asyncio.ensure_future(ib.reqPositionsAsync())
    await ib.reqCurrentTimeAsync()
    assert not positions.done()
    await positions
    kinds = [int(f[0]) for f in frames]
    assert kinds.index(49) < kinds.index(62)  # currentTime before positionEnd, asked after it
    ib.disconnect()


async def test_a_reconnecting_client_is_told_how_its_orders_changed_while_away(realistic) -> None:
    """IB's API guide on orderStatus: "It is also fired after reconnecting to TWS if the client
    has any open orders" - and the order that ended meanwhile is reported too."""
    gateway = await realistic(quiet(reconnect_push=True))
    ib = await connect(gateway)
    working = ib.placeOrder(SPY, LimitOrder("BUY", 10, 200.0))
    ended = ib.placeOrder(SPY, LimitOrder("BUY", 20, 201.0))
    await until(lambda: ended.orderStatus.status == "Submitted")
    ib.disconnect()
    await until(lambda: "clients=none" in gateway.status())
    gateway.cancel_order_from_tws(gateway.state()["open_orders"][1]["order_id"])  # while away

    again = IBWithTap()
    await again.ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=5,
                                fetchFields=StartupFetchNONE)  # it asks for nothing
    await until(lambda: {t.order.orderId: t.orderStatus.status for t in again.ib.trades()} == {
        working.order.orderId: "Submitted", ended.order.orderId: "Cancelled"})
    pushed = [(int(f[0]), int(f[1])) for f in of_kind(again.frames, 3, 5)]
    assert pushed == [(5, working.order.orderId), (3, working.order.orderId),
                      (5, ended.order.orderId), (3, ended.order.orderId)]
    again.ib.disconnect()


async def test_without_realism_nothing_is_pushed_on_reconnect(realistic) -> None:
    gateway = await realistic(Realism.off())
    ib = await connect(gateway)
    ib.placeOrder(SPY, LimitOrder("BUY", 10, 200.0))
    await ib.reqCurrentTimeAsync()
    ib.disconnect()
    await until(lambda: "clients=none" in gateway.status())
    again = IBWithTap()
    await again.ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=5,
                                fetchFields=StartupFetchNONE)
    await again.ib.reqCurrentTimeAsync()
    assert of_kind(again.frames, 3, 5) == [] and again.ib.trades() == []
    again.ib.disconnect()


async def test_all_open_orders_lists_every_clients_orders_open_orders_only_the_callers(realistic) -> None:
    """IB's "Open Orders" page: reqOpenOrders returns the orders of the client that asks,
    reqAllOpenOrders those of every API client (a bot restarted under another id sees its
    exits)."""
    gateway = await realistic(Realism.default(seed=3))
    owner = await connect(gateway, client_id=2)
    trade = owner.placeOrder(SPY, LimitOrder("SELL", 10, 400.0, orderRef="DT-exit"))
    await until(lambda: trade.orderStatus.status == "Submitted")
    other = await connect(gateway, client_id=3, fetchFields=StartupFetchNONE)
    assert await other.reqOpenOrdersAsync() == []
    seen = await other.reqAllOpenOrdersAsync()
    assert [(t.order.clientId, t.order.orderId, t.order.orderRef) for t in seen] == [
        (2, trade.order.orderId, "DT-exit")]
    owner.disconnect()
    other.disconnect()


class IBWithTap:
    """An ib_async client whose decoded frames are recorded from before it connects."""

    def __init__(self) -> None:
        from ib_async import IB

        self.ib = IB()
        self.frames = tap(self.ib)
