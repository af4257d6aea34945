"""Request pacing that keeps a bot inside IB's limits.

IB disconnects clients that exceed 50 messages per second; ib_async already throttles its own
sends to 45/s. Historical data has separate, stricter rules (a pacing violation is error 162):
no more than 60 requests in any 10 minutes and no more than 6 in any 2 seconds. The pacer is an
async sliding-window limiter over real (monotonic) time: pacing is about IB's servers, not about
market time, so it never reads the market clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowPacer:
    """Waits until a request fits every (max_requests, window_seconds) rule."""

    def __init__(
        self,
        rules: tuple[tuple[int, float], ...] = ((6, 2.0), (60, 600.0)),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rules = rules
        self._monotonic = monotonic
        longest = max(n for n, _ in rules)
        self._sent: deque[float] = deque(maxlen=longest)
        self._lock = asyncio.Lock()

    def delay_needed(self) -> float:
        """Seconds to wait before the next request is allowed (0 when it may go now)."""
        now = self._monotonic()
        wait = 0.0
        for max_requests, window in self._rules:
            recent = [t for t in self._sent if now - t < window]
            if len(recent) >= max_requests:
                wait = max(wait, recent[-max_requests] + window - now)
        return wait

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self.delay_needed()) > 0:
                await asyncio.sleep(wait)
            self._sent.append(self._monotonic())
