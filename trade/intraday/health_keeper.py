"""The day trader's periodic health check: measure, judge, record.

Measuring (CPU, memory, event-loop lag) and recording (an `agent_health` row; a run-log event when
not normal) live here; the rules are `evaluation.health.judge_health`; the trader performs the
healing actions, because they act on its own state (pause entries, re-subscribe data).
"""

from __future__ import annotations

from datetime import datetime

from evaluation.health import (
    HealthReading,
    HealthThresholds,
    HealthVerdict,
    ProcessProbe,
    judge_health,
)
from observability.schema import HealthRow
from trade.intraday.records import SafeRecords
from trade.intraday.run_log import RunLog


class HealthKeeper:
    def __init__(self, records: SafeRecords, run_log: RunLog, thresholds: HealthThresholds,
                 agent: str = "day-trader") -> None:
        self.records = records
        self.run_log = run_log
        self.thresholds = thresholds
        self.agent = agent
        self.probe = ProcessProbe()
        self.last: dict[str, str] | None = None  # the latest verdict, for the status page

    def restart_cpu_window(self) -> None:
        """Measure CPU from now on, not over start-up's imports and warm-up."""
        self.probe = ProcessProbe()

    async def measure(
        self, now: datetime, connected: bool, data_staleness_s: float
    ) -> tuple[HealthReading, HealthVerdict]:
        lag = await self.probe.event_loop_lag_ms()
        reading = HealthReading(now, self.probe.cpu_pct(), self.probe.memory_mb(), connected, lag,
                                data_staleness_s)
        return reading, judge_health(reading, self.thresholds)

    def record(self, reading: HealthReading, verdict: HealthVerdict, actions: list[str]) -> None:
        row = HealthRow(
            time=reading.time, agent=self.agent, status=verdict.status, cpu_pct=reading.cpu_pct,
            memory_mb=reading.memory_mb, connected=reading.connected,
            event_loop_lag_ms=reading.event_loop_lag_ms, data_staleness_s=reading.data_staleness_s,
            connection_status="connected" if reading.connected else "lost", actions=actions,
            detail=verdict.detail, run_id=self.run_log.run_id,
        )
        self.records.write("record_health", lambda: self.records.db.record_health(row))
        self.last = {"status": verdict.status, "detail": verdict.detail,
                     "time": reading.time.isoformat()}
        if verdict.status != "normal":
            self.run_log.health_events.append({
                "time": reading.time.isoformat(), "status": verdict.status,
                "detail": verdict.detail, "actions": actions,
            })
