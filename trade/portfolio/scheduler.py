"""APScheduler wiring for the weekly bot: a heartbeat that asks `scheduling.decide`.

Why a heartbeat rather than a cron trigger at 10:00: APScheduler 3 reads the machine's wall
clock and cannot be given another one, but the market's clock is the broker's (IB's server time
live, the accelerated replay clock in the simulator). So APScheduler (timezone
America/New_York) runs one job every `beat_s` real seconds; each beat reads the broker's clock
and the day's record and lets the pure `decide` say whether a cycle or a re-check is due. The
same beat gives misfires their rule (a beat after waking from sleep runs the missed cycle if the
session is still open) and keeps holidays in one place (`trade/calendar.py`).

A beat never waits for a cycle: the cycle runs as its own task, and beats that arrive while it
runs return at once (APScheduler's own `max_instances=1` and `coalesce` stop a slow beat from
piling up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from trade.calendar import MarketCalendar
from trade.portfolio.scheduling import NY, Action, DayRecord, RunPlan, ScheduleDecision, decide

log = logging.getLogger(__name__)

JOB_ID = "weekly-heartbeat"
NOTICE_S = 3.0  # a wait this long is announced

Clock = Callable[[], datetime]
Record = Callable[[date], DayRecord]
Runner = Callable[[ScheduleDecision], Awaitable[None]]


class WeeklyScheduler:
    def __init__(self, plan: RunPlan, calendar: MarketCalendar, clock: Clock, record: Record,
                 run: Runner, beat_s: float = 1.0, retry_after_s: float = 60.0) -> None:
        self.plan = plan
        self.calendar = calendar
        self.clock = clock
        self.record = record
        self.run = run
        self.beat_s = beat_s
        self.retry_after_s = retry_after_s
        self._quiet_until = 0.0  # loop time before which no run starts (after a failure)
        self.scheduler = AsyncIOScheduler(timezone=NY)
        self._task: asyncio.Task[None] | None = None
        self._first_beat: asyncio.Task[None] | None = None
        self._last_reason = ""
        self._current: ScheduleDecision | None = None  # what the running task does
        self._stopped = False  # a beat already queued when the run stops reads nothing (the DB closes)
        self.decisions: list[ScheduleDecision] = []  # every non-wait decision, for the run's summary

    def start(self) -> None:
        """Add the heartbeat job and start the scheduler on the running event loop."""
        self.scheduler.add_job(self.beat, IntervalTrigger(seconds=self.beat_s, timezone=NY),
                               id=JOB_ID, max_instances=1, coalesce=True,
                               misfire_grace_time=None, replace_existing=True)
        self.scheduler.start()
        self._first_beat = asyncio.get_running_loop().create_task(self.beat())  # no wait at start

    async def beat(self) -> None:
        if (self._stopped or self.running
                or asyncio.get_running_loop().time() < self._quiet_until):
            return
        now = self.clock()
        decision = decide(now, self.plan, self.calendar, self.record(now.astimezone(NY).date()))
        if decision.reason != self._last_reason:
            self._last_reason = decision.reason
            level = logging.WARNING if decision.late else logging.INFO
            log.log(level, "schedule: %s", decision.reason)
        if decision.action is Action.WAIT:
            return
        self.decisions.append(decision)
        self._current = decision
        self._task = asyncio.get_running_loop().create_task(self._run(decision))

    async def _run(self, decision: ScheduleDecision) -> None:
        try:
            await self.run(decision)
        except Exception:  # a failed cycle must not stop the schedule, nor be retried in a loop
            self._quiet_until = asyncio.get_running_loop().time() + self.retry_after_s
            log.exception("weekly %s failed; next attempt in %.0f s at the earliest",
                          decision.action.value, self.retry_after_s)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def shutdown(self, wait_for_cycle: float = 0.0) -> None:
        """Stop beating; give a running cycle `wait_for_cycle` seconds before cancelling it."""
        self._stopped = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._task is not None and not self._task.done():
            what = ("re-check" if self._current is not None
                    and self._current.action is Action.RECHECK else "weekly cycle")
            if wait_for_cycle > NOTICE_S:  # never a silent pause: say what the stop waits for
                log.info("stopping: the running %s has up to %g s to finish", what,
                         wait_for_cycle)
            done, _ = await asyncio.wait([self._task], timeout=wait_for_cycle)
            if not done:
                log.info("stopping: the %s did not finish in %g s: cancelled", what,
                         wait_for_cycle)
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
