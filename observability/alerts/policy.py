"""The notifier's limits and counters: its `Policy`, the per-endpoint token bucket, the stats.

Kept apart from the notifier so the numbers a reader tunes (queue sizes, timeouts, the burst and
refill of each endpoint, batch windows) sit in one short place with their reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from observability.alerts.events import BATCHED, Alert, Event


@dataclass(frozen=True, slots=True)
class Policy:
    queue_size: int = 256  # alerts waiting for the notifier's loop
    backlog_size: int = 64  # alerts waiting for one endpoint (a token, or a hanging send)
    send_timeout_s: float = 10.0  # one send to one endpoint
    burst: int = 6  # messages an endpoint may get at once
    refill_s: float = 10.0  # then one message per this many seconds
    flush_s: float = 2.0  # close() waits at most this long
    digest_lines: int = 15
    windows: dict[Event, float] = field(
        default_factory=lambda: {event: b.window_s for event, b in BATCHED.items()})


@dataclass(slots=True)
class EndpointStats:
    label: str
    messages: int = 0  # messages delivered
    alerts: int = 0  # alerts delivered (a digest carries several)
    digests: int = 0  # messages that carried more than one alert
    failures: int = 0  # sends that failed (timeouts included)
    timeouts: int = 0
    dropped: int = 0  # alerts dropped from this endpoint's full backlog
    rate_limited: int = 0  # times alerts had to wait for a token (they then go as one digest)
    last_error: str = ""


@dataclass(slots=True)
class AlertStats:
    notified: int = 0
    muted: int = 0
    batched: int = 0  # alerts merged into another by a batch window
    held: int = 0  # alerts in a batch window right now
    dropped: Counter[str] = field(default_factory=Counter)  # by level, from the full intake
    unsent_at_close: int = 0
    endpoints: list[EndpointStats] = field(default_factory=list)


class TokenBucket:
    """Token bucket on the notifier's clock."""

    def __init__(self, burst: int, refill_s: float, now: float) -> None:
        self.burst = float(burst)
        self.refill_s = refill_s
        self.tokens = float(burst)
        self.at = now

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) / self.refill_s)
        self.at = max(self.at, now)

    def take(self, now: float, force: bool = False) -> bool:
        self._refill(now)
        if self.tokens >= 1.0 or force:
            self.tokens = max(-self.burst, self.tokens - 1.0)
            return True
        return False

    def next_token_at(self, now: float) -> float:
        self._refill(now)
        return now + max(0.0, 1.0 - self.tokens) * self.refill_s


def least_urgent(items: Sequence[Alert]) -> int:
    """Index of the oldest alert of the lowest level."""
    low = min(a.level.rank for a in items)
    return next(i for i, a in enumerate(items) if a.level.rank == low)
