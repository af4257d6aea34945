"""IB's 10-minute historical pacing rule binds small bars only, and a long wait says so.

IB's "Historical Data Limitations" page lists its pacing rules under "Pacing Violations for
Small Bars (30 secs or less)" and notes that the limitations for bars of one minute and more
have been lifted. The weekly bot's screen and re-checks ask for daily and minute bars: they
must never wait out a 10-minute window (issue 21: the fifth hourly re-check stalled for ten
real minutes, silently).
"""

from __future__ import annotations

import logging

import pytest

from trade.ib.pacing import SlidingWindowPacer


class FakeTime:
    """A monotonic clock the pacer's sleeps advance (no real waiting in the test)."""

    def __init__(self) -> None:
        self.value = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.value

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.value += seconds


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


async def _requests(pacer: SlidingWindowPacer, clock: FakeTime, n: int, bar_seconds: int) -> None:
    for _ in range(n):
        await pacer.acquire("SPY bars", bar_seconds)
        clock.value += 1.0  # one request a second: IB's 6-in-2-seconds pace is kept


async def test_minute_and_daily_bars_never_wait_out_ten_minutes(clock: FakeTime) -> None:
    pacer = SlidingWindowPacer(monotonic=clock, sleep=clock.sleep)
    await _requests(pacer, clock, 40, 86_400)  # the weekly screen: daily bars
    await _requests(pacer, clock, 40, 60)  # re-checks: minute bars
    assert clock.slept == []  # 80 requests in 80 s: no 10-minute wait
    assert clock.value == pytest.approx(180.0)


async def test_small_bars_still_respect_sixty_in_ten_minutes(clock: FakeTime, caplog) -> None:
    pacer = SlidingWindowPacer(monotonic=clock, sleep=clock.sleep)
    await _requests(pacer, clock, 60, 60)  # every request counts towards the window
    caplog.set_level(logging.INFO, logger="trade.ib.pacing")
    await pacer.acquire("SPY 5 secs bars", 5)
    assert clock.slept == [pytest.approx(100.0 + 600.0 - 160.0)]  # until the first leaves
    [line] = [r.getMessage() for r in caplog.records]
    assert line == ("historical data pacing: SPY 5 secs bars waits 540 s (IB allows 60 "
                    "requests in 10 minutes for bars of 30 s or less)")


async def test_the_soft_pace_binds_every_bar_size_and_short_waits_are_quiet(
        clock: FakeTime, caplog) -> None:
    caplog.set_level(logging.INFO, logger="trade.ib.pacing")
    pacer = SlidingWindowPacer(monotonic=clock, sleep=clock.sleep)
    for _ in range(7):
        await pacer.acquire("SPY 1 day bars", 86_400)
    assert clock.slept == [pytest.approx(2.0)]  # the seventh waits for the first to leave 2 s
    assert caplog.records == []  # 2 s is not worth a line
