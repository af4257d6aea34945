"""ib_insync 0.9.86 (the older client, max server version 176) against the simulator."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from ib_insync import IB, Stock


async def settle() -> None:
    for _ in range(6):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)


class TimedIB(IB):
    """ib_insync's client, noting how long its connect took."""

    connect_seconds = 0.0


@pytest.fixture
async def ib(gateway, caplog):
    caplog.set_level(logging.INFO, logger="ib_insync")
    client = TimedIB()
    t0 = time.perf_counter()
    await client.connectAsync(gateway.host, gateway.port, clientId=3, timeout=2)
    client.connect_seconds = time.perf_counter() - t0
    yield client
    client.disconnect()
    problems = [r.getMessage()[:300] for r in caplog.records
                if r.name == "ib_insync.Decoder" or "No order found" in r.getMessage()
                or "timed out" in r.getMessage()]
    assert not problems, problems


async def test_ib_insync_connects_fast_at_version_176(ib) -> None:
    assert ib.client.serverVersion() == 176
    assert ib.connect_seconds < 1.0  # a missing startup answer costs the client a 4 s timeout
    assert ib.managedAccounts() == ["DU1234567"]


async def test_ib_insync_gets_a_full_session_of_minute_bars(ib) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    bars = await ib.reqHistoricalDataAsync(spy, "", "1 D", "1 min", "TRADES", True)
    assert len(bars) == 390


async def test_ib_insync_bracket_trades_end_to_end(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    price = gateway.replay.price_at("SPY", gateway.now())
    target = round(max(b.high for b in gateway.replay.bars("SPY")[1:30]) - 0.01, 2)
    bracket = ib.bracketOrder("BUY", 10, round(price + 0.5, 2), target, round(price * 0.9, 2))
    trades = [ib.placeOrder(spy, o) for o in bracket]
    await settle()
    gateway.step(30 * 60)
    await settle()
    assert [t.orderStatus.status for t in trades] == ["Filled", "Filled", "Cancelled"]
    fills = trades[0].fills + trades[1].fills
    assert [f.execution.side for f in fills] == ["BOT", "SLD"]
    assert all(f.commissionReport.commission > 0 for f in fills)
    assert len(await ib.reqExecutionsAsync()) == 2


async def test_ib_insync_upstream_request_test_what_if_and_321(ib) -> None:
    """ib_insync's own tests/test_requests.py, on a symbol the replay has (the simulator knows no
    MMM): a what-if order gets a commission; a stock without an exchange raises RequestError 321."""
    from ib_insync import MarketOrder, RequestError

    state = await ib.whatIfOrderAsync(Stock("SPY", "SMART", "USD"), MarketOrder("BUY", 100))
    assert state.commission > 0
    ib.RaiseRequestErrors = True
    with pytest.raises(RequestError) as err:
        await ib.whatIfOrderAsync(Stock("XXX"), MarketOrder("BUY", 100))
    assert err.value.code == 321
