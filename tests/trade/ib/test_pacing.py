"""SlidingWindowPacer: requests wait until they fit every (count, window) rule."""

from __future__ import annotations

import asyncio
import time

import pytest

from trade.ib.pacing import SlidingWindowPacer


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 50.0

    def __call__(self) -> float:
        return self.value


async def test_requests_within_the_limit_go_at_once():
    mono = FakeMonotonic()
    pacer = SlidingWindowPacer(((3, 2.0),), monotonic=mono)
    for _ in range(3):
        assert pacer.delay_needed() == 0.0
        await pacer.acquire()


async def test_request_over_the_limit_waits_until_the_oldest_leaves_the_window():
    mono = FakeMonotonic()
    pacer = SlidingWindowPacer(((3, 2.0),), monotonic=mono)
    for step in (0.0, 0.5, 0.5):
        mono.value += step
        await pacer.acquire()  # sent at 50.0, 50.5, 51.0
    mono.value = 51.2
    assert pacer.delay_needed() == pytest.approx(0.8)  # 50.0 + 2.0 - 51.2
    mono.value = 52.0
    assert pacer.delay_needed() == 0.0


async def test_the_strictest_rule_decides_the_wait():
    mono = FakeMonotonic()
    pacer = SlidingWindowPacer(((2, 1.0), (3, 10.0)), monotonic=mono)
    for _ in range(3):
        await pacer.acquire()
        mono.value += 1.0  # sent at 50, 51, 52: the 1-second rule is satisfied
    assert pacer.delay_needed() == pytest.approx(50.0 + 10.0 - 53.0)


async def test_acquire_really_waits_when_the_window_is_full():
    pacer = SlidingWindowPacer(((2, 0.1),))
    started = time.monotonic()
    for _ in range(5):
        await pacer.acquire()
    elapsed = time.monotonic() - started
    assert 0.18 <= elapsed < 1.0  # 5 requests at 2 per 0.1 s need two full windows


async def test_concurrent_acquirers_never_exceed_the_rule():
    pacer = SlidingWindowPacer(((3, 0.1),))
    sent: list[float] = []

    async def request() -> None:
        await pacer.acquire()
        sent.append(time.monotonic())

    await asyncio.gather(*(request() for _ in range(9)))
    sent.sort()
    for i in range(3, len(sent)):
        assert sent[i] - sent[i - 3] >= 0.1 - 1e-3  # any 4 consecutive span a full window
