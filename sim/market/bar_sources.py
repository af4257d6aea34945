"""Bar sources for the simulator: the shared CSV format on disk.

`CsvBarSource` reads `intraday/<SYM>/<YYYY-MM-DD>.csv` and `daily/<SYM>.csv` (header
`timestamp,open,high,low,close,volume`, ISO-8601 timestamps with the NY offset, bar START).
Loading is lazy and cached per file: a replay of one day touches a handful of the 763 files, and
reading all of them up front takes seconds.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from sim.market.sessions import NY
from trade.models import Bar

_DAILY_SECONDS = 6 * 3600 + 30 * 60


def read_bar_csv(path: Path, symbol: str, seconds: int = 60) -> list[Bar]:
    """Bars of one file in the shared format, sorted by start; raises naming the file on bad rows."""
    bars: list[Bar] = []
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:6]] != [
            "timestamp", "open", "high", "low", "close", "volume",
        ]:
            raise ValueError(
                f"{path}: header must be timestamp,open,high,low,close,volume, got {header!r}"
            )
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                start = datetime.fromisoformat(row[0])
                bar = Bar(
                    symbol=symbol,
                    start=start.astimezone(NY) if start.tzinfo else start.replace(tzinfo=NY),
                    open=float(row[1]),
                    high=float(row[2]),
                    low=float(row[3]),
                    close=float(row[4]),
                    volume=float(row[5]),
                    seconds=seconds,
                )
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{path}:{line_no}: unreadable bar row {row!r} ({exc})") from exc
            bars.append(bar)
    bars.sort(key=lambda b: b.start)
    return bars


class CsvBarSource:
    """A `BarSource` over the shared data directory; lazy, cached, read-only."""

    def __init__(self, data_dir: Path | str, symbols: Sequence[str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        if not (self.data_dir / "intraday").is_dir() and not (self.data_dir / "daily").is_dir():
            raise FileNotFoundError(
                f"data_dir {self.data_dir} has neither intraday/ nor daily/: "
                "point it at the market data directory (MARKET_DATA_DIR)"
            )
        self._only = {s.upper() for s in symbols} if symbols else None
        self._session_bars = lru_cache(maxsize=512)(self._load_session)
        self._daily = lru_cache(maxsize=256)(self._load_daily)
        self._sessions = lru_cache(maxsize=512)(self._list_sessions)

    def symbols(self) -> list[str]:
        found: set[str] = set()
        for sub in ("intraday", "daily"):
            folder = self.data_dir / sub
            if folder.is_dir():
                for name in os.listdir(folder):
                    found.add(name.removesuffix(".csv"))
        if self._only is not None:
            found &= self._only
        return sorted(found)

    def sessions(self, symbol: str) -> list[date]:
        return list(self._sessions(symbol.upper()))

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        return list(self._session_bars(symbol.upper(), day))

    def daily_bars(self, symbol: str) -> list[Bar]:
        return list(self._daily(symbol.upper()))

    def _allowed(self, symbol: str) -> bool:
        return self._only is None or symbol in self._only

    def _list_sessions(self, symbol: str) -> tuple[date, ...]:
        folder = self.data_dir / "intraday" / symbol
        if not self._allowed(symbol) or not folder.is_dir():
            return ()
        days = []
        for name in os.listdir(folder):
            if name.endswith(".csv"):
                try:
                    days.append(date.fromisoformat(name[:-4]))
                except ValueError:
                    continue
        return tuple(sorted(days))

    def _load_session(self, symbol: str, day: date) -> tuple[Bar, ...]:
        path = self.data_dir / "intraday" / symbol / f"{day.isoformat()}.csv"
        if not self._allowed(symbol) or not path.is_file():
            return ()
        return tuple(read_bar_csv(path, symbol))

    def _load_daily(self, symbol: str) -> tuple[Bar, ...]:
        path = self.data_dir / "daily" / f"{symbol}.csv"
        if not self._allowed(symbol) or not path.is_file():
            return ()
        return tuple(read_bar_csv(path, symbol, seconds=_DAILY_SECONDS))
