"""The market as columns, cached per session file: what preparing many sessions reads fast.

`MarketReplay` serves history as `Bar` objects, built and filtered per request; preparing 20
sessions of 20 symbols that way spends seconds re-reading the same warm-up days. `BarStore`
keeps each (symbol, session) once, as the grid-snapped columns `TickGridSource` would give, with
the per-session figures the pre-market analyst and the daily ATR screen aggregate (dollar
volume, range, the session's daily bar), so one session's preparation only concatenates and
compares. A data root in the shared format is read with a direct CSV parser (the same float
parsing and the same snapping as `read_bar_csv` + `snap_bar`, vectorised); any other source, or
any file the parser does not fully understand, goes through the source's own `Bar`s.
tests/sim/backtest/test_prepare.py checks both paths against the replay's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
from numba import njit

from sim.backtest.fast.prices import to_tick
from sim.market.bar_sources import CsvBarSource
from sim.market.grid import TickGridSource
from sim.market.sessions import NY, session_bounds
from trade.models import Bar


@dataclass(frozen=True, slots=True)
class SessionBars:
    """One symbol's bars of one session on the tick grid; `minute` = minutes from the open."""

    day: date
    minute: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    dollar_volume: float  # sum(close * volume), summed in bar order (trade.watchlist.judge)
    high_max: float
    low_min: float

    @property
    def size(self) -> int:
        return int(self.minute.size)


@dataclass(frozen=True, slots=True)
class DailyFile:
    """A symbol's daily file on the tick grid: bar start (epoch s), its date, high, low, close."""

    start: np.ndarray
    days: list[date]
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


@njit(cache=True)
def _snap(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> None:
    """`sim.market.grid.snap_bar` on columns: OHLC to the nearest grid price, keeping
    low <= open, close <= high."""
    for i in range(o.size):
        so = to_tick(o[i], 0)
        sc = to_tick(c[i], 0)
        sh = to_tick(h[i], 0)
        if so > sh:
            sh = so
        if sc > sh:
            sh = sc
        sl = to_tick(lo[i], 0)
        if so < sl:
            sl = so
        if sc < sl:
            sl = sc
        o[i], h[i], lo[i], c[i] = so, sh, sl, sc


@njit(cache=True)
def _session_figures(c: np.ndarray, v: np.ndarray, h: np.ndarray,
                     lo: np.ndarray) -> tuple[float, float, float]:
    dollar = 0.0
    for i in range(c.size):
        dollar += c[i] * v[i]
    high = h[0]
    low = lo[0]
    for i in range(1, h.size):
        if h[i] > high:
            high = h[i]
        if lo[i] < low:
            low = lo[i]
    return dollar, high, low


def session_bars(day: date, minute: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray,
                 c: np.ndarray, v: np.ndarray) -> SessionBars:
    if minute.size:
        dollar, high, low = _session_figures(c, v, h, lo)
    else:
        dollar, high, low = 0.0, float("nan"), float("nan")
    return SessionBars(day, minute, o, h, lo, c, v, float(dollar), float(high), float(low))


class BarStore:
    """Per-process cache of a market's sessions as columns (`source`: the grid-snapped source)."""

    def __init__(self, source: TickGridSource) -> None:
        self.source = source
        inner = source.inner
        self._csv_root = inner.data_dir if isinstance(inner, CsvBarSource) else None
        self._sessions: dict[tuple[str, date], SessionBars] = {}
        self._daily: dict[str, DailyFile] = {}
        self._days: dict[str, list[date]] = {}

    def sessions(self, symbol: str) -> list[date]:
        days = self._days.get(symbol)
        if days is None:
            days = self._days[symbol] = sorted(self.source.sessions(symbol))
        return days

    def session(self, symbol: str, day: date) -> SessionBars:
        key = (symbol, day)
        found = self._sessions.get(key)
        if found is None:
            found = None
            if self._csv_root is not None:
                found = _read_csv(self._csv_root / "intraday" / symbol / f"{day.isoformat()}.csv",
                                  day)
            if found is None:
                found = _from_bars(day, self.source.session_bars(symbol, day))
            self._sessions[key] = found
        return found

    def daily_file(self, symbol: str) -> DailyFile:
        found = self._daily.get(symbol)
        if found is None:
            bars = self.source.daily_bars(symbol)
            found = self._daily[symbol] = DailyFile(
                np.array([b.start.timestamp() for b in bars]), [b.start.date() for b in bars],
                np.array([b.high for b in bars]), np.array([b.low for b in bars]),
                np.array([b.close for b in bars]))
        return found


def _from_bars(day: date, bars: list[Bar]) -> SessionBars:
    opened = session_bounds(day)[0]
    minute = np.array([int((b.start - opened).total_seconds()) // 60 for b in bars],
                      dtype=np.int64)
    return session_bars(day, minute, *(np.array([getattr(b, k) for b in bars], dtype=np.float64)
                                       for k in ("open", "high", "low", "close", "volume")))


def _read_csv(path: Path, day: date) -> SessionBars | None:
    """The file as `read_bar_csv` + `snap_bar` would give it, or None to use that path (an
    unexpected header, time zone, second or order: the reference reader decides). Values are
    parsed by numpy's string-to-float cast, which rounds correctly like `float()`."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return None
    if not lines or [h.strip().lower() for h in lines[0].decode("ascii", "replace").split(",")[:6]] \
            != ["timestamp", "open", "high", "low", "close", "volume"]:
        return None
    rows = [line.split(b",") for line in lines[1:] if line.strip()]
    if any(len(row) < 6 for row in rows):
        return None
    opened = session_bounds(day)[0]
    stamps = np.array([row[0].strip() for row in rows], dtype="S25")
    shape = (day.isoformat() + "T").encode() + b"%H:%M:00" + _offset_text(opened).encode()
    if stamps.size and not _stamps_ok(stamps, shape):
        return None
    try:
        values = np.array([row[1:6] for row in rows], dtype="S").astype(np.float64).T
    except ValueError:
        return None
    if stamps.size:
        digits = stamps.view(np.uint8).reshape(-1, 25).astype(np.int64) - 48
        minutes = (digits[:, 11] * 10 + digits[:, 12]) * 60 + digits[:, 14] * 10 + digits[:, 15] \
            - (opened.hour * 60 + opened.minute)
    else:
        minutes = np.zeros(0, dtype=np.int64)
    if minutes.size > 1 and not bool(np.all(np.diff(minutes) > 0)):
        return None
    o, h, lo, c, v = (np.ascontiguousarray(values[j]) for j in range(5))
    _snap(o, h, lo, c)
    return session_bars(day, minutes, o, h, lo, c, v)


def _stamps_ok(stamps: np.ndarray, shape: bytes) -> bool:
    """Every timestamp is `<day>T<HH>:<MM>:00<New York offset>` (what the files hold)."""
    raw = stamps.view(np.uint8).reshape(-1, 25)
    if raw.shape[1] != len(shape) or np.any(raw == 0):
        return False
    fixed = np.frombuffer(shape, dtype=np.uint8)
    keep = np.ones(25, dtype=bool)
    keep[[11, 12, 14, 15]] = False  # the HH and MM digits
    if not bool(np.all(raw[:, keep] == fixed[keep])):
        return False
    clock = raw[:, [11, 12, 14, 15]]
    return bool(np.all((clock >= 48) & (clock <= 57)))


def _offset_text(moment: datetime) -> str:
    """'-05:00' / '-04:00': how the shared files write New York's UTC offset that day."""
    offset = moment.astimezone(NY).utcoffset()
    assert offset is not None
    total = int(offset.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    return f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
