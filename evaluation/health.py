"""Health checks for a running bot: CPU, memory, connection, data staleness, event-loop lag.

A check turns measurements into a status (normal / warning / critical) and the healing actions
the bot should take, each with a reason. The bot runs the actions (reconnect, re-subscribe stale
data, pause new entries); this module only measures and judges, so the rules are unit-testable.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from datetime import datetime

import psutil

RECONNECT = "reconnect"
RESUBSCRIBE = "resubscribe"
PAUSE_ENTRIES = "pause_entries"
RESUME_ENTRIES = "resume_entries"


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    stale_warning_s: float = 180.0  # market seconds without a completed bar (3 missed minutes)
    stale_critical_s: float = 600.0
    loop_lag_warning_ms: float = 250.0
    loop_lag_critical_ms: float = 2000.0
    memory_warning_mb: float = 1500.0
    cpu_warning_pct: float = 90.0


@dataclass(slots=True)
class HealthReading:
    time: datetime
    cpu_pct: float
    memory_mb: float
    connected: bool
    event_loop_lag_ms: float
    data_staleness_s: float


@dataclass(slots=True)
class HealthVerdict:
    status: str
    actions: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def detail(self) -> str:
        return "; ".join(self.reasons) or "all checks normal"


def judge_health(reading: HealthReading, limits: HealthThresholds = HealthThresholds()) -> HealthVerdict:
    """Pure: the status and healing actions for one reading."""
    verdict = HealthVerdict("normal")

    def raise_to(status: str, reason: str, *actions: str) -> None:
        order = ("normal", "warning", "critical")
        if order.index(status) > order.index(verdict.status):
            verdict.status = status
        verdict.reasons.append(reason)
        for action in actions:
            if action not in verdict.actions:
                verdict.actions.append(action)

    if not reading.connected:
        raise_to("critical", "not connected to the broker", RECONNECT, PAUSE_ENTRIES)
    if reading.data_staleness_s >= limits.stale_critical_s:
        raise_to("critical", f"no bar for {reading.data_staleness_s:.0f}s", RESUBSCRIBE, PAUSE_ENTRIES)
    elif reading.data_staleness_s >= limits.stale_warning_s:
        raise_to("warning", f"no bar for {reading.data_staleness_s:.0f}s", RESUBSCRIBE)
    if reading.event_loop_lag_ms >= limits.loop_lag_critical_ms:
        raise_to("critical", f"event loop lag {reading.event_loop_lag_ms:.0f}ms", PAUSE_ENTRIES)
    elif reading.event_loop_lag_ms >= limits.loop_lag_warning_ms:
        raise_to("warning", f"event loop lag {reading.event_loop_lag_ms:.0f}ms")
    if reading.memory_mb >= limits.memory_warning_mb:
        raise_to("warning", f"memory {reading.memory_mb:.0f}MB")
    if reading.cpu_pct >= limits.cpu_warning_pct:
        raise_to("warning", f"cpu {reading.cpu_pct:.0f}%")
    if verdict.status == "normal":
        verdict.actions.append(RESUME_ENTRIES)
    return verdict


class ProcessProbe:
    """Measures this process: CPU since the previous call, resident memory, event-loop lag."""

    def __init__(self) -> None:
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # first call primes the counter

    def cpu_pct(self) -> float:
        return float(self._process.cpu_percent(None))

    def memory_mb(self) -> float:
        return self._process.memory_info().rss / 1_048_576

    @staticmethod
    async def event_loop_lag_ms() -> float:
        """How late a zero-delay callback runs: the time other work holds the loop."""
        start = time.perf_counter()
        await asyncio.sleep(0)
        return (time.perf_counter() - start) * 1000.0
