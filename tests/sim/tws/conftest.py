"""Fixtures for the wire tests: an ib_async client on the stepping gateway of tests/conftest.py,
failing the test on any decoder error or timeout the client only logs."""

from __future__ import annotations

import logging

import pytest

from tests.sim.tws.clients import connect


@pytest.fixture
def client_log(caplog):
    """Returns the client's decoder errors, 'No order found' complaints and timeouts so far."""
    caplog.set_level(logging.INFO, logger="ib_async")

    def problems() -> list[str]:
        return [
            r.getMessage()[:300] for r in caplog.records
            if r.name == "ib_async.Decoder" or "No order found" in r.getMessage()
            or "timed out" in r.getMessage()
        ]

    return problems


@pytest.fixture
async def ib(gateway, client_log):
    client = await connect(gateway)
    yield client
    client.disconnect()
    assert not client_log(), client_log()


@pytest.fixture
async def gateway_with():
    """`await gateway_with(**build_kwargs)`: a stepping gateway on SPY/QQQ/MSFT at the 2019-02-13
    open (like `gateway`), built with any `GatewaySimulator.build` keyword (days, accounts,
    master client id, state file...); `whole_data=True` puts every symbol of the data directory
    behind it (history and contract details for symbols it does not replay)."""
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource
    from tests.conftest import TEST_DAY, TEST_SYMBOLS
    from tests.paths import DATA

    started = []

    async def make(**kwargs):
        symbols = kwargs.pop("symbols", TEST_SYMBOLS)
        day = kwargs.pop("day", TEST_DAY)
        source = CsvBarSource(DATA, None if kwargs.pop("whole_data", False) else symbols)
        sim = GatewaySimulator.build(source, day, symbols, port=0, **kwargs)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()
