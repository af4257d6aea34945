"""NYSE trading sessions: open, close, half days, flatten time and entry cutoff.

Built on exchange_calendars (`XNYS`). Two things matter for a bot that runs unattended for years:

* exchange_calendars' default window ends about a year after the day the package is *installed*
  (and starts ~20 years before it); a query outside it raises. So we never use the default window:
  sessions are loaded in explicit ten-year blocks (`get_calendar("XNYS", start=..., end=...)`),
  and a query for a date outside every loaded block builds (and caches) that date's block. A bot
  started in 2025 keeps working in 2029, and a backtest of 2005 works too.
* `session(d)` sits on the per-bar path (flatten checks, entry cutoffs), so each block is turned
  into plain `Session` values once, and lookups are dict/bisect operations.

The module is pure: every question takes the date or time it is about; it never reads the clock.
"""

from __future__ import annotations

import bisect
import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)
BLOCK_YEARS = 10
# Beyond these years XNYS rules are not meaningful (and pandas timestamps stop at 2262).
FIRST_YEAR = 1900
LAST_YEAR = 2200


class NoSessionError(ValueError):
    """Raised by `MarketCalendar.session` for a weekend or exchange holiday."""


@dataclass(frozen=True, slots=True)
class Session:
    """One regular trading session. All datetimes are aware, in America/New_York."""

    date: date
    open: datetime
    close: datetime
    flatten_at: datetime  # close - flatten minutes: every position must be flat from here on
    entry_cutoff: datetime  # close - entry cutoff minutes: no new entries at or after this
    is_half_day: bool

    def contains(self, moment: datetime) -> bool:
        """True while the market is open: open <= moment < close."""
        return self.open <= moment < self.close

    def accepts_entries(self, moment: datetime) -> bool:
        """True when a new position may be opened: open <= moment < entry_cutoff."""
        return self.open <= moment < self.entry_cutoff

    def must_flatten(self, moment: datetime) -> bool:
        """True from the flatten time on (including after the close)."""
        return moment >= self.flatten_at

    @property
    def minutes(self) -> int:
        """Length of the session in minutes (390 on a regular day, 210 on a half day)."""
        return int((self.close - self.open).total_seconds() // 60)


@dataclass(slots=True)
class _Block:
    """The sessions of one window [first_year, last_year], ordered, plus a date index."""

    first_year: int
    last_year: int
    dates: list[date]
    by_date: dict[date, Session]


class MarketCalendar:
    """Trading sessions of one exchange (NYSE by default), with bot-specific cut-off times.

    `flatten_minutes` and `entry_cutoff_minutes` are measured back from each session's actual
    close, so half days (13:00 close) get 12:55 / 12:30 automatically.
    """

    def __init__(
        self,
        exchange: str = "XNYS",
        *,
        flatten_minutes: int = 5,
        entry_cutoff_minutes: int = 30,
    ) -> None:
        if not 0 <= flatten_minutes <= entry_cutoff_minutes:
            raise ValueError(
                f"flatten_minutes={flatten_minutes} and entry_cutoff_minutes="
                f"{entry_cutoff_minutes} are invalid: use 0 <= flatten_minutes <= "
                "entry_cutoff_minutes (entries must stop before the flatten time)"
            )
        self.exchange = exchange
        self._flatten = timedelta(minutes=flatten_minutes)
        self._entry_cutoff = timedelta(minutes=entry_cutoff_minutes)
        self._blocks: dict[int, _Block] = {}

    # -- questions about one date -------------------------------------------------------------

    def is_trading_day(self, day: date) -> bool:
        day = _as_date(day)
        return day in self._block_for(day.year).by_date

    def session(self, day: date) -> Session:
        """The session on `day`; raises `NoSessionError` on weekends and holidays."""
        day = _as_date(day)
        found = self._block_for(day.year).by_date.get(day)
        if found is None:
            raise NoSessionError(
                f"{day.isoformat()} is not an {self.exchange} trading day: check "
                "is_trading_day() first, or use next_session()/previous_session()"
            )
        return found

    def next_session(self, after: date) -> Session:
        """The first session strictly after `after`."""
        return next(self._sessions_after(_as_date(after)))

    def next_sessions(self, after: date, n: int) -> list[Session]:
        """The next `n` sessions strictly after `after` (weekends and holidays skipped)."""
        if n < 0:
            raise ValueError(f"n={n} is invalid: use a count >= 0")
        sessions = self._sessions_after(_as_date(after))
        return [next(sessions) for _ in range(n)]

    def previous_session(self, before: date) -> Session:
        """The last session strictly before `before`."""
        day = _as_date(before)
        year = day.year
        while year >= FIRST_YEAR:
            block = self._block_for(year)
            index = bisect.bisect_left(block.dates, day)
            if index > 0:
                return block.by_date[block.dates[index - 1]]
            year = block.first_year - 1
            day = date(year + 1, 1, 1)
        raise ValueError(
            f"no {self.exchange} session before {before}: use a date after {FIRST_YEAR}"
        )

    def sessions_between(self, start: date, end: date) -> list[Session]:
        """All sessions with start <= date <= end (for backtests and reports)."""
        start, end = _as_date(start), _as_date(end)
        result: list[Session] = []
        for session in self._sessions_after(start - timedelta(days=1)):
            if session.date > end:
                break
            result.append(session)
        return result

    # -- questions about one moment -------------------------------------------------------------

    def session_at_or_after(self, moment: datetime) -> Session:
        """The session in progress at `moment`, or the next one if the market is closed.

        "In progress" ends at the close, so at 16:00 on a trading day this is the next day.
        """
        _require_aware(moment)
        local = moment.astimezone(NEW_YORK)
        day = local.date()
        todays = self._block_for(day.year).by_date.get(day)
        if todays is not None and local < todays.close:
            return todays
        return self.next_session(day)

    def session_containing(self, moment: datetime) -> Session | None:
        """The session whose regular hours contain `moment`, or None while the market is shut."""
        session = self.session_at_or_after(moment)
        return session if session.contains(moment) else None

    def is_open(self, moment: datetime) -> bool:
        return self.session_containing(moment) is not None

    # -- block management ---------------------------------------------------------------------

    def _sessions_after(self, day: date) -> Iterator[Session]:
        """Sessions strictly after `day`, crossing into later blocks as needed."""
        block = self._block_for(day.year)
        index = bisect.bisect_right(block.dates, day)
        while True:
            for session_day in block.dates[index:]:
                yield block.by_date[session_day]
            if block.last_year >= LAST_YEAR:
                return
            block = self._block_for(block.last_year + 1)
            index = 0

    def _block_for(self, year: int) -> _Block:
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(
                f"year {year} is outside the supported calendar range: use a date between "
                f"{FIRST_YEAR} and {LAST_YEAR}"
            )
        first_year = year - (year % BLOCK_YEARS)
        block = self._blocks.get(first_year)
        if block is None:
            block = self._build_block(first_year, min(first_year + BLOCK_YEARS - 1, LAST_YEAR))
            self._blocks[first_year] = block
        return block

    def _build_block(self, first_year: int, last_year: int) -> _Block:
        dates: list[date] = []
        by_date: dict[date, Session] = {}
        for day, open_at, close_at in _exchange_sessions(self.exchange, first_year, last_year):
            dates.append(day)
            by_date[day] = Session(
                date=day,
                open=open_at,
                close=close_at,
                flatten_at=close_at - self._flatten,
                entry_cutoff=close_at - self._entry_cutoff,
                is_half_day=close_at.time() < REGULAR_CLOSE,
            )
        return _Block(first_year, last_year, dates, by_date)


@functools.cache
def _exchange_sessions(
    exchange: str, first_year: int, last_year: int
) -> tuple[tuple[date, datetime, datetime], ...]:
    """(date, open, close) of every session in the window, New York time; cached per window.

    Shared by all `MarketCalendar` instances, so a second calendar (other cut-off minutes, or a
    test) does not rebuild the exchange calendar (~0.1 s per window).
    """
    # Imported here: exchange_calendars (and pandas) cost ~0.5 s to import, which entry
    # scripts' --help and argument errors should not pay.
    import exchange_calendars

    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads `Series.values` on tz-aware columns, which pandas 3.1
        # deprecates (Pandas4Warning); the values it gets are still right. Keep logs clean.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        calendar = exchange_calendars.get_calendar(
            exchange, start=f"{first_year}-01-01", end=f"{last_year}-12-31"
        )
    schedule = calendar.schedule
    # Whole seconds since the epoch, whatever resolution pandas chose for the column.
    opens = schedule["open"].dt.as_unit("s").array.asi8
    closes = schedule["close"].dt.as_unit("s").array.asi8
    return tuple(
        (
            label.date(),
            datetime.fromtimestamp(int(open_s), tz=UTC).astimezone(NEW_YORK),
            datetime.fromtimestamp(int(close_s), tz=UTC).astimezone(NEW_YORK),
        )
        for label, open_s, close_s in zip(schedule.index, opens, closes, strict=True)
    )


def _as_date(day: date) -> date:
    """Accept a date (a datetime is reduced to its New York date, never silently to UTC's)."""
    if isinstance(day, datetime):
        _require_aware(day)
        return day.astimezone(NEW_YORK).date()
    return day


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"datetime {moment.isoformat()} is naive: pass a timezone-aware datetime "
            "(e.g. with tzinfo=ZoneInfo('America/New_York'))"
        )
