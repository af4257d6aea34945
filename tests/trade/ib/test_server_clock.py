"""ServerClock: the broker's clock estimated from whole-second samples and market data."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trade.ib.server_clock import ServerClock

NY = ZoneInfo("America/New_York")
T = datetime(2025, 7, 3, 10, 0, tzinfo=NY)


class FakeMonotonic:
    """Real seconds as the test says they pass."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


@pytest.fixture
def mono() -> FakeMonotonic:
    return FakeMonotonic()


def test_now_before_any_sample_is_an_error(mono: FakeMonotonic):
    clock = ServerClock(mono)
    assert not clock.synced
    with pytest.raises(RuntimeError, match="call sample"):
        clock.now()


def test_first_sample_anchors_the_clock_at_real_time_rate(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    assert clock.synced and clock.rate == 1.0
    mono.advance(3.5)
    assert clock.now() == T + timedelta(seconds=3.5)


def test_rate_below_2x_snaps_to_real_time(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(4.0)
    clock.sample(T + timedelta(seconds=7))  # 1.75x: whole-second jitter, not a fast replay
    assert clock.rate == 1.0
    mono.advance(0.5)
    assert clock.now() == T + timedelta(seconds=7.5)


def test_rate_of_2x_or_more_is_taken_as_an_accelerated_replay(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(2.0)
    clock.sample(T + timedelta(seconds=120))
    assert clock.rate == pytest.approx(60.0)
    mono.advance(0.5)
    assert clock.now() == T + timedelta(seconds=150)


def test_exactly_2x_is_accelerated(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(5.0)
    clock.sample(T + timedelta(seconds=10))
    assert clock.rate == pytest.approx(2.0)


def test_samples_less_than_a_real_second_apart_do_not_set_the_rate(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(0.5)
    clock.sample(T + timedelta(seconds=30))
    assert clock.rate == 1.0


def test_latest_sample_reanchors_the_estimate(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(2.0)
    clock.sample(T + timedelta(seconds=5))  # 2.5x
    assert clock.now() == T + timedelta(seconds=5)


def test_data_time_alone_synchronises_the_clock(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.observe_data_time(T)
    assert clock.synced and clock.now() == T


def test_data_floor_lifts_a_lagging_estimate(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    clock.observe_data_time(T + timedelta(seconds=40))  # a bar that ended later than we thought
    assert clock.now() == T + timedelta(seconds=40)


def test_data_floor_advances_at_most_five_seconds_past_the_last_data(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.observe_data_time(T)
    mono.advance(2.0)
    assert clock.now() == T + timedelta(seconds=2)
    mono.advance(100.0)
    assert clock.now() == T + timedelta(seconds=5)


def test_older_data_time_does_not_lower_the_floor(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.observe_data_time(T + timedelta(seconds=60))
    clock.observe_data_time(T)
    assert clock.now() == T + timedelta(seconds=60)


def test_now_never_runs_backwards_after_a_lower_sample(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(2.0)
    clock.sample(T + timedelta(seconds=120))  # 60x
    mono.advance(1.0)
    ahead = clock.now()
    clock.sample(T + timedelta(seconds=130))  # the server says less than we estimated
    assert clock.now() >= ahead
    mono.advance(0.1)
    assert clock.now() >= ahead


def test_now_is_monotonic_over_a_mixed_run(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    seen = [clock.now()]
    for i in range(1, 50):
        mono.advance(0.3)
        if i % 7 == 0:
            clock.sample(T + timedelta(seconds=int(i * 0.3)))  # whole-second truncation
        if i % 5 == 0:
            clock.observe_data_time(T + timedelta(seconds=i * 0.2))
        seen.append(clock.now())
    assert seen == sorted(seen)


def test_a_jump_over_the_night_is_followed_without_measuring_it_as_a_speed():
    """A multi-day simulator skips from 16:15 to the next 09:25 at once: the estimate must land
    on the new time and keep the running rate, not extrapolate a 10,000x speed."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from trade.ib.server_clock import ServerClock

    mono = [0.0]
    clock = ServerClock(monotonic=lambda: mono[0])
    start = datetime(2026, 2, 10, 16, 0, tzinfo=ZoneInfo("America/New_York"))
    for i in range(4):  # 400x for a few seconds
        mono[0] = float(i)
        clock.sample(start + timedelta(seconds=400 * i))
    assert clock.rate == 400.0
    mono[0] = 3.5
    morning = datetime(2026, 2, 11, 9, 25, tzinfo=ZoneInfo("America/New_York"))
    clock.sample(morning)
    mono[0] = 4.5
    assert clock.rate == 400.0
    assert clock.now() == morning + timedelta(seconds=400)
