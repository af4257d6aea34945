"""Request pacing that keeps a bot inside IB's limits, and says so when it makes the bot wait.

IB disconnects clients that exceed 50 messages per second; ib_async already throttles its own
sends to 45/s. Historical data has its own rules (a violation is error 162), listed on IB's
"Historical Data Limitations" page (interactivebrokers.github.io/tws-api/historical_limitations)
under "Pacing Violations for Small Bars (30 secs or less)": no identical request within 15 s, no
six requests for one contract within 2 s, no more than 60 requests in any 10 minutes; and its
note: "Historical Data Limitations for barSize = '1 mins' and greater have been lifted" (with a
soft limit: "use caution when requesting large amounts of historical data").

So the 10-minute rule binds only a request for bars of 30 seconds or less (`small_bar_rules`);
every request keeps a gentle pace (`rules`: at most 6 in any 2 seconds), the caution IB asks
for. The 10-minute rule used to count every request: the weekly bot's 27-symbol screen and its
hourly re-checks of minute bars reached 60 requests by the fifth re-check, which then waited up
to ten real minutes without a word (at 400x a simulated session is over in one).

The pacer is an async sliding-window limiter over real (monotonic) time: pacing is about IB's
servers, not about market time, so it never reads the market clock. A wait longer than
`NOTICE_S` is logged with what waits and which rule holds it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Rules = tuple[tuple[int, float], ...]
ANY_BARS: Rules = ((6, 2.0),)  # IB's soft limit, kept for every bar size
SMALL_BARS: Rules = ((60, 600.0),)  # bars of 30 s or less (IB's pacing page)
SMALL_BAR_SECONDS = 30
NOTICE_S = 3.0  # a wait this long is logged: the bot must never go quiet for minutes


class SlidingWindowPacer:
    """Waits until a request fits every (max_requests, window_seconds) rule that applies to it:
    `rules` to every request, `small_bar_rules` also to requests for bars of 30 s or less.
    Every request counts towards every window."""

    def __init__(
        self,
        rules: Rules = ANY_BARS,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        small_bar_rules: Rules = SMALL_BARS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rules = rules
        self._small_bar_rules = small_bar_rules
        self._monotonic = monotonic
        self._sleep = sleep
        longest = max(n for n, _ in (*rules, *small_bar_rules))
        self._sent: deque[float] = deque(maxlen=longest)
        self._lock = asyncio.Lock()

    def delay_needed(self, small_bars: bool = False) -> float:
        """Seconds to wait before the next request is allowed (0 when it may go now)."""
        return self._binding(small_bars)[0]

    def _binding(self, small_bars: bool) -> tuple[float, tuple[int, float] | None]:
        """(the wait, the rule that imposes it) for the next request."""
        now = self._monotonic()
        wait, binding = 0.0, None
        rules = (*self._rules, *self._small_bar_rules) if small_bars else self._rules
        for max_requests, window in rules:
            recent = [t for t in self._sent if now - t < window]
            if len(recent) >= max_requests and (
                    delay := recent[-max_requests] + window - now) > wait:
                wait, binding = delay, (max_requests, window)
        return wait, binding

    async def acquire(self, what: str = "a historical data request",
                      bar_seconds: int | None = None) -> None:
        """Wait for a slot for `what` (e.g. "SPY 1 min bars"); `bar_seconds` <= 30 puts it
        under IB's small-bar rules too."""
        small = bar_seconds is not None and bar_seconds <= SMALL_BAR_SECONDS
        async with self._lock:
            told = False
            while True:
                wait, rule = self._binding(small)
                if wait <= 0:
                    break
                if wait > NOTICE_S and not told and rule is not None:
                    told = True
                    count, window = rule
                    log.info("historical data pacing: %s waits %.0f s (IB allows %d requests "
                             "in %s%s)", what, wait, count, _span(window),
                             " for bars of 30 s or less" if rule in self._small_bar_rules
                             and rule not in self._rules else "")
                await self._sleep(wait)
            self._sent.append(self._monotonic())


def _span(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 120 else f"{seconds:g} s"
