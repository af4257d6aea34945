"""A bar source whose every price is on the tick grid, so nothing built on it can be off it.

The shared data holds prices with up to 4 decimals above $1 (e.g. an opening print of 275.0367)
that no US exchange would quote; IB's bars and ticks are always on the minimum tick. Wrapping the
source once, under the replay, puts history, real-time bars, ticks, the intra-bar path's vertices
and therefore the fills of the gateway and of `PaperBroker` on the same grid.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sim.market.ticks import to_tick
from trade.models import Bar


def snap_bar(bar: Bar) -> Bar:
    """OHLC to the nearest grid prices, keeping low <= open, close <= high."""
    o, c = to_tick(bar.open), to_tick(bar.close)
    high = max(to_tick(bar.high), o, c)
    low = min(to_tick(bar.low), o, c)
    if (o, high, low, c) == (bar.open, bar.high, bar.low, bar.close):
        return bar
    return Bar(bar.symbol, bar.start, o, high, low, c, bar.volume, bar.seconds)


class TickGridSource:
    """Wraps any `BarSource`; caches the snapped bars per (symbol, day) and per symbol."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._sessions: dict[tuple[str, date], list[Bar]] = {}
        self._daily: dict[str, list[Bar]] = {}

    def symbols(self) -> list[str]:
        return self.inner.symbols()

    def sessions(self, symbol: str) -> list[date]:
        return self.inner.sessions(symbol)

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        key = (symbol.upper(), day)
        bars = self._sessions.get(key)
        if bars is None:
            bars = self._sessions[key] = [snap_bar(b) for b in self.inner.session_bars(symbol, day)]
        return list(bars)

    def daily_bars(self, symbol: str) -> list[Bar]:
        key = symbol.upper()
        bars = self._daily.get(key)
        if bars is None:
            bars = self._daily[key] = [snap_bar(b) for b in self.inner.daily_bars(symbol)]
        return list(bars)


def on_grid(source: Any) -> TickGridSource:
    """`source` wrapped once (an already wrapped source is returned as is)."""
    return source if isinstance(source, TickGridSource) else TickGridSource(source)
