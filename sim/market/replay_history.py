"""IB history semantics over a replay: which completed bars a reqHistoricalData returns.

A mixin of `MarketReplay` (`"N D"` counts sessions the source holds, today once it has a
completed bar; S/W/M/Y are calendar spans back from the end; daily bars from the daily file or
aggregated from the session). Symbols the replay does not trade are served from the source alone,
as IB serves history for any contract.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sim.market.history import (
    DAY_SECONDS,
    aggregate,
    calendar_cutoff,
    parse_bar_size,
    parse_duration,
    session_to_daily,
)
from sim.market.sessions import session_bounds
from trade.models import Bar

if TYPE_CHECKING:
    from sim.market.clock import ReplayClock


class ReplayHistory:
    day: date
    clock: ReplayClock
    source: Any
    _paths: dict[str, Any]

    def completed_bars(self, symbol: str, until: datetime) -> list[Bar]: ...

    def history(
        self,
        symbol: str,
        end: datetime,
        duration: str,
        bar_size: str,
        use_rth: bool = True,
    ) -> list[Bar]:
        """Completed bars ending at `end` (capped at the clock: no look-ahead).

        `"N D"` counts sessions the source holds (today counts once it has a completed bar), so a
        bot warms up on D-1, D-2, ... as at IB; S/W/M/Y are calendar spans back from `end`.
        Only regular-hours data exists, so `use_rth` changes nothing.
        """
        symbol = symbol.upper()
        n, unit = parse_duration(duration)
        size = parse_bar_size(bar_size)
        end = min(end, self.clock.now())
        if size >= DAY_SECONDS:
            return self._daily_history(symbol, end, n, unit)
        days = self._days_with_bars(symbol, end)
        if unit == "D":
            days = days[-n:]
            cutoff = None
        else:
            cutoff = calendar_cutoff(end, n, unit)
            days = [d for d in days if session_bounds(d)[1] > cutoff]
        out: list[Bar] = []
        for day in days:
            minute_bars = self._bars_until(symbol, day, end)
            if cutoff is not None:
                minute_bars = [b for b in minute_bars if b.start >= cutoff]
            opened, closed = session_bounds(day)
            out.extend(b for b in aggregate(minute_bars, size, opened, closed) if b.end <= end)
        return out

    def _bars_until(self, symbol: str, day: date, end: datetime) -> list[Bar]:
        if day == self.day and symbol in self._paths:
            return self.completed_bars(symbol, end)
        return [b for b in self.source.session_bars(symbol, day) if b.end <= end]

    def _days_with_bars(self, symbol: str, end: datetime) -> list[date]:
        held = self.source.sessions(symbol)
        days = [d for d in held if d < self.day and d <= end.date()]
        if end.date() >= self.day and self._bars_until(symbol, self.day, end):
            days.append(self.day)
        return days

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
            return daily[-n:]
        cutoff = calendar_cutoff(end, n, unit)
        return [b for b in daily if b.start >= cutoff]
