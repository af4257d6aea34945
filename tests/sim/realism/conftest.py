"""Fixtures for IB's timing (sim/tws/realism.py): a stepping gateway at the 2019-02-13 open with
one timing behaviour switched on at a time (`quiet(...)`: every delay zero, nothing dropped or
duplicated, unless a test asks), an ib_async client, and a tap on the frames the client decodes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from ib_async import IB, Stock

from sim.tws.realism import REPLY_KINDS, Delay, Realism

SPY = Stock("SPY", "SMART", "USD")
NONE = Delay(0, 0)


def quiet(**changes: Any) -> Realism:
    """The realism with every behaviour off but the ones a test names."""
    base = Realism.default().varied(
        reply={k: NONE for k in REPLY_KINDS}, event=NONE, lane_jitter=NONE, commission=NONE,
        replayed_commission_trails_p=0.0, position_lag=NONE, missing_status_p=0.0,
        duplicate_p=0.0, reconnect_push=False, children_on_partial_fill=False,
        release_refusal=0, held_warning=False)
    return base.varied(**changes)


def fixed(ms: float) -> Delay:
    return Delay(ms, ms)


@pytest.fixture
async def realistic() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """`await realistic(realism, **build_kwargs)`: a stepping gateway on SPY/QQQ/MSFT at the
    2019-02-13 open under `realism`."""
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource
    from tests.conftest import TEST_DAY, TEST_SYMBOLS
    from tests.paths import DATA

    started: list[GatewaySimulator] = []

    async def make(realism: Realism | None, **kwargs: Any) -> GatewaySimulator:
        sim = GatewaySimulator.build(CsvBarSource(DATA, TEST_SYMBOLS), TEST_DAY, TEST_SYMBOLS,
                                     port=0, realism=realism, **kwargs)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()


async def connect(gateway: Any, client_id: int = 1, **kwargs: Any) -> IB:
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=client_id, timeout=5, **kwargs)
    return ib


def tap(ib: IB) -> list[list[str]]:
    """Every frame the client decodes from now on, in arrival order (message id first)."""
    frames: list[list[str]] = []
    decoder = ib.client.decoder
    interpret = decoder.interpret

    def recording(fields: list[str]) -> None:
        frames.append(list(fields))
        interpret(fields)

    decoder.interpret = recording  # type: ignore[method-assign]  # a wire tap on the real client
    return frames


def of_kind(frames: list[list[str]], *msg_ids: int) -> list[list[str]]:
    return [f for f in frames if int(f[0]) in msg_ids]


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (real time) until `predicate()` holds; fail the test if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.005)
