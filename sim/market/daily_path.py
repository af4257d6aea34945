"""A bar source for daily data: each session's minutes, modelled from its daily bar when the
shared data has no (usable) minutes for it.

Why: the weekly bot trades a universe of ~100 symbols whose shared data is daily bars
(`daily/<SYM>.csv`, mostly 2015-2020), but the matching engine fills orders along an intraday
price path. This source gives the replay a minute path for any day a daily bar exists.

THE MODEL (a convention, not a record of what traded):
- the price moves linearly from the open to the extreme nearer the open at 1/3 of the session,
  to the other extreme at 2/3, and to the close at the end; when both extremes are equally far
  from the open, the day's direction decides (up day: low first). It is the intra-bar path of
  `sim/market/replay.py` stretched over the whole session, so one convention serves both;
- the daily open, high, low and close are hit exactly and never exceeded; points in between
  are rounded to the tick (0.01 at or above $1, 0.0001 below); aggregating the minutes gives
  the daily bar back;
- the day's volume is spread U-shaped (heavy open, heavier close, quiet lunch), whole shares,
  summing exactly to the daily volume;
- it is deterministic: the same daily bar always gives the same minutes.
A smooth path has no minute-to-minute noise, so it is fine for filling a rebalancer's orders and
useless for testing an intraday strategy's signals.

Real minutes win where they exist (`intraday/<SYM>/<day>.csv`) *and* agree with the daily bar:
the shared intraday files are raw prices while the daily files are split-adjusted (AAPL 2019
trades near $170 in the minutes and near $42 in the daily file), so a day whose real first open
or last close is more than `agreement` (2%) away from its daily bar is modelled instead; history
and live prices then always tell one story.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sim.market.bar_sources import CsvBarSource
from sim.market.sessions import session_bounds
from trade.models import Bar
from trade.ticks import round_to_tick

DEFAULT_AGREEMENT = 0.02
MINUTE_SESSIONS = 10  # modelled sessions of minutes before the replayed day


def minute_path(daily: Bar, session_open: datetime, session_close: datetime) -> list[Bar]:
    """The modelled 1-minute bars of one session from its daily bar (see the module doc)."""
    minutes = max(1, int((session_close - session_open).total_seconds() // 60))
    o, h, lo, c = daily.open, daily.high, daily.low, daily.close
    to_low, to_high = o - lo, h - o
    low_first = to_low < to_high or (to_low == to_high and c >= o)
    first, second = (lo, h) if low_first else (h, lo)
    anchors = ((0.0, o), (minutes / 3.0, first), (2.0 * minutes / 3.0, second), (float(minutes), c))

    def at(t: float) -> float:
        for (t0, v0), (t1, v1) in zip(anchors, anchors[1:], strict=False):
            if t <= t1:
                if t == t1:
                    return v1
                return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1
        return c

    def point(t: float) -> float:
        exact = {t0: v for t0, v in anchors}
        if t in exact:
            return exact[t]
        return min(h, max(lo, round_to_tick(at(t))))

    volumes = _u_shaped_volumes(daily.volume, minutes)
    bars: list[Bar] = []
    for m in range(minutes):
        start_price, end_price = point(float(m)), point(float(m + 1))
        inside = [v for t, v in anchors if m < t < m + 1]
        bars.append(Bar(
            symbol=daily.symbol,
            start=session_open + timedelta(minutes=m),
            open=start_price,
            high=max(start_price, end_price, *inside),
            low=min(start_price, end_price, *inside),
            close=end_price,
            volume=float(volumes[m]),
        ))
    return bars


def _u_shaped_volumes(total: float, minutes: int) -> list[int]:
    """Whole shares per minute, U-shaped, summing exactly to `total`."""
    weights = [
        1.0 + 3.0 * math.exp(-m / 25.0) + 2.5 * math.exp(-(minutes - 1 - m) / 25.0)
        for m in range(minutes)
    ]
    scale = max(0, int(total)) / sum(weights)
    shares = [int(w * scale) for w in weights]
    shares[-1] += max(0, int(total)) - sum(shares)
    return shares


def agrees(real: Sequence[Bar], daily: Bar, tolerance: float = DEFAULT_AGREEMENT) -> bool:
    """True when real minutes start and end within `tolerance` of the daily open and close."""
    if not real or daily.open <= 0 or daily.close <= 0:
        return False
    return (abs(real[0].open / daily.open - 1.0) <= tolerance
            and abs(real[-1].close / daily.close - 1.0) <= tolerance)


class DailyPathSource:
    """A `BarSource` over the shared data: real minutes where usable, else the modelled path."""

    def __init__(self, data_dir: Path | str, symbols: Sequence[str] | None = None,
                 agreement: float = DEFAULT_AGREEMENT, *, day: date | None = None,
                 minute_sessions: int = MINUTE_SESSIONS) -> None:
        self.csv = CsvBarSource(data_dir, symbols)
        self.agreement = agreement
        self.day = day
        self.minute_sessions = minute_sessions
        self._session_bars = lru_cache(maxsize=1024)(self._build_session)
        self._daily_by_day = lru_cache(maxsize=256)(self._index_daily)
        self._sessions = lru_cache(maxsize=256)(self._list_sessions)

    def symbols(self) -> list[str]:
        return self.csv.symbols()

    def sessions(self, symbol: str) -> list[date]:
        """Days with minutes: real ones, and modelled ones for the replayed `day` and the
        `minute_sessions` before it (IB-style minute history reaches back days, not the
        decades a daily file covers: listing them all would make every minute-history request
        walk thousands of sessions). Without `day`, every day of the daily file."""
        return list(self._sessions(symbol.upper()))

    def _list_sessions(self, symbol: str) -> tuple[date, ...]:
        modelled = sorted(self._daily_by_day(symbol))
        if self.day is not None:
            upto = [d for d in modelled if d <= self.day]
            modelled = upto[-(self.minute_sessions + 1):]
        return tuple(sorted(set(modelled) | set(self.csv.sessions(symbol))))

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        return list(self._session_bars(symbol.upper(), day))

    def daily_bars(self, symbol: str) -> list[Bar]:
        return self.csv.daily_bars(symbol)

    def is_modelled(self, symbol: str, day: date) -> bool:
        """True when `day` of `symbol` is the model rather than real minutes."""
        daily = self._daily_by_day(symbol.upper()).get(day)
        return daily is not None and not agrees(self.csv.session_bars(symbol, day), daily,
                                                self.agreement)

    def _index_daily(self, symbol: str) -> dict[date, Bar]:
        return {b.start.date(): b for b in self.csv.daily_bars(symbol)}

    def _build_session(self, symbol: str, day: date) -> tuple[Bar, ...]:
        real = self.csv.session_bars(symbol, day)
        daily = self._daily_by_day(symbol).get(day)
        if daily is None or agrees(real, daily, self.agreement):
            return tuple(real)
        opened, closed = session_bounds(day)
        return tuple(minute_path(daily, opened, closed))
