"""IB history semantics over a replay: which completed bars a reqHistoricalData returns.

A mixin of `MarketReplay`. `"N D"` is the last N trading days ending at `end` (today once the
symbol has a completed bar), counted on the NYSE calendar, not on the days the data happens to
hold: a day the data lacks is a gap in the answer, never filled with an older session (IB
answers with the real bars of those days or not at all; passing off another date's bars as the
days asked for is the one thing a simulator must not do). S/W/M/Y are calendar spans back from
the end. Daily bars come from the daily file, or are aggregated from the session. Symbols the
replay does not trade are served from the source alone, as IB serves history for any contract.

`use_rth=False` asks for the extended session (04:00-20:00) too. The data holds regular-session
bars only, so no bar is added outside 09:30-16:00 (what IB returns for a symbol without
extended-hours trades), but intraday bars are then labelled on the clock (an hourly bar at
09:00 holding 09:30-09:59) instead of starting at the 09:30 open: IB's bars start at the open
only when the request is limited to regular trading hours.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sim.market.history import (
    DAY_SECONDS,
    aggregate,
    calendar_cutoff,
    parse_bar_size,
    parse_duration,
    session_to_daily,
)
from sim.market.sessions import session_bounds, sessions_between
from trade.models import Bar

if TYPE_CHECKING:
    from sim.market.clock import ReplayClock

FIRST_BAR = timedelta(minutes=1)  # a session counts once its first minute bar could be complete


class ReplayHistory:
    day: date
    clock: ReplayClock
    source: Any
    _paths: dict[str, Any]

    def completed_bars(self, symbol: str, until: datetime) -> list[Bar]:
        raise NotImplementedError  # MarketReplay's

    def history(
        self,
        symbol: str,
        end: datetime,
        duration: str,
        bar_size: str,
        use_rth: bool = True,
    ) -> list[Bar]:
        """Completed bars ending at `end` (capped at the clock: no look-ahead).

        `"N D"` is the last N trading days ending at `end` (today counts once it has a completed
        bar), so a bot warms up on D-1, D-2, ... as at IB; S/W/M/Y are calendar spans back from
        `end`. `use_rth=False` labels intraday bars on the clock (see the module doc).
        """
        symbol = symbol.upper()
        n, unit = parse_duration(duration)
        size = parse_bar_size(bar_size)
        end = min(end, self.clock.now())
        if size >= DAY_SECONDS:
            return self._daily_history(symbol, end, n, unit)
        if unit == "D":
            days = self._days_with_bars(symbol, end, sessions=n)
            cutoff = None
        else:
            cutoff = calendar_cutoff(end, n, unit)
            days = [d for d in self._days_with_bars(symbol, end) if session_bounds(d)[1] > cutoff]
        out: list[Bar] = []
        for day in days:
            minute_bars = self._bars_until(symbol, day, end)
            if cutoff is not None:
                minute_bars = [b for b in minute_bars if b.start >= cutoff]
            opened, closed = session_bounds(day)
            out.extend(b for b in aggregate(minute_bars, size, opened, closed, clip=use_rth) if b.end <= end)
        return out

    def _bars_until(self, symbol: str, day: date, end: datetime) -> list[Bar]:
        if day == self.day and symbol in self._paths:
            return self.completed_bars(symbol, end)
        return [b for b in self.source.session_bars(symbol, day) if b.end <= end]

    def _days_with_bars(self, symbol: str, end: datetime, sessions: int | None = None) -> list[date]:
        """Days the data holds bars of `symbol` for by `end` (today once it has a completed bar),
        oldest first; with `sessions`, only those among the last `sessions` trading days ending
        at `end` (see `_last_trading_days`)."""
        symbol = symbol.upper()
        held = [d for d in self.source.sessions(symbol) if d < self.day and d <= end.date()]
        if end.date() >= self.day and self._bars_until(symbol, self.day, end):
            held.append(self.day)
        if sessions is None:
            return held
        have = set(held)
        data_today = self.day in set(self.source.sessions(symbol))

        def begun(day: date) -> bool:
            if day == self.day and data_today:
                return day in have  # today counts once the symbol has a completed bar
            return session_bounds(day)[0] + FIRST_BAR <= end

        window = self._last_trading_days(end, sessions, have, begun)
        return [d for d in window if d in have]

    def _last_trading_days(self, end: datetime, n: int, held: set[date],
                           counts: Callable[[date], bool]) -> list[date]:
        """The last `n` trading days up to `end` (and never past the replayed day) that
        `counts` accepts: the NYSE sessions, plus any day the data holds a session on."""
        last = min(end.date(), self.day)
        first = last - timedelta(days=int(n * 1.6) + 10)
        days = set(sessions_between(first, last)) | {d for d in held if first <= d <= last}
        ordered = sorted(d for d in days if counts(d))
        return ordered[-n:] if n > 0 else []

    def _daily_history(self, symbol: str, end: datetime, n: int, unit: str) -> list[Bar]:
        """Daily bars of sessions complete by `end`; from the daily file, else aggregated.

        Caveat of the shared data: daily files are split-adjusted, intraday files are raw.
        """
        def complete(day: date) -> bool:
            if day > self.day or day > end.date():
                return False
            return day < end.date() or end >= session_bounds(day)[1]

        daily = [b for b in self.source.daily_bars(symbol) if complete(b.start.date())]
        have = {b.start.date() for b in daily[-5:]}
        for day in self._days_with_bars(symbol, end):
            if day in have or not complete(day) or (daily and day < daily[-1].start.date()):
                continue
            bars = self._bars_until(symbol, day, end)
            if bars:
                opened, closed = session_bounds(day)
                daily.append(session_to_daily(bars, opened, closed))
        daily.sort(key=lambda b: b.start)
        if unit == "D":
            dated = {b.start.date() for b in daily}
            window = set(self._last_trading_days(end, n, dated, complete))
            return [b for b in daily if b.start.date() in window]
        cutoff = calendar_cutoff(end, n, unit)
        return [b for b in daily if b.start >= cutoff]
