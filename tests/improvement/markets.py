"""A constructed market whose answer is known: price waves where a 2% profit target truly beats
the default 1.4% one, day after day, so a replay-validated change has something real to find.

Each session is 1-minute bars from 09:30 made of 40-minute waves:
- 20 quiet minutes drifting down (RSI falls, VWAP(20) settles on the quiet prices);
- one up minute that takes the close above VWAP while RSI is still low (the entry signal);
- a good wave then rises 2.6% in 18 minutes (both targets fill) and falls back in one;
  a bad wave rises only 0.4% and then falls 2% in one minute (both stops fill).
Each session has 1 to 4 bad waves (seeded per day), so daily P&L varies and a Sharpe ratio
exists; the 2% target earns more than the 1.4% one on every good wave and the same elsewhere.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from trade.models import Bar

NY = ZoneInfo("America/New_York")
WAVE = 40
QUIET = 20
RISE = 18


class WaveMarket:
    """A `BarSource` (symbols(), sessions(), session_bars(), daily_bars())."""

    def __init__(self, symbols: Sequence[str], days: Sequence[date], seed: int = 1) -> None:
        self._symbols = [s.upper() for s in symbols]
        self._days = sorted(days)
        self.seed = seed
        self._cache: dict[tuple[str, date], list[Bar]] = {}

    def symbols(self) -> list[str]:
        return list(self._symbols)

    def sessions(self, symbol: str) -> list[date]:
        return list(self._days) if symbol.upper() in self._symbols else []

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        symbol = symbol.upper()
        if symbol not in self._symbols or day not in self._days:
            return []
        if (symbol, day) not in self._cache:
            self._cache[(symbol, day)] = self._generate(symbol, day)
        return list(self._cache[(symbol, day)])

    def daily_bars(self, symbol: str) -> list[Bar]:
        return []

    def bad_waves(self, symbol: str, day: date) -> set[int]:
        rng = random.Random(f"{self.seed}:{symbol}:{day.isoformat()}")
        return set(rng.sample(range(9), rng.randint(1, 4)))

    def _generate(self, symbol: str, day: date) -> list[Bar]:
        bad = self.bad_waves(symbol, day)
        start = datetime(day.year, day.month, day.day, 9, 30, tzinfo=NY)
        price = 100.0 + 10 * self._symbols.index(symbol)
        closes: list[float] = []
        for wave in range(10):
            base = price
            for _ in range(QUIET):
                price *= 0.9999
                closes.append(price)
            price *= 1.003
            closes.append(price)
            top = 0.004 if wave in bad else 0.026
            step = (1 + top) ** (1 / RISE)
            for _ in range(RISE):
                price *= step
                closes.append(price)
            bottom = base * (0.98 if wave in bad else 1.0)
            fall = (bottom / price) ** (1 / (WAVE - QUIET - 1 - RISE))
            for _ in range(WAVE - QUIET - 1 - RISE):
                price *= fall
                closes.append(price)
        bars = []
        previous = closes[0]
        for minute, close in enumerate(closes[:390]):
            opened = previous
            high, low = max(opened, close) * 1.0002, min(opened, close) * 0.9998
            bars.append(Bar(symbol, start + timedelta(minutes=minute), round(opened, 4),
                            round(high, 4), round(low, 4), round(close, 4), 50_000.0))
            previous = close
        return bars
