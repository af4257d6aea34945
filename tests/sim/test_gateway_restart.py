"""A Gateway restart: sockets dropped, connections refused, state intact on reconnect.

The client holds a position with live exit orders (two filled bracket entries); the simulator
drops every connection and refuses new ones for 5 s (as the issue asks); meanwhile the market
moves and one bracket's take-profit fills. On reconnect the client finds the same remaining
position, the same working exit orders and every execution, including the one that filled while
it was away.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from ib_async import IB, Stock

from tests.sim.tws.clients import qualified

REFUSE_SECONDS = 5.0


async def settle() -> None:
    for _ in range(6):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)


async def reconnect(ib: IB, gateway, client_id: int, deadline: float) -> None:
    while True:
        try:
            await ib.connectAsync(gateway.host, gateway.port, clientId=client_id, timeout=2)
            return
        except (ConnectionRefusedError, OSError):
            assert time.monotonic() < deadline, "gateway never came back"
            await asyncio.sleep(0.25)


async def test_reconnecting_client_finds_position_working_exits_and_the_missed_fill(gateway, caplog) -> None:
    caplog.set_level(logging.INFO, logger="ib_async")
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=7, timeout=2)
    [spy] = await qualified(ib, Stock("SPY", "SMART", "USD"))
    price = gateway.replay.price_at("SPY", gateway.now())
    target = round(max(b.high for b in gateway.replay.bars("SPY")[1:30]) - 0.01, 2)
    held = ib.bracketOrder("BUY", 10, round(price + 0.5, 2), round(price * 1.2, 2), round(price * 0.8, 2))
    quick = ib.bracketOrder("BUY", 5, round(price + 0.5, 2), target, round(price * 0.8, 2))
    held_trades = [ib.placeOrder(spy, o) for o in held]
    quick_trades = [ib.placeOrder(spy, o) for o in quick]
    await settle()
    assert [t.orderStatus.status for t in held_trades] == ["Filled", "Submitted", "PreSubmitted"]
    exits = {held_trades[1].order.orderId: "Submitted", held_trades[2].order.orderId: "PreSubmitted"}

    lost = asyncio.Event()
    ib.disconnectedEvent += lost.set
    t0 = time.monotonic()
    gateway.restart(REFUSE_SECONDS)
    await asyncio.wait_for(lost.wait(), 2)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(gateway.host, gateway.port)
    gateway.step(30 * 60)  # the quick bracket's take-profit fills while the client is away

    await reconnect(ib, gateway, 7, t0 + REFUSE_SECONDS + 3)
    try:
        assert time.monotonic() - t0 >= REFUSE_SECONDS - 0.1
        [pos] = ib.positions()
        assert (pos.contract.symbol, pos.position) == ("SPY", 10.0)
        working = {t.order.orderId: t.orderStatus.status for t in ib.openTrades()}
        assert working == exits
        fills = sorted(ib.fills(), key=lambda f: f.execution.time)
        expected = {held_trades[0].order.orderId, quick_trades[0].order.orderId, quick_trades[1].order.orderId}
        assert {f.execution.orderId for f in fills} == expected
        assert [f.execution.side for f in fills] == ["BOT", "BOT", "SLD"]
        assert all(f.commissionReport.commission > 0 for f in fills)
        finished = {t.order.permId: t.orderStatus.status for t in ib.trades()}
        assert finished[quick_trades[1].order.permId] == "Filled"
        assert finished[quick_trades[2].order.permId] == "Cancelled"
    finally:
        ib.disconnect()
    decoder_errors = [r.getMessage()[:200] for r in caplog.records if r.name == "ib_async.Decoder"]
    assert not decoder_errors
