"""Clock and fault control: the admin port, accelerated replay, the background-thread handle."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from ib_async import IB, Stock

from sim.market.sessions import NY
from tests.sim.tws.clients import bar_start, qualified


async def admin(gateway, *lines: str) -> list[str]:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.admin_port)
    replies = []
    for line in lines:
        writer.write(line.encode() + b"\n")
        await writer.drain()
        replies.append((await reader.readline()).decode().strip())
    writer.close()
    return replies


async def test_admin_port_steps_the_clock_and_reports_status(gateway_factory) -> None:
    gateway = await gateway_factory(admin=True)
    status, stepped, after = await admin(gateway, "status", "step 90", "status")
    assert status.startswith("OK time=2019-02-13T09:30:00-05:00 speed=step")
    assert stepped == "OK stepped 90 s"
    assert "time=2019-02-13T09:31:30-05:00" in after


async def test_admin_port_arms_faults_and_rejects_bad_commands(gateway_factory) -> None:
    gateway = await gateway_factory(admin=True)
    replies = await admin(
        gateway, "reject-next 201", "partial-next 0.5", "pacing-next", "connectivity lost",
        "connectivity restored", "speed 100", "partial-next 2", "frobnicate",
    )
    assert all(r.startswith("OK") for r in replies[:6]), replies
    assert replies[6].startswith("ERR partial-next fraction")
    assert replies[7].startswith("ERR unknown command")
    assert gateway.orders.reject_next == 201 and gateway.feeds.pacing_next
    assert gateway.clock.speed == 100


async def test_admin_restart_drops_clients_and_refuses_connections(gateway_factory) -> None:
    gateway = await gateway_factory(admin=True)
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=2)
    [reply] = await admin(gateway, "restart 0.3")
    assert reply == "OK restarting; refusing connections for 0.3 s"
    await asyncio.sleep(0.05)
    assert not ib.isConnected()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(gateway.host, gateway.port)
    await asyncio.sleep(0.4)
    await ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=2)
    ib.disconnect()


async def test_accelerated_replay_emits_every_completed_bar_in_order(gateway_factory) -> None:
    gateway = await gateway_factory(speed=3000.0, start=datetime(2019, 2, 13, 10, 0, tzinfo=NY))
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=2)
    [spy] = await qualified(ib, Stock("SPY", "SMART", "USD"))
    bars = await ib.reqHistoricalDataAsync(spy, "", "1 D", "1 min", "TRADES", True, keepUpToDate=True)
    first_live = len(bars)
    await asyncio.sleep(0.6)  # ~30 replay minutes
    ib.disconnect()
    live = bars[first_live - 1 :]
    assert len(live) > 20
    gaps = {(b.date - a.date).total_seconds() for a, b in zip(live, live[1:], strict=False)}
    assert gaps == {60.0}


async def test_unknown_contract_is_200_and_unreplayed_market_data_is_354(gateway_factory) -> None:
    gateway = await gateway_factory(symbols=("SPY",))
    gateway.feeds._source_symbols = {"SPY", "QQQ"}  # as if the data held QQQ on other days
    ib = IB()
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    await ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=2)
    [qqq] = await qualified(ib, Stock("QQQ", "SMART", "USD"))
    ib.reqMktData(qqq)
    await ib.qualifyContractsAsync(Stock("NOPE", "SMART", "USD"))
    await asyncio.sleep(0.02)
    ib.disconnect()
    assert codes[-2:] == [354, 200]


def test_background_thread_serves_a_blocking_client() -> None:
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource
    from tests.conftest import DATA_DIR, TEST_DAY

    sim = GatewaySimulator.build(CsvBarSource(DATA_DIR, ["SPY"]), TEST_DAY, ["SPY"])
    handle = sim.start_in_thread()
    ib = IB()
    try:
        ib.connect(handle.host, handle.port, clientId=1, timeout=2)
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        handle.call(sim.step, 120)
        bars = ib.reqHistoricalData(spy, "", "1800 S", "1 min", "TRADES", True)
        assert [bar_start(b).minute for b in bars] == [30, 31]
    finally:
        ib.disconnect()
        handle.stop()
