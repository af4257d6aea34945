"""Build completed 1-minute bars from IB's 5-second real-time bars.

IB streams a 5-second bar every 5 seconds (`reqRealTimeBars`); the bar starting at :55 ends on the
minute, so the minute is complete the moment that bar arrives, with no need to wait for the next
minute's first update. If the :55 bar never comes (a gap, a reconnect), the minute is completed by
the first 5-second bar of a later minute, so no minute is ever emitted twice or out of order. A
minute the stream joined midway is never emitted: the consumer backfills it from history.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from trade.models import Bar

NY = ZoneInfo("America/New_York")


class MinuteBarBuilder:
    """Aggregates one symbol's 5-second bars; `add` returns the 1-minute bars it completed."""

    __slots__ = (
        "symbol", "_start", "_open", "_high", "_low", "_close", "_volume", "_last_emitted",
        "_fresh", "_skip",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        # minute starts as epoch seconds: this runs for every 5-second bar of every symbol, so
        # it stays in integers and builds a datetime only for a completed minute
        self._start: int | None = None
        self._open = self._high = self._low = self._close = 0.0
        self._volume = 0.0
        self._last_emitted: int | None = None
        self._fresh = True
        self._skip: int | None = None

    def restart(self) -> None:
        """A new subscription (after a reconnect): drop the unfinished minute, and treat the next
        5-second bar as joining the stream anew."""
        self._start = None
        self._fresh = True

    def add(
        self, start: datetime, open_: float, high: float, low: float, close: float, volume: float,
        seconds: int = 5,
    ) -> list[Bar]:
        return self.add_epoch(int(start.timestamp()), open_, high, low, close, volume, seconds)

    def add_epoch(
        self, start: int, open_: float, high: float, low: float, close: float, volume: float,
        seconds: int = 5,
    ) -> list[Bar]:
        """`add` with the bar start as epoch seconds (what IB sends on the wire)."""
        minute = start - start % 60
        if self._last_emitted is not None and minute <= self._last_emitted:
            return []  # a replayed bar after a reconnect: that minute is already out
        if self._fresh:
            self._fresh = False
            if start != minute:
                self._skip = minute  # joined mid-minute: its earlier seconds were never seen
        if self._skip is not None:
            if minute == self._skip:
                return []
            self._skip = None
        completed: list[Bar] = []
        if self._start is not None and minute > self._start:
            completed.append(self._flush())
        if self._start is None:
            self._start = minute
            self._open, self._high, self._low = open_, high, low
            self._volume = 0.0
        else:
            if high > self._high:
                self._high = high
            if low < self._low:
                self._low = low
        self._close = close
        self._volume += volume
        if start + seconds >= minute + 60:
            completed.append(self._flush())
        return completed

    def _flush(self) -> Bar:
        assert self._start is not None
        bar = Bar(
            self.symbol, datetime.fromtimestamp(self._start, NY), self._open, self._high, self._low,
            self._close, self._volume,
        )
        self._last_emitted = self._start
        self._start = None
        return bar
