"""When the weekly cycle runs: a pure decision from the time, the plan, the calendar and what
already happened today. No clock is read here; the caller passes `now` (the broker's clock: IB's
server time live, the replay clock in the simulator), so tests drive it with a fake clock.

The rules:
- a cycle fires on each `run_days` weekday that is an NYSE session, at `run_time` New York time;
  an exchange holiday on a run day (Thanksgiving, Good Friday) is skipped, not moved;
- a misfire (the machine was asleep, the bot was down at `run_time`) runs late, once, while that
  session is still open, and never after its close (nor when `run_time` is after a half day's
  13:00 close);
- a cycle that stopped mid-rebalance (`trading` in the DB) is resumed while the session is open;
  one that `failed` before any order is not retried that day;
- with an interval, re-checks follow every `interval` after the last run, until the close.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from trade.calendar import MarketCalendar

NY = ZoneInfo("America/New_York")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ON_TIME = timedelta(minutes=1)  # later than this after run_time counts as a late (misfired) run


class Action(StrEnum):
    WAIT = "wait"
    CYCLE = "cycle"
    RECHECK = "recheck"


@dataclass(frozen=True, slots=True)
class RunPlan:
    run_days: tuple[str, ...]  # weekday names, Monday..Friday
    run_time: time
    interval: timedelta | None = None

    def __post_init__(self) -> None:
        bad = [d for d in self.run_days if d not in WEEKDAYS[:5]]
        if bad or not self.run_days:
            raise ValueError(f"run_days {list(self.run_days)} is invalid: use weekdays Monday-Friday "
                             "(the market is closed on weekends)")
        if self.interval is not None and self.interval <= timedelta(0):
            raise ValueError(f"interval {self.interval} is invalid: use a positive duration")

    def runs_on(self, day: date) -> bool:
        return WEEKDAYS[day.weekday()] in self.run_days


@dataclass(frozen=True, slots=True)
class DayRecord:
    """What the history DB says about today: the cycle's status and when a run last ended."""

    cycle_status: str | None = None  # None | trading | done | failed
    last_run_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScheduleDecision:
    action: Action
    reason: str
    scheduled: datetime | None = None  # the fire time this decision is about
    late: bool = False


def scheduled_at(day: date, plan: RunPlan) -> datetime:
    return datetime.combine(day, plan.run_time, tzinfo=NY)


def next_fire(after: datetime, plan: RunPlan, calendar: MarketCalendar) -> datetime:
    """The first scheduled cycle strictly after `after` that will really run (a run day, an
    NYSE session, and `run_time` before that session's close)."""
    day = after.astimezone(NY).date()
    for _ in range(400):
        if plan.runs_on(day) and calendar.is_trading_day(day):
            fire = scheduled_at(day, plan)
            if fire > after and fire < calendar.session(day).close:
                return fire
        day += timedelta(days=1)
    raise ValueError(f"no scheduled run within 400 days after {after}: check --run-days")


def fire_times(first: date, last: date, plan: RunPlan, calendar: MarketCalendar) -> list[datetime]:
    """Every scheduled cycle between two dates (inclusive), holidays skipped."""
    out: list[datetime] = []
    moment = datetime.combine(first, time(0, 0), tzinfo=NY)
    while True:
        moment = next_fire(moment, plan, calendar)
        if moment.date() > last:
            return out
        out.append(moment)


def decide(now: datetime, plan: RunPlan, calendar: MarketCalendar, today: DayRecord) -> ScheduleDecision:
    """What to do at `now` (a tz-aware time) given what already happened today."""
    local = now.astimezone(NY)
    day = local.date()
    name = WEEKDAYS[day.weekday()]
    if not plan.runs_on(day):
        return ScheduleDecision(Action.WAIT, f"{name} is not a run day; next cycle "
                                f"{next_fire(local, plan, calendar):%a %Y-%m-%d %H:%M}")
    if not calendar.is_trading_day(day):
        return ScheduleDecision(Action.WAIT, f"{name} {day} is not an NYSE session (holiday): skipped; "
                                f"next cycle {next_fire(local, plan, calendar):%a %Y-%m-%d %H:%M}")
    session = calendar.session(day)
    fire = scheduled_at(day, plan)
    if fire >= session.close:
        return ScheduleDecision(Action.WAIT, f"run time {plan.run_time:%H:%M} is after the "
                                f"{session.close:%H:%M} close on {day}: skipped", fire)
    status = today.cycle_status
    if status == "failed":
        return ScheduleDecision(Action.WAIT, f"today's cycle failed before any order: not retried "
                                f"today; next cycle {next_fire(local, plan, calendar):%a %Y-%m-%d %H:%M}",
                                fire)
    if status in (None, "trading"):
        if local < fire:
            return ScheduleDecision(Action.WAIT, f"cycle at {fire:%H:%M}", fire)
        if local >= session.close:
            return ScheduleDecision(Action.WAIT, f"missed the {fire:%H:%M} cycle on {day}: the session "
                                    f"closed at {session.close:%H:%M} (never run after the close)", fire)
        if status == "trading":
            return ScheduleDecision(Action.CYCLE, "resuming today's unfinished cycle", fire)
        late = local - fire > ON_TIME
        reason = (f"misfire: running late at {local:%H:%M} (scheduled {fire:%H:%M}), within the "
                  f"session" if late else f"scheduled cycle at {fire:%H:%M}")
        return ScheduleDecision(Action.CYCLE, reason, fire, late)
    # done: re-checks only
    if plan.interval is None or today.last_run_end is None:
        return ScheduleDecision(Action.WAIT, f"today's cycle is done; next cycle "
                                f"{next_fire(local, plan, calendar):%a %Y-%m-%d %H:%M}", fire)
    due = today.last_run_end.astimezone(NY) + plan.interval
    if due >= session.close or local >= session.close:
        return ScheduleDecision(Action.WAIT, f"today's cycle is done, no re-check before the "
                                f"{session.close:%H:%M} close; next cycle "
                                f"{next_fire(local, plan, calendar):%a %Y-%m-%d %H:%M}", fire)
    if local < due:
        return ScheduleDecision(Action.WAIT, f"re-check at {due:%H:%M}", due)
    return ScheduleDecision(Action.RECHECK, f"re-check (every {_minutes(plan.interval)} min)", due)


def _minutes(interval: timedelta) -> str:
    return f"{interval.total_seconds() / 60:g}"
