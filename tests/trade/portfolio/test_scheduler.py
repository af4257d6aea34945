"""APScheduler's wiring: the heartbeat job fires on the event loop, reads the injected clock and
starts a cycle only when `decide` says so; a long cycle is never started twice."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

from apscheduler.triggers.interval import IntervalTrigger

from trade.calendar import MarketCalendar
from trade.portfolio.scheduler import JOB_ID, WeeklyScheduler
from trade.portfolio.scheduling import NY, Action, DayRecord, RunPlan, ScheduleDecision

PLAN = RunPlan(("Monday", "Thursday"), time(10, 0))


class FakeDay:
    """A clock the test moves, and the day's record the runs update (as the DB would)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.records: dict[date, DayRecord] = {}
        self.runs: list[tuple[datetime, ScheduleDecision]] = []
        self.cycle_seconds = 0.0

    def clock(self) -> datetime:
        return self.now

    def record(self, day: date) -> DayRecord:
        return self.records.get(day, DayRecord())

    async def run(self, decision: ScheduleDecision) -> None:
        self.runs.append((self.now, decision))
        await asyncio.sleep(self.cycle_seconds)
        self.records[self.now.date()] = DayRecord("done", self.now)


async def _beats(n: int = 6) -> None:
    await asyncio.sleep(0.03 * n)


async def test_the_heartbeat_job_is_an_interval_in_new_york_that_never_piles_up():
    day = FakeDay(datetime(2026, 11, 9, 9, 0, tzinfo=NY))
    scheduler = WeeklyScheduler(PLAN, MarketCalendar(), day.clock, day.record, day.run, 0.02)
    scheduler.start()
    try:
        job = scheduler.scheduler.get_job(JOB_ID)
        assert isinstance(job.trigger, IntervalTrigger)
        assert str(job.trigger.timezone) == "America/New_York"
        assert job.max_instances == 1 and job.coalesce
    finally:
        await scheduler.shutdown()


async def test_fires_at_the_run_time_once_per_day():
    day = FakeDay(datetime(2026, 11, 9, 9, 59, tzinfo=NY))
    scheduler = WeeklyScheduler(PLAN, MarketCalendar(), day.clock, day.record, day.run, 0.02)
    scheduler.start()
    try:
        await _beats()
        assert day.runs == []
        day.now = datetime(2026, 11, 9, 10, 0, tzinfo=NY)
        await _beats()
        assert [d.action for _, d in day.runs] == [Action.CYCLE]
        day.now = datetime(2026, 11, 9, 14, 0, tzinfo=NY)
        await _beats()
        assert len(day.runs) == 1
        day.now = datetime(2026, 11, 26, 10, 0, tzinfo=NY)  # Thanksgiving
        await _beats()
        assert len(day.runs) == 1
        day.now = datetime(2026, 11, 30, 10, 1, tzinfo=NY)
        await _beats()
        assert [(t.date().isoformat(), d.action) for t, d in day.runs] == [
            ("2026-11-09", Action.CYCLE), ("2026-11-30", Action.CYCLE)]
    finally:
        await scheduler.shutdown()


async def test_a_machine_asleep_at_ten_runs_late_within_the_session_only():
    day = FakeDay(datetime(2026, 11, 12, 9, 0, tzinfo=NY))
    scheduler = WeeklyScheduler(PLAN, MarketCalendar(), day.clock, day.record, day.run, 0.02)
    scheduler.start()
    try:
        await _beats()
        day.now = datetime(2026, 11, 12, 13, 5, tzinfo=NY)  # woke up
        await _beats()
        [(_, decision)] = day.runs
        assert decision.late and decision.reason.startswith("misfire: running late at 13:05")
        day.now = datetime(2026, 11, 16, 9, 0, tzinfo=NY)
        await _beats()
        day.now = datetime(2026, 11, 16, 16, 30, tzinfo=NY)  # asleep past Monday's close
        await _beats()
        assert len(day.runs) == 1
    finally:
        await scheduler.shutdown()


async def test_a_long_cycle_is_not_started_again_by_later_beats():
    day = FakeDay(datetime(2026, 11, 9, 10, 0, tzinfo=NY))
    day.cycle_seconds = 0.3
    scheduler = WeeklyScheduler(PLAN, MarketCalendar(), day.clock, day.record, day.run, 0.02)
    scheduler.start()
    try:
        await asyncio.sleep(0.15)
        assert scheduler.running and len(day.runs) == 1
        await asyncio.sleep(0.3)
        assert not scheduler.running and len(day.runs) == 1
    finally:
        await scheduler.shutdown()


async def test_a_failing_cycle_does_not_stop_the_schedule_nor_repeat_at_every_beat():
    day = FakeDay(datetime(2026, 11, 9, 10, 0, tzinfo=NY))
    calls: list[ScheduleDecision] = []

    async def broken(decision: ScheduleDecision) -> None:
        calls.append(decision)
        raise RuntimeError("boom")

    scheduler = WeeklyScheduler(PLAN, MarketCalendar(), day.clock, day.record, broken, 0.02,
                                retry_after_s=0.3)
    scheduler.start()
    try:
        await _beats()
        assert len(calls) == 1 and scheduler.scheduler.running
        await asyncio.sleep(0.4)
        assert len(calls) == 2
    finally:
        await scheduler.shutdown()


async def test_a_beat_after_the_stop_reads_nothing():
    """A beat already queued when the run stopped read the day's record from a closed DB
    ("Job ... raised an exception" at the end of a scheduled simulated day, under load)."""
    day = FakeDay(datetime(2026, 11, 9, 16, 3, tzinfo=NY))
    reads: list[date] = []

    def record(when: date) -> DayRecord:
        reads.append(when)
        raise RuntimeError("Cannot operate on a closed database.")

    scheduler = WeeklyScheduler(PLAN, MarketCalendar(), day.clock, record, day.run, 0.02)
    await scheduler.shutdown()
    await scheduler.beat()
    assert reads == []


async def test_a_run_that_ends_at_the_close_says_the_schedules_last_word(caplog):
    """`until()` ended the loop before a beat saw the close: the run's last re-check ended at
    16:01 and "no re-check before the 16:00 close" was never said (1 run in 7 under load)."""
    import logging
    from types import SimpleNamespace

    from trade.portfolio.service import run_scheduled

    day = FakeDay(datetime(2026, 11, 9, 16, 1, tzinfo=NY))
    day.records[day.now.date()] = DayRecord("done", day.now)
    cycle = SimpleNamespace(broker=SimpleNamespace(now=day.clock))
    plan = RunPlan(("Monday",), time(10, 0), interval=timedelta(minutes=30))
    caplog.set_level(logging.INFO, logger="trade.portfolio.scheduler")
    await run_scheduled(cycle, plan, MarketCalendar(), day, asyncio.Event(), lambda _: None,  # type: ignore[arg-type]  # a cycle is only its broker's clock here
                        until=lambda: True, beat_s=60.0)
    assert any("no re-check before the 16:00 close" in r.message for r in caplog.records)
