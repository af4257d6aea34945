"""IB historical-data semantics over 1-minute session bars: durations, bar sizes, aggregation.

Pure functions so the rules ("1 D" = the last session up to `end`; "1 W" = a calendar week back;
hourly bars start at the 09:30 open and then on the hour when limited to regular hours, on the
clock hour otherwise) are testable without a clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from trade.models import Bar

_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$", re.IGNORECASE)
_BAR_SIZE = re.compile(r"^\s*(\d+)\s*(secs?|mins?|hours?|days?|weeks?|W|M)\s*$", re.IGNORECASE)
DAY_SECONDS = 86_400


def parse_duration(duration: str) -> tuple[int, str]:
    """`"1800 S"` -> (1800, "S"); units S, D, W, M, Y as in reqHistoricalData."""
    match = _DURATION.match(duration or "")
    if match is None or int(match[1]) <= 0:
        raise ValueError(
            f"duration {duration!r} is invalid: use '<n> <unit>' with unit S, D, W, M or Y, e.g. '2 D'"
        )
    return int(match[1]), match[2].upper()


def parse_bar_size(bar_size: str) -> int:
    """Bar size in seconds: `"1 min"` -> 60, `"1 hour"` -> 3600, `"1 day"` -> 86400."""
    match = _BAR_SIZE.match(bar_size or "")
    if match is None:
        raise ValueError(
            f"bar_size {bar_size!r} is invalid: use e.g. '1 min', '5 mins', '15 mins', '1 hour', '1 day'"
        )
    n, unit = int(match[1]), match[2].lower()
    if unit.startswith("sec"):
        seconds = n
    elif unit.startswith("min"):
        seconds = n * 60
    elif unit.startswith("hour"):
        seconds = n * 3600
    else:
        seconds = n * DAY_SECONDS
    if seconds < 60 or (seconds < DAY_SECONDS and seconds % 60) or seconds > DAY_SECONDS:
        raise ValueError(
            f"bar_size {bar_size!r} is not supported by the simulator: use 1 min .. 1 hour or '1 day'"
        )
    return seconds


def months_before(day: date, months: int) -> date:
    """`day` moved back by whole calendar months (day clipped to the month's length)."""
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    return date(year, month, 28)


def calendar_cutoff(end: datetime, n: int, unit: str) -> datetime:
    """The start of an IB calendar duration ending at `end` (S, W, M, Y; D is session-counted)."""
    if unit == "S":
        return end - timedelta(seconds=n)
    if unit == "W":
        return end - timedelta(days=7 * n)
    if unit in ("M", "Y"):
        back = months_before(end.date(), n if unit == "M" else 12 * n)
        return end.replace(year=back.year, month=back.month, day=back.day)
    return end - timedelta(days=n)


def aggregate(
    bars: Sequence[Bar], seconds: int, session_open: datetime, session_close: datetime,
    clip: bool = True,
) -> list[Bar]:
    """Combine one session's 1-minute bars into `seconds`-long bars aligned on the clock.

    Buckets are aligned to multiples of the size since midnight (5-min bars at :30, :35, ...;
    hourly bars on the hour). With `clip` (useRTH=1) they are clipped to the session: the first
    hourly bar starts at 09:30 and lasts 30 minutes, as IB reports it for regular hours. Without
    it (useRTH=0, the extended session) each bar keeps its clock bucket: the hourly bar holding
    09:30-09:59 is labelled 09:00, as IB labels it when the extended hours are asked for.
    Input must be one session's bars, sorted.
    """
    if seconds == 60:
        return list(bars)
    out: list[Bar] = []
    midnight = session_open.replace(hour=0, minute=0, second=0, microsecond=0)
    current_key: int | None = None
    group: list[Bar] = []

    def flush() -> None:
        if not group or current_key is None:
            return
        bucket_start = midnight + timedelta(seconds=current_key * seconds)
        start = max(bucket_start, session_open) if clip else bucket_start
        stop = bucket_start + timedelta(seconds=seconds)
        stop = min(stop, session_close) if clip else stop
        out.append(
            Bar(
                symbol=group[0].symbol,
                start=start,
                open=group[0].open,
                high=max(b.high for b in group),
                low=min(b.low for b in group),
                close=group[-1].close,
                volume=sum(b.volume for b in group),
                seconds=max(60, int((stop - start).total_seconds())),
            )
        )

    for bar in bars:
        key = int((bar.start - midnight).total_seconds()) // seconds
        if key != current_key:
            flush()
            current_key, group = key, []
        group.append(bar)
    flush()
    return out


def session_to_daily(bars: Sequence[Bar], session_open: datetime, session_close: datetime) -> Bar:
    """One session's bars as a daily bar (start = the 09:30 open, as in the daily files)."""
    return Bar(
        symbol=bars[0].symbol,
        start=session_open,
        open=bars[0].open,
        high=max(b.high for b in bars),
        low=min(b.low for b in bars),
        close=bars[-1].close,
        volume=sum(b.volume for b in bars),
        seconds=int((session_close - session_open).total_seconds()),
    )


def last_n_days(days: Iterable[date], n: int) -> list[date]:
    ordered = sorted(days)
    return ordered[-n:] if n > 0 else []
