"""Alert endpoints on loopback (Telegram, Slack, a JSON webhook, SMTP) and a clock tests move.

The fake servers run on the test's own event loop, which is also the loop that calls `notify()`:
had `notify()` ever blocked on a delivery, the servers could not have answered and the test would
time out instead of passing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from observability.alerts.endpoints import Endpoint
from observability.alerts.notifier import Notifier
from tests.fakes.alert_servers import FakeSlack, FakeTelegram, FakeWebhook


class FakeClock:
    """The notifier's monotonic clock, moved by the test (then `notifier.poke()`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for a condition the notifier's thread brings about (counts, never durations)."""
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def servers() -> AsyncIterator[Callable[..., Any]]:
    started: list[Any] = []

    async def start(kind: type[Any], **kwargs: Any) -> Any:
        server = await kind(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def notifiers() -> AsyncIterator[list[Notifier]]:
    made: list[Notifier] = []
    yield made
    for notifier in made:
        await notifier.aclose(0.5)


def endpoint(server: FakeTelegram | FakeSlack | FakeWebhook, timeout_s: float = 5.0) -> Endpoint:
    made = Endpoint.from_url(server.url, timeout_s=timeout_s)
    return server.route(made) if isinstance(server, FakeTelegram | FakeSlack) else made
