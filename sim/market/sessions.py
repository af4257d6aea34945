"""NYSE session bounds for the simulator (XNYS from exchange_calendars).

Why a module of its own: the replay, the synthetic market and the matching engine all need the
same answer to "when does this session open and close" (13:00 on half days), and building the
calendar costs ~0.2 s, so it is built once and cached.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals

NY = ZoneInfo("America/New_York")


@lru_cache(maxsize=1)
def _xnys() -> xcals.ExchangeCalendar:
    # exchange_calendars 4.13 trips a pandas 3 deprecation warning while building; harmless.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return xcals.get_calendar("XNYS", start="1990-01-02")


def is_session(day: date) -> bool:
    """True when NYSE trades on `day` (weekends and exchange holidays are False)."""
    cal = _xnys()
    if not cal.first_session.date() <= day <= cal.last_session.date():
        return day.weekday() < 5
    return bool(cal.is_session(day.isoformat()))


@lru_cache(maxsize=4096)
def session_bounds(day: date) -> tuple[datetime, datetime]:
    """(open, close) of `day` in New York time; 09:30-16:00, 09:30-13:00 on half days.

    Days outside the calendar's range, or that the calendar does not know as sessions (data
    sources occasionally hold such days), get the regular 09:30-16:00 hours.
    """
    regular = (
        datetime(day.year, day.month, day.day, 9, 30, tzinfo=NY),
        datetime(day.year, day.month, day.day, 16, 0, tzinfo=NY),
    )
    if not is_session(day):
        return regular
    cal = _xnys()
    label = day.isoformat()
    try:
        opened = cal.session_open(label).to_pydatetime().astimezone(NY)
        closed = cal.session_close(label).to_pydatetime().astimezone(NY)
    except (ValueError, KeyError):
        return regular
    return opened, closed


def sessions_between(first: date, last: date) -> list[date]:
    """Every NYSE session date in [first, last], in order."""
    cal = _xnys()
    lo = max(first, cal.first_session.date())
    hi = min(last, cal.last_session.date())
    if lo > hi:
        return []
    return [ts.date() for ts in cal.sessions_in_range(lo.isoformat(), hi.isoformat())]


def previous_sessions(before: date, count: int) -> list[date]:
    """The `count` sessions strictly before `before`, oldest first."""
    span = timedelta(days=int(count * 1.6) + 10)
    days = sessions_between(before - span, before - timedelta(days=1))
    return days[-count:]


PRE_MARKET_OPEN = (4, 0)
AFTER_HOURS_CLOSE = (20, 0)
HALF_DAY_AFTER_HOURS_CLOSE = (17, 0)


def extended_bounds(day: date) -> tuple[datetime, datetime]:
    """(pre-market open, after-hours close) of a session: 04:00-20:00, 04:00-17:00 on half days,
    the hours IB's SMART routing trades US stocks outside the regular session."""
    opened, closed = session_bounds(day)
    half_day = closed.hour < 16
    end = HALF_DAY_AFTER_HOURS_CLOSE if half_day else AFTER_HOURS_CLOSE
    return (datetime(day.year, day.month, day.day, *PRE_MARKET_OPEN, tzinfo=NY),
            datetime(day.year, day.month, day.day, *end, tzinfo=NY))


def ib_hours(first: date, days: int, extended: bool) -> str:
    """IB's `tradingHours` (extended) or `liquidHours` (regular) string for `days` calendar days
    from `first`: "20250703:0400-20250703:1700;20250704:CLOSED;..."."""
    parts = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if not is_session(day):
            parts.append(f"{day:%Y%m%d}:CLOSED")
            continue
        start, end = extended_bounds(day) if extended else session_bounds(day)
        parts.append(f"{start:%Y%m%d:%H%M}-{end:%Y%m%d:%H%M}")
    return ";".join(parts)
