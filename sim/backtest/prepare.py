"""One session's market, prepared once as arrays for the fast engine (and shipped to workers).

Everything here is computed by the code the live day runs, over the same `MarketReplay` the
event engine trades on (prices on the tick grid): the pre-market analyst's 1-minute history
("5 D", `trade.watchlist.judge`), its daily ATR screen value (`daily_atr_pct` over "1 Y" of daily
bars), the warm-up bars (the analyst's bars, as `day_session` hands them to the trader) and the
session's bars on a minute grid. Only what depends on parameters (the daily screen's threshold,
the indicator periods, the rules) is left to the fast engine, so one `DayBatch` serves every
parameter set of a sweep.

`gap[i, m]` marks the bars `BarFeed` holds back for a history backfill (a bar that does not
follow the previous one: a missing minute in the data, or a first bar after the 09:30 minute):
the live trader decides on those after the minute's other bars (and after its account refresh),
in a supervised job, and the fast engine keeps that order.
"""

from __future__ import annotations

import math
import uuid
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from sim.backtest.bars import BarStore, SessionBars
from sim.market.clock import ReplayClock
from sim.market.history import calendar_cutoff
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import previous_sessions, session_bounds, sessions_between
from trade.calendar import MarketCalendar, Session
from trade.indicators import atr as wilder_atr
from trade.models import Bar
from trade.watchlist import AnalystRules, _fresh, daily_atr_pct, judge

_CALENDAR = MarketCalendar()
_RULES = AnalystRules()


@dataclass(frozen=True, slots=True)
class DayBatch:
    """One session of `symbols` (subscription order: the order the trader is given them)."""

    day: date
    open_at: datetime
    minutes: int  # session length: 390, or 210 on a half day
    flatten: int  # minute boundary of the flatten (close - 5 min)
    cutoff: int  # first minute boundary at which no entry is allowed (close - 30 min)
    symbols: tuple[str, ...]
    judged: np.ndarray  # bool[n]: the analyst's data/liquidity/range verdict
    daily_atr: np.ndarray  # float[n]: daily ATR% (NaN unknown): what the screen compares
    daily_atr_stat: np.ndarray  # float[n]: the same rounded to 8 decimals: what the trader gets
    prev_close: np.ndarray  # float[n]: the price before the first bar
    has_bar: np.ndarray  # bool[n, M]
    gap: np.ndarray  # bool[n, M]
    open: np.ndarray  # float[n, M] (NaN where no bar)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    warm_offsets: np.ndarray  # int[n + 1]: symbol i's warm-up bars are warm[:, off[i]:off[i+1]]
    warm: np.ndarray  # float[4, W]: high, low, close, volume of every symbol's warm-up bars
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # identity for caches

    @property
    def bars(self) -> int:
        """Symbol-bars of the session (what throughput is counted in)."""
        return int(self.has_bar.sum())

    def warm_bars(self, i: int) -> np.ndarray:
        return self.warm[:, self.warm_offsets[i]:self.warm_offsets[i + 1]]

    def index(self, symbols: Sequence[str]) -> np.ndarray:
        where = {s: i for i, s in enumerate(self.symbols)}
        return np.array([where[s] for s in symbols], dtype=np.int64)


def prepare_day(store: BarStore, day: date, symbols: Sequence[str]) -> DayBatch | None:
    """The batch of `day` for those of `symbols` that have bars that day (None: none has).

    Equal, array for array, to `prepare_day_reference` (the replay's own history): the warm-up
    is the session files among the last 5 trading days before `day` (IB's "5 D": a day the data
    lacks is a gap, never an older session), the analyst's figures aggregate
    theirs (and a symbol whose latest bar predates the previous NYSE session is dropped as
    stale), the daily bars are the daily file's completed sessions within a year plus the
    session files after it (`MarketReplay._daily_history`), the price before the open is the
    previous trading day's close when the data holds that day (`MarketReplay._previous_close`)."""
    present = [s for s in symbols if _has_session(store.sessions(s), day)]
    if not present:
        return None
    opened, _ = session_bounds(day)
    session = _CALENDAR.session(day)
    previous = _CALENDAR.previous_session(day).date
    minutes = session.minutes
    b = _Arrays.empty(len(present), minutes)
    judged, daily, daily_stat, prev_close = b.judged, b.daily, b.daily_stat, b.prev_close
    has_bar, gap, grid, warm_parts, offsets = b.has_bar, b.gap, b.grid, b.warm_parts, b.offsets
    year_ago = calendar_cutoff(opened, 1, "Y").timestamp()
    sessions = int(_RULES.history_duration.split()[0])
    for i, symbol in enumerate(present):
        days = store.sessions(symbol)
        earlier = days[:bisect_left(days, day)]
        window = _last_trading_days(day, sessions, earlier)
        history = [h for h in (store.session(symbol, d) for d in earlier if d in window) if h.size]
        judged[i] = _judge(history) and history[-1].day >= previous  # `watchlist._fresh`
        if judged[i]:
            value = _daily_atr(store, symbol, day, earlier, year_ago)
            daily[i] = value
            daily_stat[i] = round(value, 8) if value == value else math.nan
        warm = np.empty((4, sum(h.size for h in history)))
        at = 0
        for h in history:
            warm[:, at:at + h.size] = (h.high, h.low, h.close, h.volume)
            at += h.size
        warm_parts.append(warm)
        offsets.append(offsets[-1] + at)
        today = store.session(symbol, day)
        prev_close[i] = _previous_close(store, symbol, day, earlier, today)
        m = today.minute
        if m.size and (m[0] < 0 or m[-1] >= minutes):
            raise ValueError(f"{symbol} {day}: a bar lies outside the session: fix the data file")
        has_bar[i, m] = True
        for key in grid:
            grid[key][i, m] = getattr(today, key)
        if m.size:
            steps = np.diff(m)
            gap[i, m[1:]] = steps > 1
            gap[i, m[0]] = bool(history) and m[0] > 0
    return b.batch(day, opened, session, present)


def _has_session(days: list[date], day: date) -> bool:
    i = bisect_left(days, day)
    return i < len(days) and days[i] == day


def _judge(history: list[SessionBars]) -> bool:
    """`trade.watchlist.judge`'s verdict (kept or not) from the sessions' own figures."""
    if len(history) < _RULES.min_sessions:
        return False
    dollar_volumes = [h.dollar_volume for h in history]
    ranges = [(h.high_max - h.low_min) / h.close[-1] for h in history if h.close[-1] > 0]
    dollar_volume = sum(dollar_volumes) / len(dollar_volumes)
    avg_range = sum(ranges) / len(ranges) if ranges else 0.0
    if not math.isfinite(dollar_volume) or dollar_volume < _RULES.min_avg_dollar_volume:
        return False
    return not avg_range < _RULES.min_daily_range_pct


def _daily_atr(store: BarStore, symbol: str, day: date, earlier: list[date],
               year_ago: float) -> float:
    """`trade.watchlist.daily_atr_pct` over the replay's "1 Y" of daily bars at the open."""
    file = store.daily_file(symbol)
    done = bisect_left(file.days, day)  # the file's sessions completed before today
    starts = list(file.start[:done])
    highs, lows, closes = list(file.high[:done]), list(file.low[:done]), list(file.close[:done])
    have = set(file.days[max(0, done - 5):done])
    last = file.days[done - 1] if done else None
    for d in earlier:
        if d in have or (last is not None and d < last):
            continue
        bars = store.session(symbol, d)
        if bars.size:
            starts.append(session_bounds(d)[0].timestamp())
            highs.append(bars.high_max)
            lows.append(bars.low_min)
            closes.append(float(bars.close[-1]))
    keep = [j for j, start in enumerate(starts) if start >= year_ago]
    period = _RULES.atr_period
    if len(keep) < period + 1:
        return math.nan
    high = pd.Series([float(highs[j]) for j in keep])
    low = pd.Series([float(lows[j]) for j in keep])
    close = pd.Series([float(closes[j]) for j in keep])
    return float(wilder_atr(high, low, close, period).iloc[-1]) / float(close.iloc[-1])


def _last_trading_days(day: date, n: int, held: list[date]) -> set[date]:
    """The last `n` trading days before `day` (NYSE sessions and any day the data holds), as
    `MarketReplay._last_trading_days` counts them at the open."""
    first = day - timedelta(days=int(n * 1.6) + 10)
    days = set(sessions_between(first, day - timedelta(days=1))) | {d for d in held if first <= d < day}
    return set(sorted(days)[-n:])


def _previous_close(store: BarStore, symbol: str, day: date, earlier: list[date],
                    today: SessionBars) -> float:
    prior = previous_sessions(day, 1)
    if prior and earlier and earlier[-1] == prior[-1]:
        last = store.session(symbol, prior[-1])
        if last.size:
            return float(last.close[-1])
    file = store.daily_file(symbol)
    done = bisect_left(file.days, day)
    if prior and done and file.days[done - 1] == prior[-1]:
        return float(file.close[done - 1])
    return float(today.open[0]) if today.size else math.nan


def prepare_day_reference(source: BarSource, day: date,
                          symbols: Sequence[str]) -> DayBatch | None:
    """The batch of `day` for those of `symbols` that have bars that day (None: none has),
    straight from the replay's history, as the live trader's analyst reads it. The reference
    `prepare_day` is tested against; slower (it rebuilds `Bar` lists for every session)."""
    present = [s for s in symbols if day in set(source.sessions(s))]
    if not present:
        return None
    opened, _ = session_bounds(day)
    replay = MarketReplay(source, ReplayClock(opened), day, present)
    session = _CALENDAR.session(day)
    previous = _CALENDAR.previous_session(day).date
    minutes = session.minutes
    b = _Arrays.empty(len(present), minutes)
    judged, daily, daily_stat, prev_close = b.judged, b.daily, b.daily_stat, b.prev_close
    has_bar, gap, grid, warm_parts, offsets = b.has_bar, b.gap, b.grid, b.warm_parts, b.offsets
    before_open = opened - timedelta(seconds=1)
    for i, symbol in enumerate(present):
        history = replay.history(symbol, opened, _RULES.history_duration, "1 min")
        verdict = _fresh(judge(symbol, history, _RULES), previous)
        judged[i] = verdict.kept
        if verdict.kept:
            value, _ = daily_atr_pct(replay.history(symbol, opened, _RULES.daily_duration, "1 day"),
                                     day, _RULES.atr_period)
            daily[i] = value
            daily_stat[i] = round(value, 8) if value == value else math.nan
        warm = [b for b in history if b.end <= opened]
        warm_parts.append(_columns(warm))
        offsets.append(offsets[-1] + len(warm))
        prev_close[i] = replay.price_at(symbol, before_open) or math.nan
        last_start = warm[-1].start if warm else None
        for bar in replay.bars(symbol):
            m = int((bar.start - opened).total_seconds()) // 60
            if not 0 <= m < minutes or bar.seconds != 60:
                raise ValueError(f"{symbol} {day}: bar at {bar.start:%H:%M} ({bar.seconds}s) is "
                                 "not a 1-minute bar of the session: fix the data file")
            has_bar[i, m] = True
            for key in grid:
                grid[key][i, m] = getattr(bar, key)
            if last_start is not None:
                if last_start.date() == bar.start.date():
                    gap[i, m] = (bar.start - last_start) > timedelta(minutes=1)
                else:
                    gap[i, m] = bar.start > opened
            last_start = bar.start
    return b.batch(day, opened, session, present)


@dataclass(slots=True)
class _Arrays:
    """A day batch's arrays while both preparations fill them, symbol by symbol."""

    judged: np.ndarray
    daily: np.ndarray
    daily_stat: np.ndarray
    prev_close: np.ndarray
    has_bar: np.ndarray
    gap: np.ndarray
    grid: dict[str, np.ndarray]
    warm_parts: list[np.ndarray] = field(default_factory=list)
    offsets: list[int] = field(default_factory=lambda: [0])

    @classmethod
    def empty(cls, n: int, minutes: int) -> _Arrays:
        return cls(np.zeros(n, dtype=np.bool_), np.full(n, np.nan), np.full(n, np.nan),
                   np.full(n, np.nan), np.zeros((n, minutes), dtype=np.bool_),
                   np.zeros((n, minutes), dtype=np.bool_),
                   {k: np.full((n, minutes), np.nan) for k in ("open", "high", "low", "close", "volume")})

    def batch(self, day: date, opened: datetime, session: Session, symbols: Sequence[str]) -> DayBatch:
        return DayBatch(
            day=day, open_at=opened, minutes=self.has_bar.shape[1],
            flatten=_minute(session.flatten_at, opened), cutoff=_minute(session.entry_cutoff, opened),
            symbols=tuple(symbols), judged=self.judged, daily_atr=self.daily,
            daily_atr_stat=self.daily_stat, prev_close=self.prev_close, has_bar=self.has_bar,
            gap=self.gap, open=self.grid["open"], high=self.grid["high"], low=self.grid["low"],
            close=self.grid["close"], volume=self.grid["volume"],
            warm_offsets=np.array(self.offsets, dtype=np.int64),
            warm=np.concatenate(self.warm_parts, axis=1) if self.warm_parts else np.zeros((4, 0)),
        )


def _columns(bars: Sequence[Bar]) -> np.ndarray:
    out = np.empty((4, len(bars)))
    for j, bar in enumerate(bars):
        out[0, j], out[1, j], out[2, j], out[3, j] = bar.high, bar.low, bar.close, bar.volume
    return out


def _minute(moment: datetime, opened: datetime) -> int:
    return int((moment - opened).total_seconds()) // 60
