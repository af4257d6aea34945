"""One session's replay: bars turned into a continuous intra-bar price path, and IB history.

The one `ReplayClock` (sim/market/clock.py) drives everything (history, live bars, prices,
fills) so a bot never sees a price from the future. `MarketReplay` turns a session of 1-minute
bars into a continuous, deterministic intra-bar price path that the matching engine triggers
against: the open at +0 s,
then the extreme nearer the open at +20 s, the other extreme at +40 s, the close at +59 s
(scaled for other bar lengths), linear in between, flat at the close until the next bar's start,
where the price jumps to that bar's open (a gap). So an up bar usually runs O -> L -> H -> C and
a down bar O -> H -> L -> C; when both extremes are equally far from the open, the bar's
direction decides (up bar: low first). Before the first bar the price is the previous session's
close (or, if unknown, the first open). The matching engine does not rely on this order for OCA
exits: when a stop and a target could both trigger within one interval, the stop wins.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from sim.market.clock import ReplayClock
from sim.market.grid import on_grid
from sim.market.replay_history import ReplayHistory
from sim.market.sessions import NY, previous_sessions, session_bounds
from sim.market.ticks import to_tick
from trade.models import Bar


@runtime_checkable
class BarSource(Protocol):
    """Where bars come from: CSV files or the seeded synthetic market."""

    def symbols(self) -> list[str]: ...

    def sessions(self, symbol: str) -> list[date]: ...

    def session_bars(self, symbol: str, day: date) -> list[Bar]: ...

    def daily_bars(self, symbol: str) -> list[Bar]: ...


# (start, end (epoch seconds), first price, low, high) of one piece of the path inside one bar.
Segment = tuple[float, float, float, float, float]


class _SymbolPath:
    """One symbol's bars for the session with epoch-second starts for O(log n) lookups."""

    __slots__ = ("bars", "starts", "ends", "verts", "prev_close")

    def __init__(self, bars: list[Bar], prev_close: float | None) -> None:
        self.bars = bars
        self.starts = [b.start.timestamp() for b in bars]
        self.ends = [start + b.seconds for start, b in zip(self.starts, bars, strict=True)]
        self.verts = [_vertices(b) for b in bars]
        self.prev_close = prev_close if prev_close is not None else (bars[0].open if bars else None)


Vertices = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


def _vertices(bar: Bar) -> Vertices:
    """(seconds into the bar, price) of O, nearer extreme, farther extreme, C."""
    s = float(bar.seconds)
    to_low, to_high = bar.open - bar.low, bar.high - bar.open
    low_first = to_low < to_high or (to_low == to_high and bar.close >= bar.open)
    first, second = (bar.low, bar.high) if low_first else (bar.high, bar.low)
    return ((0.0, bar.open), (s / 3.0, first), (2.0 * s / 3.0, second), (s - 1.0, bar.close))


def _value(verts: Vertices, dt: float) -> float:
    """Price `dt` seconds into a bar along the documented path."""
    t0, v0 = verts[0]
    if dt <= t0:
        return v0
    for t1, v1 in verts[1:]:
        if dt <= t1:
            return v0 + (v1 - v0) * (dt - t0) / (t1 - t0)
        t0, v0 = t1, v1
    return v0


def _segment(verts: Vertices, origin: float, dt0: float, dt1: float) -> Segment:
    """Times, first price and (low, high) of the path over [dt0, dt1] within one bar."""
    first = _value(verts, dt0)
    last = _value(verts, dt1)
    lo, hi = (first, last) if first <= last else (last, first)
    for t, v in verts:
        if dt0 < t < dt1:
            if v < lo:
                lo = v
            elif v > hi:
                hi = v
    return origin + dt0, origin + dt1, first, lo, hi


class MarketReplay(ReplayHistory):
    """Replays session `day` of `symbols` on `clock`; the caller starts the clock at the open.

    The source is read through `TickGridSource`: every bar, and so every vertex of the path, is
    on the tick grid (prices between vertices are not; whoever quotes or fills them rounds).
    """

    def __init__(
        self, source: BarSource, clock: ReplayClock, day: date, symbols: Sequence[str]
    ) -> None:
        self.source = on_grid(source)
        source = self.source
        self.clock = clock
        self.day = day
        self.symbols = [s.upper() for s in symbols]
        self.session_open, self.session_close = session_bounds(day)
        self._paths: dict[str, _SymbolPath] = {}
        self._other_paths: dict[tuple[str, date], _SymbolPath] = {}
        for symbol in self.symbols:
            bars = source.session_bars(symbol, day)
            self._paths[symbol] = _SymbolPath(bars, self._previous_close(symbol))

    def _previous_close(self, symbol: str) -> float | None:
        """The close of the trading day before this one: its last minute bar, else the daily
        file's bar of that date. None when the data lacks that day: an older session's close
        would be a stale price passed off as yesterday's (the path then starts at the open)."""
        prior = previous_sessions(self.day, 1)
        if not prior:
            return None
        bars = self.source.session_bars(symbol, prior[-1])
        if bars:
            return bars[-1].close
        for bar in reversed(self.source.daily_bars(symbol)):
            if bar.start.date() <= prior[-1]:
                return bar.close if bar.start.date() == prior[-1] else None
        return None

    def known_symbols(self) -> set[str]:
        """Symbols tradeable in this replay: those with bars today (or any data at all)."""
        return {s for s, p in self._paths.items() if p.bars or p.prev_close is not None}

    def bars(self, symbol: str) -> list[Bar]:
        """All of today's bars (the engine's view; bots must use `completed_bars`)."""
        path = self._paths.get(symbol.upper())
        return list(path.bars) if path else []

    def completed_bars(self, symbol: str, until: datetime) -> list[Bar]:
        """Today's bars with `bar.end <= until`: what a client may know at `until`."""
        path = self._paths.get(symbol.upper())
        if path is None:
            return []
        return path.bars[: bisect_right(path.ends, until.timestamp())]

    def completed_count(self, symbol: str, until: datetime | float) -> int:
        """How many of today's bars have ended by `until` (a datetime or epoch seconds).

        O(log n) and allocation-free: the per-bar hot path of backtests and live bar feeds.
        """
        path = self._paths.get(symbol.upper())
        if path is None:
            return 0
        ts = until if isinstance(until, float | int) else until.timestamp()
        return bisect_right(path.ends, ts)

    def price_at(self, symbol: str, t: datetime) -> float | None:
        path = self._paths.get(symbol.upper())
        if path is None:
            return None
        ts = t.timestamp()
        i = bisect_right(path.starts, ts) - 1
        if i < 0:
            return path.prev_close
        return _value(path.verts[i], ts - path.starts[i])

    def segments(self, symbol: str, t0: datetime, t1: datetime) -> Iterator[Segment]:
        """The path over (t0, t1] cut at bar starts, in time order: the matching engine's input.

        Each piece carries its first price, so a gap (a bar opening beyond a stop) fills at that
        open, not at the stop. The piece containing t0 starts with the price at t0.
        """
        return iter(self.segments_between(symbol, t0.timestamp(), t1.timestamp()))

    def segments_between(self, symbol: str, ts0: float, ts1: float) -> list[Segment]:
        """`segments` over epoch seconds (the engine converts its interval once per advance)."""
        path = self._paths.get(symbol) or self._paths.get(symbol.upper())
        if path is None or not path.bars or ts1 <= ts0:
            return []
        starts, ends, verts = path.starts, path.ends, path.verts
        out: list[Segment] = []
        i = bisect_right(starts, ts0) - 1
        if i >= 0 and ts0 < ends[i]:
            out.append(_segment(verts[i], starts[i], ts0 - starts[i], min(ts1, ends[i]) - starts[i]))
        j = i + 1
        count = len(starts)
        while j < count and starts[j] <= ts1:
            out.append(_segment(verts[j], starts[j], 0.0, min(ts1, ends[j]) - starts[j]))
            j += 1
        return out

    def path_points(self, symbol: str, ts0: float, ts1: float) -> list[tuple[float, float]]:
        """(epoch, price) of the path over [ts0, ts1] in time order: its value at ts0, every
        vertex in between (a bar's open right after the previous close is a gap), its value at ts1.
        What an order that depends on the order of highs and lows (a trailing stop) walks along."""
        path = self._paths.get(symbol) or self._paths.get(symbol.upper())
        if path is None or not path.bars or ts1 <= ts0:
            return []
        starts, ends, verts = path.starts, path.ends, path.verts
        i = max(0, bisect_right(starts, ts0) - 1)
        points: list[tuple[float, float]] = []
        for j in range(i, len(starts)):
            origin = starts[j]
            if origin > ts1:
                break
            if j > 0 and ts0 < origin < ts1:
                points.append((origin, verts[j - 1][-1][1]))  # flat at the close, then the jump
            for dt, price in verts[j]:
                t = origin + dt
                if ts0 < t < ts1 and t < ends[j]:
                    points.append((t, price))
        first = self._value_at(path, ts0)
        last = self._value_at(path, ts1)
        head = [] if first is None else [(ts0, first)]
        tail = [] if last is None else [(ts1, last)]
        return head + points + tail

    @staticmethod
    def _value_at(path: _SymbolPath, ts: float) -> float | None:
        i = bisect_right(path.starts, ts) - 1
        if i < 0:
            return path.prev_close
        return _value(path.verts[i], ts - path.starts[i])

    def path_extremes(
        self, symbol: str, t0: datetime, t1: datetime
    ) -> tuple[float, float] | None:
        """(low, high) of the price path over (t0, t1], or None when no bar falls in it."""
        lo = hi = None
        for _, _, _, seg_lo, seg_hi in self.segments(symbol, t0, t1):
            lo = seg_lo if lo is None else min(lo, seg_lo)
            hi = seg_hi if hi is None else max(hi, seg_hi)
        if lo is None or hi is None:
            price = self.price_at(symbol, t1)
            return None if price is None else (price, price)
        return lo, hi

    # ----------------------------------------------------------------- finer than the bars

    def path_for(self, symbol: str, day: date) -> _SymbolPath | None:
        """The documented intra-bar path of `symbol` on `day` (today's replay, or built from the
        source for any other session it holds)."""
        symbol = symbol.upper()
        if day == self.day and symbol in self._paths:
            return self._paths[symbol]
        key = (symbol, day)
        path = self._other_paths.get(key)
        if path is None:
            bars = self.source.session_bars(symbol, day)
            if not bars:
                return None
            if len(self._other_paths) > 64:
                self._other_paths.clear()
            path = self._other_paths[key] = _SymbolPath(bars, None)
        return path

    def partial_bar(self, symbol: str, now: datetime) -> Bar | None:
        """Today's bar in progress at `now`, as far as it got (on the grid), or None between bars.

        Volume is the bar's volume pro rata of the elapsed time (the data has no finer volume).
        """
        path = self._paths.get(symbol.upper())
        if path is None:
            return None
        ts = now.timestamp()
        i = bisect_right(path.starts, ts) - 1
        if i < 0 or ts >= path.ends[i] or ts <= path.starts[i]:
            return None
        bar, start = path.bars[i], path.starts[i]
        _, _, _, lo, hi = _segment(path.verts[i], start, 0.0, ts - start)
        o, c = to_tick(bar.open), to_tick(_value(path.verts[i], ts - start))
        volume = float(int(bar.volume * (ts - start) / bar.seconds))
        return Bar(bar.symbol, bar.start, o, max(to_tick(hi), o, c), min(to_tick(lo), o, c), c,
                   volume, bar.seconds)

    def seconds_bars(self, symbol: str, day: date, seconds: int, t0: float, t1: float) -> list[Bar]:
        """`seconds`-long bars (a divisor of 60) from the path, completed within [t0, t1] (epoch):
        open/close are the path's prices at the window's ends, high/low its extremes, all on the
        grid; each minute's volume is split evenly in whole shares (the first windows get the
        remainder), so the windows of a minute add up to its volume."""
        path = self.path_for(symbol, day)
        if path is None:
            return []
        out: list[Bar] = []
        per_minute = 60 // seconds
        for bar, start, end, verts in zip(path.bars, path.starts, path.ends, path.verts, strict=True):
            if end <= t0 or start >= t1:
                continue
            pieces = int(bar.seconds // seconds)
            base, extra = divmod(int(round(bar.volume)), pieces)
            for k in range(pieces):
                ws, we = start + k * seconds, start + (k + 1) * seconds
                if ws < t0 or we > t1:
                    continue
                _, _, first, lo, hi = _segment(verts, start, k * seconds, (k + 1) * seconds - 1e-6)
                o, c = to_tick(first), to_tick(_value(verts, (k + 1) * seconds - 1e-6))
                volume = float(base + (1 if k % per_minute < extra else 0))
                out.append(Bar(bar.symbol, datetime.fromtimestamp(ws, tz=NY), o, max(to_tick(hi), o, c),
                               min(to_tick(lo), o, c), c, volume, seconds))
        return out
