"""Hand-built bar sources for exact simulator tests (a real BarSource, not a mock)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sim.market.clock import ReplayClock
from sim.market.replay import MarketReplay
from sim.market.sessions import NY
from trade.models import Bar


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=NY)


class ListSource:
    """A BarSource over explicit OHLC tuples: {symbol: {day: [(o, h, l, c), ...]}} from 09:30."""

    def __init__(self, data: dict[str, dict[date, list[tuple[float, float, float, float]]]]):
        self._bars: dict[str, dict[date, list[Bar]]] = {}
        for symbol, days in data.items():
            self._bars[symbol] = {
                day: [
                    Bar(symbol, at(day, 9, 30) + timedelta(minutes=i), o, h, lo, c, 1000.0)
                    for i, (o, h, lo, c) in enumerate(rows)
                ]
                for day, rows in days.items()
            }

    def symbols(self) -> list[str]:
        return sorted(self._bars)

    def sessions(self, symbol: str) -> list[date]:
        return sorted(self._bars.get(symbol, {}))

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        return list(self._bars.get(symbol, {}).get(day, []))

    def daily_bars(self, symbol: str) -> list[Bar]:
        return []


DAY = date(2024, 3, 5)  # a regular Tuesday session
PREV = date(2024, 3, 4)


def replay_of(rows: list[tuple[float, float, float, float]], symbol: str = "XYZ",
              prev_close: float = 100.0, start: datetime | None = None) -> MarketReplay:
    """A stepping replay of `rows` as the 09:30.. bars of DAY, previous session closing at
    prev_close; the clock starts at `start` (default: the 09:30 open)."""
    source = ListSource({symbol: {PREV: [(prev_close,) * 4], DAY: rows}})
    return MarketReplay(source, ReplayClock(start or at(DAY, 9, 30)), DAY, [symbol])
