"""IBConnection and IBBroker against the Gateway simulator on loopback (the real ib_async client).

The gateway fixture runs on the test's event loop with a stepping clock at the 2019-02-13 open
(SPY/QQQ/MSFT from the shared data); `gateway.step(s)` moves the market and delivers what it
causes before returning."""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from trade.broker import ConnectionState
from trade.ib.broker import IBBroker
from trade.ib.connection import ConnectionFailed, IBConnection
from trade.models import Bar, Fill, OrderStatus, OrderTicket, Side

NY = ZoneInfo("America/New_York")


async def _broker(gateway, client_id: int = 2) -> tuple[IBConnection, IBBroker]:
    connection = IBConnection("127.0.0.1", gateway.port, client_id, connect_timeout=2)
    await connection.connect()
    broker = IBBroker(connection)
    await broker.start()
    return connection, broker


async def _settle(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_refused_connection_is_one_line_naming_host_port_and_the_fix():
    port = _free_port()
    connection = IBConnection("127.0.0.1", port, 2, attempts=1)
    with pytest.raises(ConnectionFailed) as failure:
        await connection.connect()
    message = str(failure.value)
    assert f"127.0.0.1:{port}" in message and "connection refused" in message
    assert "--sim" in message and "\n" not in message


async def test_a_port_that_is_not_the_ib_api_is_reported_as_such():
    async def silent(reader, writer):
        await reader.read(1 << 16)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        connection = IBConnection("127.0.0.1", port, 2, connect_timeout=0.5, attempts=1)
        with pytest.raises(ConnectionFailed, match="no IB API handshake"):
            await connection.connect()
    finally:
        server.close()


async def test_client_id_in_use_is_reported_without_retrying(gateway):
    first, _ = await _broker(gateway, client_id=7)
    try:
        second = IBConnection("127.0.0.1", gateway.port, 7, connect_timeout=0.5, attempts=3)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ConnectionFailed, match="client id 7 is already in use"):
            await second.connect()
        assert asyncio.get_running_loop().time() - started < 2.0, "326 must not be retried"
    finally:
        await first.close()


async def test_broker_reads_the_paper_account_and_knows_only_replayed_symbols(gateway):
    connection, broker = await _broker(gateway)
    try:
        account = await broker.account()
        assert account.is_paper and account.net_liquidation == pytest.approx(100_000.0)
        assert account.masked_id == "****4567"
        assert await broker.qualify(["SPY", "ZZZZ"]) == {"SPY": True, "ZZZZ": False}
        drift = broker.now() - datetime(2019, 2, 13, 9, 30, tzinfo=NY)
        assert 0 <= drift.total_seconds() < 5, "the broker's clock is the simulator's replay clock"
    finally:
        await broker.stop()
        await connection.close()


async def test_history_serves_the_previous_session_as_completed_minute_bars(gateway):
    connection, broker = await _broker(gateway)
    try:
        await broker.qualify(["SPY"])
        bars = await broker.history("SPY", "1 D", "1 min")
        assert len(bars) == 390
        assert bars[0].start == datetime(2019, 2, 12, 9, 30, tzinfo=NY)
        assert all(b.end <= broker.now() for b in bars)
    finally:
        await broker.stop()
        await connection.close()


async def test_a_window_without_bars_is_no_history_not_a_pacing_violation(gateway):
    """IB answers a history window holding no bar with 162 "HMDS query returned no data": the
    broker returns no bars at once instead of retrying it as a pacing violation."""
    connection, broker = await _broker(gateway)
    try:
        await broker.qualify(["SPY"])
        assert await broker.history("SPY", "60 S", "1 min") == []  # at the open: nothing yet
        assert broker._pacing_violations == 0
        gateway.step(120)
        assert len(await broker.history("SPY", "120 S", "1 min")) == 2
    finally:
        await broker.stop()
        await connection.close()


async def test_live_bars_arrive_as_completed_minutes_in_order(gateway):
    connection, broker = await _broker(gateway)
    received: list[Bar] = []
    try:
        await broker.qualify(["SPY"])
        await broker.subscribe_bars("SPY", received.append)
        await _settle()  # the gateway registers the subscription before the market moves
        for _ in range(4):
            gateway.step(60)
            await _settle()
        starts = [b.start.strftime("%H:%M") for b in received]
        assert starts == ["09:30", "09:31", "09:32", "09:33"]
        assert broker.last_price("SPY") == received[-1].close
    finally:
        await broker.stop()
        await connection.close()


async def test_a_symbol_without_a_market_data_subscription_is_one_clear_error(caplog):
    """IB answers real-time bars without a subscription with 354 (or 10089/10167/10168); the
    client library logs it against an "order", and the bars simply never come. The trader is
    told once, naming the symbol and what to subscribe to."""
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource
    from tests.paths import DATA

    day = datetime(2019, 2, 13, tzinfo=NY).date()
    sim = GatewaySimulator.build(CsvBarSource(DATA, ["SPY", "AAPL"]), day, ["SPY"], port=0)
    await sim.start()
    connection, broker = await _broker(sim)
    try:
        assert await broker.qualify(["AAPL"]) == {"AAPL": True}  # IB knows the contract
        await broker.subscribe_bars("AAPL", lambda bar: None)
        await broker.subscribe_bars("AAPL", lambda bar: None)  # a resubscription: not said again
        await _settle(0.3)
        ours = [r.getMessage() for r in caplog.records if r.name.startswith("trade.")]
        lines = [m for m in ours if "market data" in m]
        assert len(lines) == 1 and lines[0].startswith("AAPL: no real-time market data (IB 354")
        assert "Market Data Subscriptions" in lines[0] and not any("rejected" in m for m in ours)
    finally:
        await broker.stop()
        await connection.close()
        await sim.stop()


async def test_bracket_entry_fills_and_its_exits_wait_at_the_broker(gateway):
    connection, broker = await _broker(gateway)
    fills: list[Fill] = []
    statuses: list[OrderTicket] = []
    commissions: list[tuple[str, float]] = []
    broker.add_fill_handler(fills.append)
    broker.add_commission_handler(lambda exec_id, c: commissions.append((exec_id, c)))
    broker.add_order_status_handler(statuses.append)
    try:
        await broker.qualify(["SPY"])
        tickets = broker.submit_bracket("SPY", 10, None, 400.0, 200.0, "DT-20190213-SPY-1-ENTRY")
        assert [t.order_ref for t in tickets.legs] == [
            "DT-20190213-SPY-1-ENTRY", "DT-20190213-SPY-1-TP", "DT-20190213-SPY-1-SL",
        ]
        gateway.step(5)
        await _settle(0.2)
        assert [(f.side, f.qty, f.order_ref) for f in fills] == [
            (Side.BUY, 10, "DT-20190213-SPY-1-ENTRY"),
        ]
        # the execution is reported first (IB execDetails), its commission in its own report
        assert [exec_id for exec_id, _ in commissions] == [fills[0].exec_id]
        assert commissions[0][1] > 0
        assert [(p.symbol, p.qty) for p in await broker.positions()] == [("SPY", 10)]
        working = {o.order_ref: o for o in await broker.open_orders()}
        assert set(working) == {"DT-20190213-SPY-1-TP", "DT-20190213-SPY-1-SL"}
        assert working["DT-20190213-SPY-1-SL"].stop_price == 200.0
        assert working["DT-20190213-SPY-1-TP"].oca_group == working["DT-20190213-SPY-1-SL"].oca_group
        await broker.cancel_all()
        await _settle(0.2)
        assert await broker.open_orders() == []
        assert any(s.status is OrderStatus.CANCELLED for s in statuses)
        executions = await broker.executions()
        assert [f.exec_id for f in executions] == [fills[0].exec_id]
    finally:
        await broker.stop()
        await connection.close()


async def test_reconnect_after_a_gateway_restart_restores_and_resubscribes(gateway):
    connection = IBConnection("127.0.0.1", gateway.port, 2, connect_timeout=2, backoff_initial=0.1)
    await connection.connect()
    broker = IBBroker(connection)
    await broker.start()
    states: list[ConnectionState] = []
    broker.add_connection_handler(states.append)
    received: list[Bar] = []
    try:
        await broker.qualify(["SPY"])
        await broker.subscribe_bars("SPY", received.append)
        await _settle()
        gateway.restart(0.3)
        await _settle(0.1)
        assert states[0] is ConnectionState.LOST
        for _ in range(40):
            if states[-1] is ConnectionState.RESTORED:
                break
            await _settle(0.05)
        assert states[-1] is ConnectionState.RESTORED and connection.reconnects == 1
        gateway.step(120)
        await _settle(0.2)
        assert received, "bars must flow again on the renewed subscription"
    finally:
        await broker.stop()
        await connection.close()


async def test_a_restore_step_that_meets_a_dropped_socket_is_one_warning_without_a_traceback(
    gateway, caplog
):
    """Chaos seed 13: the socket dropped again while the broker resubscribed after a reconnect;
    ib_async raised ConnectionError and the log carried a whole traceback for an expected event."""
    connection = IBConnection("127.0.0.1", gateway.port, 2, connect_timeout=2, backoff_initial=0.1)
    await connection.connect()
    dropped = []

    async def resubscribe_on_a_dead_socket() -> None:
        if not dropped:
            dropped.append(True)
            raise ConnectionError("Not connected")

    connection.add_restore_hook(resubscribe_on_a_dead_socket)
    try:
        gateway.restart(0.3)
        for _ in range(400):  # up to 20 s on a loaded machine; usually well under one
            await _settle(0.05)
            if connection.reconnects == 1 and connection.ib.isConnected() and dropped:
                break
        assert dropped and connection.reconnects == 1
        ours = [r for r in caplog.records if r.name == "trade.ib.connection" and "restore step" in r.message]
        assert [(r.levelname, r.exc_info) for r in ours] == [("WARNING", None)], ours
        assert "the connection dropped again (ConnectionError: Not connected)" in ours[0].message
    finally:
        await connection.close()
