"""The day's statistics a quote carries besides bid/ask/last, from the replay data only.

IB's tick types (TWS API "Available Tick Types"): Close (9) is the previous trading day's close,
Open (14) the current session's opening price (before the open: the previous day's), High (6)
and Low (7) the day's extremes so far; generic tick 165 adds the 13/26/52-week lows and highs
(15-20) and the average daily volume (21), 233 RTVolume the running volume and VWAP.

Everything here is read at the replay clock from the bars the data holds, never made up:
- the previous trading day is the NYSE session before the replayed day; when the data lacks it
  (its minutes and its daily bar), there is no close, never an older session's;
- today's high and low run along the documented intra-bar path (the bar in progress counts as
  far as it got), volume is the completed bars' plus the bar in progress pro rata of its time
  (the replay's own convention, `MarketReplay.partial_bar`);
- a weekly range or the 90-day average volume is given only when the daily data covers at least
  `COVERAGE` of that window's sessions: a "52-week high" over six weeks of data would be wrong.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sim.market.history import session_to_daily
from sim.market.sessions import previous_sessions, session_bounds, sessions_between
from trade.models import Bar

COVERAGE = 0.95
WEEK_RANGES = ((13, 15, 16), (26, 17, 18), (52, 19, 20))  # weeks, low tick type, high tick type
AVERAGE_VOLUME_DAYS = 90  # IB: "the average daily trading volume over 90 days"


@dataclass(frozen=True, slots=True)
class Running:
    """Today's session so far at one instant."""

    open: float
    high: float
    low: float
    volume: float
    vwap: float | None


class _Today:
    """Prefix sums over today's bars: O(log n) answers per tick, however often it is asked."""

    __slots__ = ("ends", "highs", "lows", "volumes", "notional")

    def __init__(self, bars: list[Bar]) -> None:
        self.ends = [b.end.timestamp() for b in bars]
        self.highs, self.lows, self.volumes, self.notional = [], [], [], []
        hi, lo, vol, notional = float("-inf"), float("inf"), 0.0, 0.0
        for b in bars:
            hi, lo, vol = max(hi, b.high), min(lo, b.low), vol + b.volume
            notional += b.volume * (b.high + b.low + b.close) / 3
            self.highs.append(hi)
            self.lows.append(lo)
            self.volumes.append(vol)
            self.notional.append(notional)


class DayStats:
    """Per replayed session: the previous day's bar, today's running figures, the ranges."""

    def __init__(self, replay: Any) -> None:
        self.replay = replay
        self._today: dict[str, _Today] = {}
        self._prior: dict[str, Bar | None] = {}
        self._daily: dict[str, list[Bar]] = {}
        self._ranges: dict[str, dict[int, tuple[float, float]]] = {}  # before today's trading
        self._average: dict[str, int | None] = {}

    # -- the previous trading day ---------------------------------------------------------
    def prior_day(self) -> date | None:
        found = previous_sessions(self.replay.day, 1)
        return found[-1] if found else None

    def prior_bar(self, symbol: str) -> Bar | None:
        """The previous trading day as one daily bar: from its minutes, else its daily bar."""
        symbol = symbol.upper()
        if symbol not in self._prior:
            self._prior[symbol] = self._load_prior(symbol)
        return self._prior[symbol]

    def _load_prior(self, symbol: str) -> Bar | None:
        day = self.prior_day()
        if day is None:
            return None
        bars = self.replay.source.session_bars(symbol, day)
        if bars:
            opened, closed = session_bounds(day)
            return session_to_daily(bars, opened, closed)
        return next((b for b in self.replay.source.daily_bars(symbol) if b.start.date() == day), None)

    # -- today so far -----------------------------------------------------------------------
    def running(self, symbol: str, now: datetime) -> Running | None:
        """Today's open, high, low, volume and VWAP at `now`; None before the first trade."""
        symbol = symbol.upper()
        bars = self.replay.bars(symbol)
        if not bars or now < bars[0].start:
            return None
        table = self._today.get(symbol)
        if table is None:
            table = self._today[symbol] = _Today(bars)
        i = bisect_right(table.ends, now.timestamp())
        hi = table.highs[i - 1] if i else float("-inf")
        lo = table.lows[i - 1] if i else float("inf")
        volume = table.volumes[i - 1] if i else 0.0
        notional = table.notional[i - 1] if i else 0.0
        partial = self.replay.partial_bar(symbol, now)
        if partial is not None:
            hi, lo = max(hi, partial.high), min(lo, partial.low)
            volume += partial.volume
            notional += partial.volume * (partial.high + partial.low + partial.close) / 3
        if hi == float("-inf"):  # between bars before the first completed one: the open so far
            hi = lo = bars[0].open
        vwap = round(notional / volume, 4) if volume > 0 else None
        return Running(bars[0].open, hi, lo, volume, vwap)

    # -- weekly ranges and average volume (generic tick 165) ------------------------------------
    def daily_before_today(self, symbol: str) -> list[Bar]:
        """Daily bars of the year before the replayed day (daily file, else aggregated minutes)."""
        symbol = symbol.upper()
        if symbol not in self._daily:
            opened = self.replay.session_open
            self._daily[symbol] = self.replay.history(symbol, opened, "1 Y", "1 day")
        return self._daily[symbol]

    def week_ranges(self, symbol: str, today: Running | None) -> dict[int, tuple[float, float]]:
        """{weeks: (low, high)} for the 13/26/52-week windows the data covers (today included)."""
        symbol = symbol.upper()
        if symbol not in self._ranges:
            daily = self.daily_before_today(symbol)
            found: dict[int, tuple[float, float]] = {}
            for weeks, _, _ in WEEK_RANGES:
                window = self._covered(daily, timedelta(weeks=weeks))
                if window is not None:
                    found[weeks] = (min(b.low for b in window), max(b.high for b in window))
            self._ranges[symbol] = found
        if today is None:
            return dict(self._ranges[symbol])
        return {weeks: (min(low, today.low), max(high, today.high))
                for weeks, (low, high) in self._ranges[symbol].items()}

    def average_volume(self, symbol: str) -> int | None:
        """The mean daily volume of the last 90 sessions before today, when the data has them."""
        symbol = symbol.upper()
        if symbol not in self._average:
            self._average[symbol] = self._load_average(symbol)
        return self._average[symbol]

    def _load_average(self, symbol: str) -> int | None:
        sessions = previous_sessions(self.replay.day, AVERAGE_VOLUME_DAYS)
        if not sessions:
            return None
        window = [b for b in self.daily_before_today(symbol) if b.start.date() >= sessions[0]]
        if len(window) < COVERAGE * len(sessions):
            return None
        return round(sum(b.volume for b in window) / len(window))

    def _covered(self, daily: list[Bar], span: timedelta) -> list[Bar] | None:
        """The daily bars within `span` before today, or None when they miss too many sessions."""
        first = self.replay.day - span
        window = [b for b in daily if b.start.date() >= first]
        yesterday = self.replay.day - timedelta(days=1)
        expected = len(sessions_between(first, yesterday))
        if not expected or len(window) < COVERAGE * expected:
            return None
        return window
