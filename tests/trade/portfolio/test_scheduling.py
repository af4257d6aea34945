"""The schedule as a pure decision over a fake clock: run days, holidays, misfires, re-checks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from trade.calendar import MarketCalendar
from trade.portfolio.scheduling import (
    NY,
    Action,
    DayRecord,
    RunPlan,
    decide,
    fire_times,
    next_fire,
)

CAL = MarketCalendar()
MON_THU = RunPlan(("Monday", "Thursday"), time(10, 0))
NOTHING_YET = DayRecord()


def at(day: str, hhmm: str = "10:00") -> datetime:
    hh, mm = (int(x) for x in hhmm.split(":"))
    return datetime.combine(date.fromisoformat(day), time(hh, mm), tzinfo=NY)


def test_fires_monday_and_thursday_at_ten_new_york_time():
    fires = fire_times(date(2026, 11, 9), date(2026, 11, 20), MON_THU, CAL)
    assert [f.strftime("%a %Y-%m-%d %H:%M %Z") for f in fires] == [
        "Mon 2026-11-09 10:00 EST", "Thu 2026-11-12 10:00 EST",
        "Mon 2026-11-16 10:00 EST", "Thu 2026-11-19 10:00 EST",
    ]
    assert decide(at("2026-11-09", "10:00"), MON_THU, CAL, NOTHING_YET).action is Action.CYCLE
    assert decide(at("2026-11-12", "10:00"), MON_THU, CAL, NOTHING_YET).action is Action.CYCLE


def test_waits_before_the_run_time_and_on_other_days():
    early = decide(at("2026-11-09", "09:59"), MON_THU, CAL, NOTHING_YET)
    assert early.action is Action.WAIT and early.reason == "cycle at 10:00"
    tuesday = decide(at("2026-11-10", "10:00"), MON_THU, CAL, NOTHING_YET)
    assert tuesday.action is Action.WAIT
    assert tuesday.reason == "Tuesday is not a run day; next cycle Thu 2026-11-12 10:00"


def test_skips_thanksgiving_2026_11_26():
    fires = fire_times(date(2026, 11, 23), date(2026, 12, 3), MON_THU, CAL)
    assert [f.date().isoformat() for f in fires] == ["2026-11-23", "2026-11-30", "2026-12-03"]
    thanksgiving = decide(at("2026-11-26", "10:00"), MON_THU, CAL, NOTHING_YET)
    assert thanksgiving.action is Action.WAIT
    assert thanksgiving.reason.startswith("Thursday 2026-11-26 is not an NYSE session (holiday)")
    assert "next cycle Mon 2026-11-30 10:00" in thanksgiving.reason


def test_skips_good_friday():
    plan = RunPlan(("Monday", "Friday"), time(10, 0))
    fires = fire_times(date(2026, 3, 30), date(2026, 4, 10), plan, CAL)
    assert [f.date().isoformat() for f in fires] == ["2026-03-30", "2026-04-06", "2026-04-10"]
    assert decide(at("2026-04-03", "10:00"), plan, CAL, NOTHING_YET).action is Action.WAIT
    assert decide(at("2025-04-18", "11:00"), plan, CAL, NOTHING_YET).action is Action.WAIT


def test_a_misfire_runs_late_within_the_session():
    late = decide(at("2026-11-09", "13:05"), MON_THU, CAL, NOTHING_YET)
    assert late.action is Action.CYCLE and late.late
    assert late.reason == "misfire: running late at 13:05 (scheduled 10:00), within the session"
    on_time = decide(at("2026-11-09", "10:00") + timedelta(seconds=30), MON_THU, CAL, NOTHING_YET)
    assert on_time.action is Action.CYCLE and not on_time.late


def test_a_misfire_never_runs_after_the_close():
    missed = decide(at("2026-11-09", "16:00"), MON_THU, CAL, NOTHING_YET)
    assert missed.action is Action.WAIT
    assert missed.reason == ("missed the 10:00 cycle on 2026-11-09: the session closed at 16:00 "
                             "(never run after the close)")
    next_day = decide(at("2026-11-10", "09:00"), MON_THU, CAL, NOTHING_YET)
    assert next_day.action is Action.WAIT  # Tuesday: the missed Monday is not carried over


def test_half_days_close_at_one_so_an_afternoon_run_time_is_skipped():
    plan = RunPlan(("Friday",), time(14, 0))
    assert decide(at("2026-11-27", "14:00"), plan, CAL, NOTHING_YET).action is Action.WAIT
    assert next_fire(at("2026-11-26", "00:00"), plan, CAL) == at("2026-12-04", "14:00")
    morning = RunPlan(("Friday",), time(10, 0))
    assert decide(at("2026-11-27", "12:59"), morning, CAL, NOTHING_YET).action is Action.CYCLE
    assert decide(at("2026-11-27", "13:00"), morning, CAL, NOTHING_YET).action is Action.WAIT


def test_a_cycle_runs_once_a_day_and_an_unfinished_one_is_resumed():
    done = DayRecord("done", at("2026-11-09", "10:05"))
    assert decide(at("2026-11-09", "11:00"), MON_THU, CAL, done).action is Action.WAIT
    resumed = decide(at("2026-11-09", "10:20"), MON_THU, CAL, DayRecord("trading"))
    assert resumed.action is Action.CYCLE and resumed.reason == "resuming today's unfinished cycle"
    failed = decide(at("2026-11-09", "10:20"), MON_THU, CAL, DayRecord("failed"))
    assert failed.action is Action.WAIT and "not retried today" in failed.reason


def test_rechecks_follow_the_interval_until_the_close():
    plan = RunPlan(("Monday",), time(10, 0), timedelta(minutes=30))
    done = DayRecord("done", at("2026-11-09", "10:04"))
    assert decide(at("2026-11-09", "10:30"), plan, CAL, done).action is Action.WAIT
    recheck = decide(at("2026-11-09", "10:34"), plan, CAL, done)
    assert recheck.action is Action.RECHECK and recheck.scheduled == at("2026-11-09", "10:34")
    late_in_day = DayRecord("done", at("2026-11-09", "15:45"))
    assert decide(at("2026-11-09", "15:59"), plan, CAL, late_in_day).action is Action.WAIT


@pytest.mark.parametrize("days", [("Saturday",), ("Monday", "Sunday"), ()])
def test_weekend_or_empty_run_days_are_refused(days):
    with pytest.raises(ValueError, match="the market is closed on weekends"):
        RunPlan(days, time(10, 0))
