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


def test_a_live_clock_never_runs_backwards_after_a_lower_sample(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(1.0)
    clock.sample(T + timedelta(seconds=1))
    mono.advance(1.0)
    ahead = clock.now()
    clock.sample(T + timedelta(seconds=1))  # whole-second truncation: a second "behind"
    assert clock.now() >= ahead
    mono.advance(0.1)
    assert clock.now() >= ahead


def test_a_fast_estimate_far_ahead_of_the_server_is_set_back(mono: FakeMonotonic):
    """A simulator that slowed while the bot could not sample (a Gateway restart over the
    flatten): the estimate ran ahead, and the bot must not keep believing the close has passed."""
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(2.0)
    clock.sample(T + timedelta(seconds=120))  # 60x
    mono.advance(5.0)
    assert clock.now() == T + timedelta(seconds=420)
    clock.sample(T + timedelta(seconds=150))  # the server ran at 6x meanwhile
    assert clock.now() == T + timedelta(seconds=150) and clock.rate == pytest.approx(6.0)


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


def test_a_jump_over_the_night_is_followed_without_measuring_it_as_a_speed(mono: FakeMonotonic):
    """A multi-day simulator skips from 16:15 to the next 09:25 at once: the estimate must land
    on the new time and keep the running rate, not extrapolate a 10,000x speed."""
    clock = ServerClock(mono)
    start = datetime(2026, 2, 10, 16, 0, tzinfo=NY)
    for i in range(4):  # 400x for a few seconds
        clock.sample(start + timedelta(seconds=400 * i))
        mono.advance(1.0)
    assert clock.rate == 400.0
    mono.advance(-0.5)
    morning = datetime(2026, 2, 11, 9, 25, tzinfo=NY)
    clock.sample(morning)
    mono.advance(1.0)
    assert clock.rate == 400.0
    assert clock.now() == morning + timedelta(seconds=400)


def _at_1500x(clock: ServerClock, mono: FakeMonotonic, seconds: int) -> datetime:
    server = T
    for _ in range(seconds):
        clock.sample(server)
        mono.advance(1.0)
        server += timedelta(seconds=1500)
    clock.sample(server)
    return server


def test_a_simulator_slowing_down_is_followed_at_the_next_sample(mono: FakeMonotonic):
    """The chaos campaign drops from 1500x to 60x before the flatten. The old 5-second window
    would keep a ~1200x rate for seconds and run the estimate twenty minutes ahead (the bot then
    believed the close had passed and never flattened)."""
    clock = ServerClock(mono)
    server = _at_1500x(clock, mono, 4)
    assert clock.rate == pytest.approx(1500.0)
    mono.advance(1.0)
    server += timedelta(seconds=60)  # the simulator ran at 60x during that second
    clock.sample(server)
    assert clock.rate == pytest.approx(60.0)
    mono.advance(1.0)
    assert clock.now() - (server + timedelta(seconds=60)) < timedelta(seconds=1)


def test_a_paused_simulator_is_taken_at_real_time(mono: FakeMonotonic):
    clock = ServerClock(mono)
    server = _at_1500x(clock, mono, 3)
    mono.advance(1.0)
    clock.sample(server)  # held: no progress
    assert clock.rate == 1.0


def test_fresh_market_data_caps_a_fast_estimate(mono: FakeMonotonic):
    clock = ServerClock(mono)
    server = _at_1500x(clock, mono, 3)
    mono.advance(0.2)  # 300 s at the old rate, but a bar just said the server is only 10 s on
    clock.observe_data_time(server + timedelta(seconds=10))
    assert clock.now() <= server + timedelta(seconds=10 + 5 + 5)
    mono.advance(1.0)  # no bars for a while (a paused feed): the samples' estimate again
    assert clock.now() > server + timedelta(seconds=1000)


def test_market_data_never_caps_a_live_clock(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    clock.observe_data_time(T - timedelta(seconds=60))  # a late bar on a 1x Gateway
    mono.advance(0.1)
    assert clock.now() == T + timedelta(seconds=0.1)


def test_an_unconfirmed_reading_never_runs_ahead_of_real_time_since_the_last_sample(mono: FakeMonotonic):
    """Seed 20 of the chaos campaign: a 1500x simulator slowed to 60x and the Gateway went away;
    the estimate ran on at 1500x to 16:08, and the flatten concluded the close had passed while
    the simulator stood at 15:56. Without an answer only real time since the last one counts."""
    clock = ServerClock(mono)
    at = datetime(2026, 2, 6, 15, 54, 0, tzinfo=NY)
    clock.sample(at)
    mono.advance(1.0)
    clock.sample(at + timedelta(seconds=1500))  # 1500x
    mono.advance(3.0)  # disconnected: 3 real seconds without an answer
    assert clock.now() == at + timedelta(seconds=1500 + 4500)  # the estimate: 75 minutes on
    assert clock.unconfirmed() == at + timedelta(seconds=1503)


def test_an_unconfirmed_live_reading_is_the_estimate(mono: FakeMonotonic):
    clock = ServerClock(mono)
    clock.sample(T)
    mono.advance(42.0)
    assert clock.unconfirmed() == clock.now() == T + timedelta(seconds=42)
