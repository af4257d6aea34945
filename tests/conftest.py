"""Shared fixtures: the IB Gateway simulator in-process on a free port.

`gateway` runs on the test's own event loop with a *stepping* clock at the 2019-02-13 open
(SPY/QQQ/MSFT from the shared data), so a test moves time with `gateway.step(seconds)` and every
fill/bar it causes is delivered before the call returns. `gateway_factory(...)` builds one with
other settings (speed, start time, symbols, day).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from typing import Any

import pytest

from tests.paths import DATA as DATA_DIR

# What a user's .env holds (docs/backtests.md): commands run without --data read the real bars.
# Set at import, before any test starts a subprocess, so the subprocesses inherit it too.
os.environ.setdefault("MARKET_DATA_DIR", str(DATA_DIR))

TEST_DAY = date(2019, 2, 13)
TEST_SYMBOLS = ("SPY", "QQQ", "MSFT")


@pytest.fixture
async def gateway_factory() -> AsyncIterator[Callable[..., Any]]:
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource

    started: list[GatewaySimulator] = []

    async def make(
        *,
        day: date = TEST_DAY,
        symbols: Sequence[str] = TEST_SYMBOLS,
        speed: float | None = None,
        start: datetime | None = None,
        cash: float = 100_000.0,
        admin: bool = False,
    ) -> GatewaySimulator:
        source = CsvBarSource(DATA_DIR, symbols)
        sim = GatewaySimulator.build(
            source, day, symbols, speed=speed, start=start, cash=cash, port=0,
            admin_port=0 if admin else None,
        )
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()


@pytest.fixture
async def gateway(gateway_factory: Callable[..., Any]) -> Any:
    """A stepping-clock gateway at the 2019-02-13 open; `.host/.port/.engine/.clock/.step()`."""
    return await gateway_factory()
