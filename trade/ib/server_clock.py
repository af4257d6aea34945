"""The broker's clock as seen from the client: live wall time or a simulator's replay clock.

docs/architecture.md (Time): market logic reads time from the broker. Against IB that is wall time; against the
Gateway simulator it is the replay clock, possibly running hundreds of times faster. The client
cannot read that clock continuously, so it estimates it: samples of the server's current time
(`reqCurrentTime`, whole seconds) give an offset and a rate, and completed market data gives a
floor (a 5-second bar that ended at T proves the server clock is past T). Rates within 2x of
real time are taken to be real time, because whole-second samples cannot tell them apart and a
live Gateway always runs at 1x. A sample far ahead of the estimate (a simulator skipping a night)
is a jump: the clock follows it but keeps its rate instead of measuring a 10,000x "speed" over it.

A simulator may also slow down or pause (the chaos campaign runs 1500x but 60x around the
flatten; a multi-day replay holds its clock at night). Extrapolating the old rate would then run
the estimate minutes ahead of the server, and a bot that believes the close has passed stops
flattening. So, for a fast clock only (never a live 1x one): a sample well behind the estimate
re-measures the rate from the last interval at once and sets the estimate back to the server's
time (the one exception to "never backwards": the estimate was wrong, not the server), and while
market data streams, the newest bar caps the estimate (a server much further on would already
have sent the next bars).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_RATE_WINDOW_S = 5.0
_JUMP_S = 600.0  # server time this far ahead of the estimate...
_JUMP_RATE = 20_000.0  # ...at this implied speed or more is a jump (a night is ~40,000x), not a speed
_BEHIND_S = 2.0  # a sample this far (and 20% of the predicted advance) behind: a slower clock
_BAR_S = 5.0  # the real-time bars' length: the server is at most this past the newest bar end...
_CEILING_SLACK_S = 5.0  # ...plus delivery, while bars keep arriving
_FRESH_DATA_WALL_S = 0.25  # data seen this recently (real seconds) still describes the server
FAST_RATE = 2.0  # rates from here on are a simulator's: live Gateways run at 1x
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
            elapsed = mono - self._anchor_mono
            ahead = (server_time - self._anchor_server).total_seconds() - elapsed * self.rate
            implied = (server_time - self._anchor_server).total_seconds() / max(elapsed, 1e-3)
            if ahead > _JUMP_S and implied >= _JUMP_RATE:
                self._samples.clear()  # measure the rate again from here
            elif -ahead > max(_BEHIND_S, 0.2 * elapsed * self.rate) and elapsed > 0:
                # slower than assumed (a paused or slowed simulator): the last interval's rate
                # now, not a window that still mostly remembers the faster clock
                self._samples.clear()
                self._samples.append((self._anchor_mono, self._anchor_server))
                if self.rate >= FAST_RATE:
                    self._last_returned = None  # the estimate was wrong: the server's time it is
                rate = (server_time - self._anchor_server).total_seconds() / elapsed
                self.rate = rate if rate >= FAST_RATE else 1.0
        # the rate over the last few seconds (not since the first sample): a simulator's speed
        # may change, or its clock pause, during a run
        while self._samples and mono - self._samples[0][0] > _RATE_WINDOW_S:
            self._samples.popleft()
        if self._samples and mono - self._samples[0][0] >= 1.0:
            old_mono, old_server = self._samples[0]
            rate = (server_time - old_server).total_seconds() / (mono - old_mono)
            self.rate = rate if rate >= FAST_RATE else 1.0
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

    def unconfirmed(self) -> datetime:
        """What may be claimed of the server's clock when it cannot be asked (disconnected):
        the estimate, but never more than the last sample advanced at real time. Live (1x) the
        two agree; a simulator's speed is unknowable while it does not answer (it may have
        slowed, as the chaos campaign does around the flatten), and "the close has passed" must
        not be concluded from a speed measured before the silence."""
        value = self.now()
        if self._anchor_server is None:
            return value
        real_time = self._anchor_server + timedelta(seconds=self._monotonic() - self._anchor_mono)
        return min(value, real_time)

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
        since_data = mono - self._floor_mono
        if self.rate >= FAST_RATE and self._floor_epoch > float("-inf") and since_data <= _FRESH_DATA_WALL_S:
            ceiling = self._floor_epoch + _BAR_S + _CEILING_SLACK_S + since_data * self.rate
            value = min(value, datetime.fromtimestamp(ceiling, tz=_NY))
        if self._last_returned is not None and value < self._last_returned:
            value = self._last_returned  # never run backwards
        self._last_returned = value
        return value

