"""IBBroker.place_limit against the Gateway simulator (the real ib_async client): the weekly
rebalancer's bounded-slippage order rests below the market, fills at the market or better when
marketable, and always goes out on the tick grid with its order ref."""

from __future__ import annotations

import asyncio

from trade.ib.broker import IBBroker
from trade.ib.connection import IBConnection
from trade.models import Fill, OrderStatus, OrderType, Side


async def _broker(gateway) -> tuple[IBConnection, IBBroker]:
    connection = IBConnection("127.0.0.1", gateway.port, 3, connect_timeout=2)
    await connection.connect()
    broker = IBBroker(connection)
    await broker.start()
    await broker.qualify(["SPY"])
    return connection, broker


async def test_a_limit_below_the_market_rests_on_the_tick_grid_with_its_ref(gateway):
    connection, broker = await _broker(gateway)
    try:
        price = (await broker.history("SPY", "1 D", "1 min"))[-1].close
        ticket = await broker.place_limit("SPY", Side.BUY, 7, price * 0.9 + 0.00321,
                                          "WK-20190213-SPY-1")
        assert ticket.order_type is OrderType.LIMIT
        gateway.step(5)
        await asyncio.sleep(0.2)
        [working] = await broker.open_orders()
        assert working.order_ref == "WK-20190213-SPY-1"
        assert working.status is OrderStatus.SUBMITTED
        assert working.limit_price == round(price * 0.9 + 0.00321, 2)
        assert working.qty == 7 and working.filled == 0
    finally:
        await broker.stop()
        await connection.close()


async def test_a_marketable_limit_fills_at_the_market_or_better(gateway):
    connection, broker = await _broker(gateway)
    fills: list[Fill] = []
    broker.add_fill_handler(fills.append)
    try:
        limit = round(gateway.replay.price_at("SPY", gateway.now()) * 1.005, 2)
        await broker.place_limit("SPY", Side.BUY, 5, limit, "WK-20190213-SPY-2")
        gateway.step(5)
        await asyncio.sleep(0.2)
        assert [(f.side, f.qty, f.order_ref) for f in fills] == [
            (Side.BUY, 5, "WK-20190213-SPY-2")
        ]
        assert fills[0].price <= limit
        assert await broker.open_orders() == []
    finally:
        await broker.stop()
        await connection.close()
