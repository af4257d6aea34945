"""The replay clock's brake: a fast clock slows at an exact moment of its own, whatever the
polling of whoever controls it (the chaos campaign ran 75 market seconds past the flatten
time between two of its 50 ms looks: seed 359)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sim.market import clock as clock_module
from sim.market.clock import ReplayClock
from sim.market.sessions import NY

T0 = datetime(2026, 2, 2, 15, 54, tzinfo=NY)


class Monotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def mono(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    fake = Monotonic()
    monkeypatch.setattr(clock_module.time, "monotonic", fake)
    return fake


def test_the_clock_slows_exactly_at_the_brake(mono: Monotonic) -> None:
    clock = ReplayClock(T0, speed=1500.0)
    clock.brake_at(T0 + timedelta(seconds=30), 60.0)
    mono.t += 0.05  # 0.02 s reach the brake at 1500x, the other 0.03 s run at 60x
    assert clock.now() == T0 + timedelta(seconds=30 + 0.03 * 60)
    mono.t += 1.0
    assert clock.now() == T0 + timedelta(seconds=30 + 1.03 * 60)


def test_a_change_of_speed_clears_the_brake(mono: Monotonic) -> None:
    clock = ReplayClock(T0, speed=1500.0)
    clock.brake_at(T0 + timedelta(seconds=30), 60.0)
    clock.speed = 1500.0
    mono.t += 0.05
    assert clock.now() == T0 + timedelta(seconds=75)
