"""The shared daily files as the weekly backtest reads them: bars per symbol, the year of history
the live screener would get on a given morning, and the session's prices.

History is what IB (and the simulator, sim/market/replay_history.py) answers to the screener's
`reqHistoricalData(duration "1 Y", bar size "1 day")` at the cycle's run time: daily bars that
start at or after the same clock time one calendar year earlier (`calendar_cutoff`), of sessions
completed before the cycle's day. Same bars in, same analysis out: the parity test checks it
against `main.py` on the simulator.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from sim.market.bar_sources import read_bar_csv
from sim.market.history import calendar_cutoff
from sim.market.sessions import NY
from trade.models import Bar

DAILY_SECONDS = 6 * 3600 + 30 * 60


class WeeklyDataError(ValueError):
    """The data directory or a symbol in it is unusable; one line with the fix."""


@dataclass(slots=True)
class SymbolBars:
    """One symbol's daily bars, oldest first, with their dates for lookups."""

    symbol: str
    bars: list[Bar]
    days: list[date]
    starts: list[datetime]

    def window(self, start: datetime, before: date) -> list[Bar]:
        """Bars starting at or after `start` of sessions before `before`."""
        lo = bisect.bisect_left(self.starts, start)
        hi = bisect.bisect_left(self.days, before)
        return self.bars[lo:hi] if hi > lo else []

    def before(self, day: date, count: int) -> list[Bar]:
        """The last `count` bars of sessions before `day`."""
        hi = bisect.bisect_left(self.days, day)
        return self.bars[max(0, hi - count):hi]

    def on(self, day: date) -> Bar | None:
        i = bisect.bisect_left(self.days, day)
        return self.bars[i] if i < len(self.days) and self.days[i] == day else None

    def last_before(self, day: date) -> Bar | None:
        """The last bar of a session strictly before `day`."""
        i = bisect.bisect_left(self.days, day)
        return self.bars[i - 1] if i > 0 else None

    def last_on_or_before(self, day: date) -> Bar | None:
        i = bisect.bisect_right(self.days, day)
        return self.bars[i - 1] if i > 0 else None


def daily_symbols(data_dir: Path) -> list[str]:
    """Every symbol with a daily file under `data_dir/daily`."""
    folder = data_dir / "daily"
    if not folder.is_dir():
        raise WeeklyDataError(f"--data {data_dir} has no daily/ folder: use the market data "
                              "directory holding daily/<SYM>.csv (MARKET_DATA_DIR)")
    return sorted(name[:-4] for name in os.listdir(folder) if name.endswith(".csv"))


def load(data_dir: Path, symbols: Sequence[str]) -> dict[str, SymbolBars]:
    """The daily bars of `symbols`; a symbol without a daily file is a `WeeklyDataError`."""
    out: dict[str, SymbolBars] = {}
    for symbol in symbols:
        path = data_dir / "daily" / f"{symbol}.csv"
        if not path.is_file():
            raise WeeklyDataError(f"{symbol} has no daily file ({path}): remove it from the "
                                  "universe or use a data root that has it")
        try:
            bars = read_bar_csv(path, symbol, seconds=DAILY_SECONDS)
        except ValueError as exc:
            raise WeeklyDataError(f"{exc}: fix or remove the file") from None
        out[symbol] = SymbolBars(symbol, bars, [b.start.date() for b in bars],
                                 [b.start for b in bars])
    return out


def history(series: SymbolBars, day: date, run_time: time) -> list[Bar]:
    """The year of daily bars IB's "1 Y" request returns at `run_time` on `day`."""
    at = datetime.combine(day, run_time, tzinfo=NY)
    return series.window(calendar_cutoff(at, 1, "Y"), day)
