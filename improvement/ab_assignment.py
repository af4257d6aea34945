"""Which variant a session trades in a running A/B test: deterministic from the date.

The test's first session is an A day, then B, A, B ... counted in NYSE sessions, so a restart,
a skipped night or a re-run never reshuffles days, and both variants see the same mix of
weekdays. Kept apart from the statistics (improvement/ab_testing.py) so the day trader can
look its variant up before the open without loading them.
"""

from __future__ import annotations

from datetime import date

from trade.calendar import MarketCalendar

_calendar = MarketCalendar()


def variant_for(day: date, started: date) -> str:
    """"A" on the test's first session and every second session after it, else "B"."""
    if day < started:
        raise ValueError(f"day {day} is before the A/B test started ({started})")
    index = len(_calendar.sessions_between(started, day)) - 1
    return "A" if index % 2 == 0 else "B"
