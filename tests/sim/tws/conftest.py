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
