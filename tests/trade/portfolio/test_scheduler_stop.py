"""Stopping the weekly schedule while a cycle runs says what it waits for (issue 21: Ctrl-C
took 30 s without a word)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time

from trade.calendar import MarketCalendar
from trade.portfolio.scheduler import WeeklyScheduler
from trade.portfolio.scheduling import NY, Action, RunPlan, ScheduleDecision

PLAN = RunPlan(("Monday",), time(10, 0))


async def test_a_stop_during_a_cycle_announces_the_wait_and_the_cancel(caplog, monkeypatch) -> None:
    monkeypatch.setattr("trade.portfolio.scheduler.NOTICE_S", 0.05)  # the test's own scale
    caplog.set_level(logging.INFO, logger="trade.portfolio.scheduler")
    now = datetime(2026, 11, 9, 10, 0, tzinfo=NY)
    started = asyncio.Event()

    async def run(decision: ScheduleDecision) -> None:
        assert decision.action is Action.CYCLE
        started.set()
        await asyncio.Event().wait()  # a cycle stuck on something: only a cancel ends it

    scheduler = WeeklyScheduler(PLAN, MarketCalendar(), lambda: now, lambda d: _none(), run, 0.02)
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    await scheduler.shutdown(wait_for_cycle=0.2)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stopping")]
    assert lines == ["stopping: the running weekly cycle has up to 0.2 s to finish",
                     "stopping: the weekly cycle did not finish in 0.2 s: cancelled"]
    assert not scheduler.running


def _none():
    from trade.portfolio.scheduling import DayRecord

    return DayRecord()
