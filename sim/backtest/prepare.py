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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import session_bounds
from trade.calendar import MarketCalendar
from trade.models import Bar
from trade.watchlist import AnalystRules, daily_atr_pct, judge

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

    @property
    def bars(self) -> int:
        """Symbol-bars of the session (what throughput is counted in)."""
        return int(self.has_bar.sum())

    def warm_bars(self, i: int) -> np.ndarray:
        return self.warm[:, self.warm_offsets[i]:self.warm_offsets[i + 1]]

    def index(self, symbols: Sequence[str]) -> np.ndarray:
        where = {s: i for i, s in enumerate(self.symbols)}
        return np.array([where[s] for s in symbols], dtype=np.int64)


def prepare_day(source: BarSource, day: date, symbols: Sequence[str]) -> DayBatch | None:
    """The batch of `day` for those of `symbols` that have bars that day (None: none has)."""
    present = [s for s in symbols if day in set(source.sessions(s))]
    if not present:
        return None
    opened, _ = session_bounds(day)
    replay = MarketReplay(source, ReplayClock(opened), day, present)
    session = _CALENDAR.session(day)
    minutes = session.minutes
    n = len(present)
    judged = np.zeros(n, dtype=np.bool_)
    daily = np.full(n, np.nan)
    daily_stat = np.full(n, np.nan)
    prev_close = np.full(n, np.nan)
    has_bar = np.zeros((n, minutes), dtype=np.bool_)
    gap = np.zeros((n, minutes), dtype=np.bool_)
    grid = {k: np.full((n, minutes), np.nan) for k in ("open", "high", "low", "close", "volume")}
    warm_parts: list[np.ndarray] = []
    offsets = [0]
    before_open = opened - timedelta(seconds=1)
    for i, symbol in enumerate(present):
        history = replay.history(symbol, opened, _RULES.history_duration, "1 min")
        verdict = judge(symbol, history, _RULES)
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
    return DayBatch(
        day=day, open_at=opened, minutes=minutes,
        flatten=_minute(session.flatten_at, opened), cutoff=_minute(session.entry_cutoff, opened),
        symbols=tuple(present), judged=judged, daily_atr=daily, daily_atr_stat=daily_stat,
        prev_close=prev_close, has_bar=has_bar, gap=gap, **grid,
        warm_offsets=np.array(offsets, dtype=np.int64),
        warm=np.concatenate(warm_parts, axis=1) if warm_parts else np.zeros((4, 0)),
    )


def _columns(bars: Sequence[Bar]) -> np.ndarray:
    out = np.empty((4, len(bars)))
    for j, bar in enumerate(bars):
        out[0, j], out[1, j], out[2, j], out[3, j] = bar.high, bar.low, bar.close, bar.volume
    return out


def _minute(moment: datetime, opened: datetime) -> int:
    return int((moment - opened).total_seconds()) // 60
