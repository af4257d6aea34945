"""judge_health: readings -> status and healing actions, each with a reason."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from evaluation.health import (
    PAUSE_ENTRIES,
    RECONNECT,
    RESUBSCRIBE,
    RESUME_ENTRIES,
    HealthReading,
    HealthThresholds,
    ProcessProbe,
    judge_health,
)

NY = ZoneInfo("America/New_York")
T = datetime(2025, 7, 3, 10, 0, tzinfo=NY)


def reading(**changes: object) -> HealthReading:
    values: dict[str, object] = dict(time=T, cpu_pct=5.0, memory_mb=200.0, connected=True,
                                     event_loop_lag_ms=1.0, data_staleness_s=10.0)
    values.update(changes)
    # any field may be changed, so the values are only known to be objects here
    return HealthReading(**values)  # type: ignore[arg-type]


def test_all_normal_resumes_entries():
    verdict = judge_health(reading())
    assert (verdict.status, verdict.actions, verdict.detail) == ("normal", [RESUME_ENTRIES], "all checks normal")


def test_disconnected_is_critical_reconnect_and_pause():
    verdict = judge_health(reading(connected=False))
    assert verdict.status == "critical"
    assert verdict.actions == [RECONNECT, PAUSE_ENTRIES]
    assert "not connected" in verdict.detail


@pytest.mark.parametrize(("staleness", "status", "actions"), [
    (179.9, "normal", [RESUME_ENTRIES]),
    (180.0, "warning", [RESUBSCRIBE]),
    (599.9, "warning", [RESUBSCRIBE]),
    (600.0, "critical", [RESUBSCRIBE, PAUSE_ENTRIES]),
])
def test_data_staleness_thresholds(staleness: float, status: str, actions: list[str]):
    verdict = judge_health(reading(data_staleness_s=staleness))
    assert (verdict.status, verdict.actions) == (status, actions)


@pytest.mark.parametrize(("lag", "status", "actions"), [
    (249.0, "normal", [RESUME_ENTRIES]),
    (250.0, "warning", []),
    (2000.0, "critical", [PAUSE_ENTRIES]),
])
def test_event_loop_lag_thresholds(lag: float, status: str, actions: list[str]):
    verdict = judge_health(reading(event_loop_lag_ms=lag))
    assert (verdict.status, verdict.actions) == (status, actions)


def test_high_memory_is_a_warning_without_actions():
    verdict = judge_health(reading(memory_mb=1500.0))
    assert (verdict.status, verdict.actions) == ("warning", [])
    assert "memory 1500MB" in verdict.detail


def test_high_cpu_is_a_warning_without_actions():
    verdict = judge_health(reading(cpu_pct=95.0))
    assert (verdict.status, verdict.actions) == ("warning", [])
    assert "cpu 95%" in verdict.detail


def test_warning_never_lowers_a_critical_status_and_every_reason_is_kept():
    verdict = judge_health(reading(connected=False, cpu_pct=99.0, data_staleness_s=200.0))
    assert verdict.status == "critical"
    assert len(verdict.reasons) == 3
    assert verdict.detail.count("; ") == 2


def test_actions_are_not_repeated():
    verdict = judge_health(reading(connected=False, data_staleness_s=900.0, event_loop_lag_ms=5000.0))
    assert verdict.actions == [RECONNECT, PAUSE_ENTRIES, RESUBSCRIBE]


def test_custom_thresholds_are_used():
    verdict = judge_health(reading(data_staleness_s=30.0), HealthThresholds(stale_warning_s=20.0))
    assert verdict.status == "warning"


async def test_process_probe_measures_this_process():
    probe = ProcessProbe()
    assert probe.memory_mb() > 1.0
    assert probe.cpu_pct() >= 0.0
    assert 0.0 <= await probe.event_loop_lag_ms() < 1000.0
