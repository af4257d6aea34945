"""The broker's clock as seen from the client: live wall time or a simulator's replay clock.

DESIGN.md: market logic reads time from the broker. Against IB that is wall time; against the
Gateway simulator it is the replay clock, possibly running hundreds of times faster. The client
cannot read that clock continuously, so it estimates it: samples of the server's current time
(`reqCurrentTime`, whole seconds) give an offset and a rate, and completed market data gives a
floor (a 5-second bar that ended at T proves the server clock is past T). Rates within 2x of
real time are taken to be real time, because whole-second samples cannot tell them apart and a
live Gateway always runs at 1x. A sample far ahead of the estimate (a simulator skipping a night)
is a jump: the clock follows it but keeps its rate instead of measuring a 10,000x "speed" over it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_RATE_WINDOW_S = 5.0
_JUMP_S = 600.0  # server time this far ahead of the estimate is a jump, not a speed
_NY = ZoneInfo("America/New_York")


class ServerClock:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._anchor_server: datetime | None = None
        self._anchor_mono = 0.0
        self._samples: deque[tuple[float, datetime]] = deque(maxlen=64)
        self.rate = 1.0
        self._floor_epoch = float("-inf")  # latest data time seen, epoch seconds
        self._floor_mono = 0.0
        self._last_returned: datetime | None = None

    def sample(self, server_time: datetime) -> None:
        """Add one reqCurrentTime reading (taken just now)."""
        mono = self._monotonic()
        if self._anchor_server is not None:
            predicted = self._anchor_server + timedelta(seconds=(mono - self._anchor_mono) * self.rate)
            if (server_time - predicted).total_seconds() > _JUMP_S:
                self._samples.clear()  # measure the rate again from here
        # the rate over the last few seconds (not since the first sample): a simulator's speed
        # may change, or its clock pause, during a run
        while self._samples and mono - self._samples[0][0] > _RATE_WINDOW_S:
            self._samples.popleft()
        if self._samples and mono - self._samples[0][0] >= 1.0:
            old_mono, old_server = self._samples[0]
            rate = (server_time - old_server).total_seconds() / (mono - old_mono)
            self.rate = rate if rate >= 2.0 else 1.0
        self._samples.append((mono, server_time))
        self._anchor_server, self._anchor_mono = server_time, mono

    def observe_data_time(self, data_time: datetime) -> None:
        """Market data proved the server clock has reached `data_time`."""
        self.observe_data_epoch(data_time.timestamp())

    def observe_data_epoch(self, epoch_seconds: float) -> None:
        """`observe_data_time` in epoch seconds: called for every streamed bar, so no datetime."""
        if epoch_seconds > self._floor_epoch:
            self._floor_epoch, self._floor_mono = epoch_seconds, self._monotonic()

    @property
    def synced(self) -> bool:
        return self._anchor_server is not None or self._floor_epoch > float("-inf")

    def now(self) -> datetime:
        mono = self._monotonic()
        estimates = []
        if self._anchor_server is not None:
            elapsed = (mono - self._anchor_mono) * self.rate
            estimates.append(self._anchor_server + timedelta(seconds=elapsed))
        if self._floor_epoch > float("-inf"):
            # data time advances at most at the clock rate since it was seen
            elapsed = (mono - self._floor_mono) * self.rate
            floor = datetime.fromtimestamp(self._floor_epoch + min(elapsed, 5.0), tz=_NY)
            estimates.append(floor)
        if not estimates:
            raise RuntimeError("server clock not synchronised yet: call sample() after connecting")
        value = max(estimates)
        if self._last_returned is not None and value < self._last_returned:
            value = self._last_returned  # never run backwards
        self._last_returned = value
        return value

