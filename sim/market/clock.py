"""The one simulated clock that drives history, live bars, prices and fills.

Stepping mode (`speed=None`) moves only when told (backtests, deterministic tests); `speed=N`
runs N x real time. Everything in the simulator reads this clock, so a bot never sees a price
from the future.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sim.market.sessions import NY


def _require_aware(t: datetime, name: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name}={t!r} is naive: pass a tz-aware datetime (America/New_York)")


class ReplayClock:
    """The one simulated clock.

    `speed=None` is stepping mode: time moves only through `advance_to` / `advance_by` (backtests,
    deterministic tests). `speed=N` runs N x real time from `time.monotonic()`. Changing `speed`
    or pausing re-anchors so `now()` stays continuous.
    """

    def __init__(self, start: datetime, speed: float | None = None) -> None:
        _require_aware(start, "start")
        if speed is not None and speed <= 0:
            raise ValueError(f"speed={speed!r} is invalid: use None (stepping) or a positive factor")
        self._base = start.astimezone(NY)
        self._anchor = time.monotonic()
        self._speed = speed
        self._paused = False
        self._brake: tuple[datetime, float] | None = None

    def now(self) -> datetime:
        if self._speed is None or self._paused:
            return self._base
        mono = time.monotonic()
        value = self._base + timedelta(seconds=(mono - self._anchor) * self._speed)
        if self._brake is not None and value >= self._brake[0]:
            at, slower = self._brake
            self._brake = None  # from `at` on, the slower speed: as if set exactly then
            self._anchor += (at - self._base).total_seconds() / self._speed
            self._base, self._speed = at, slower
            value = self._base + timedelta(seconds=(mono - self._anchor) * self._speed)
        return value

    def brake_at(self, at: datetime, speed: float) -> None:
        """Run at `speed` from the moment the clock reaches `at`, exactly: a controller that
        polls a fast clock (1500x: 50 ms are 75 market seconds) cannot slow it down on time
        itself. Replaced by the next call; cleared by a change of speed."""
        _require_aware(at, "at")
        if speed <= 0:
            raise ValueError(f"speed={speed!r} is invalid: use a positive factor")
        self._brake = (at.astimezone(NY), speed)

    @property
    def is_stepping(self) -> bool:
        return self._speed is None

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float | None:
        return self._speed

    @speed.setter
    def speed(self, value: float | None) -> None:
        if value is not None and value <= 0:
            raise ValueError(f"speed={value!r} is invalid: use None (stepping) or a positive factor")
        self._rebase()
        self._speed = value
        self._brake = None

    def advance_to(self, t: datetime) -> None:
        """Jump forward to `t` (in any mode; running clocks continue from there). Never backwards."""
        _require_aware(t, "t")
        current = self.now()
        if t < current:
            raise ValueError(f"advance_to({t.isoformat()}) is before now ({current.isoformat()}): "
                             "the replay clock never moves backwards")
        self._base = t.astimezone(NY)
        self._anchor = time.monotonic()

    def advance_by(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"advance_by({seconds}) is negative: the clock never moves backwards")
        self.advance_to(self.now() + timedelta(seconds=seconds))

    def pause(self) -> None:
        self._rebase()
        self._paused = True

    def resume(self) -> None:
        self._rebase()
        self._paused = False

    def _rebase(self) -> None:
        self._base = self.now()
        self._anchor = time.monotonic()
