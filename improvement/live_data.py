"""Replay data for a live night: the bot's own recorded minute bars plus IB history, cached in
the history DB (`minute_bars`), as a `BarSource` the replayers read.

Why: on a real account there is no data folder of recent sessions. The trader records the
minute bars it traded on (trade/intraday/day_end.py); after the close, while still connected,
`fetch_history` asks IB, per watchlist symbol, for the last 5 sessions of 1-minute bars (the
size the pre-market analyst asks for every morning: IB is known to cancel longer 1-minute
requests, error 162 "API historical data query cancelled", as reported in erdewit/ib_insync#268)
and for a year of daily bars (the analyst's daily ATR screen). The requests go through the
adapter's pacer (IB allows at most 60 historical requests in any ten minutes and six for one
contract within two seconds, https://interactivebrokers.github.io/tws-api/historical_limitations.html;
`IBMarketData.history` waits for `SlidingWindowPacer` and retries a pacing violation, 162).
`store_history` upserts the minutes into `minute_bars` (idempotent on symbol and bar start), so
the cache grows night by night and a night whose requests fail still has what earlier nights
cached: a new account's window fills within its first weeks, and until then the gate says
"data for 12 of 20 sessions" and decides nothing. `RecordedBars` serves the stored sessions; a
session with fewer than 90% of its minutes is treated as missing (a half-recorded day would
replay a different market). Its daily bars are IB's, with the stored sessions aggregated where
IB's are missing. The market data directory (`MARKET_DATA_DIR`) serves simulated nights only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from observability.history import HistoryDB
from sim.market.history import session_to_daily
from sim.market.sessions import NY, session_bounds
from trade.broker import Broker, BrokerError
from trade.calendar import MarketCalendar
from trade.models import Bar

log = logging.getLogger(__name__)

# the sessions read from the cache: the gate's 20, the analyst's 5-session warm-up, a margin
LOOKBACK_SESSIONS = 26
MINUTE_HISTORY = "5 D"
DAILY_HISTORY = "1 Y"
HISTORY_TIMEOUT_S = 60.0
COMPLETE = 0.9  # share of a session's minutes a stored session needs to count


@dataclass
class Fetched:
    """What IB gave tonight: recent 1-minute bars and a year of daily bars, per symbol."""

    minutes: dict[str, list[Bar]] = field(default_factory=dict)
    daily: dict[str, list[Bar]] = field(default_factory=dict)


async def fetch_history(broker: Broker, symbols: Sequence[str],
                        minutes: str = MINUTE_HISTORY) -> Fetched:
    """Each symbol's recent 1-minute bars and daily bars (nothing where IB refused or timed
    out: logged, the night goes on with what the DB already holds)."""
    out = Fetched()
    try:
        known = await broker.qualify(list(symbols))
    except (BrokerError, TimeoutError) as exc:
        log.info("replay data: symbols not qualified (%s): no IB history tonight", exc)
        return out
    for symbol in symbols:
        if not known.get(symbol):
            log.info("replay data: %s is not known to the broker", symbol)
            continue
        for duration, size, into in ((minutes, "1 min", out.minutes),
                                     (DAILY_HISTORY, "1 day", out.daily)):
            try:
                into[symbol] = await asyncio.wait_for(broker.history(symbol, duration, size),
                                                      HISTORY_TIMEOUT_S)
            except (BrokerError, TimeoutError) as exc:
                log.info("replay data: no %s history of %s from the broker (%s)", size, symbol,
                         exc)
    return out


def store_history(db_path: Path | str, bars: Mapping[str, Sequence[Bar]]) -> int:
    """Cache fetched bars in `minute_bars`, one write per session; returns the bars stored."""
    by_day: dict[date, list[Bar]] = {}
    for series in bars.values():
        for bar in series:
            by_day.setdefault(bar.start.astimezone(NY).date(), []).append(bar)
    with HistoryDB.open(db_path) as db:
        for day, day_bars in sorted(by_day.items()):
            db.record_minute_bars(day, day_bars)
    return sum(len(b) for b in by_day.values())


class RecordedBars:
    """A `BarSource` of the sessions `days` stored in the history DB for `symbols`, with the
    broker's daily bars where given."""

    def __init__(self, db_path: Path | str, symbols: Sequence[str], days: Sequence[date],
                 daily: Mapping[str, Sequence[Bar]] | None = None) -> None:
        self._symbols = [s.upper() for s in symbols]
        self._bars: dict[tuple[str, date], list[Bar]] = {}
        self._daily = {k.upper(): list(v) for k, v in (daily or {}).items()}
        with HistoryDB.open(db_path) as db:
            for day in days:
                opened, closed = session_bounds(day)
                minutes = (closed - opened).total_seconds() / 60.0
                for symbol in self._symbols:
                    rows = [r for r in db.minute_bars(day, symbol) if opened <= r.start < closed]
                    if len(rows) >= COMPLETE * minutes:
                        self._bars[(symbol, day)] = [
                            Bar(symbol, r.start, r.open, r.high, r.low, r.close, r.volume)
                            for r in rows]

    @classmethod
    def window(cls, db_path: Path | str, symbols: Sequence[str], day: date,
               sessions: int = LOOKBACK_SESSIONS,
               daily: Mapping[str, Sequence[Bar]] | None = None) -> RecordedBars:
        """The contiguous `sessions` sessions ending at `day`."""
        calendar = MarketCalendar()
        days = [day]
        while len(days) < sessions:
            days.append(calendar.previous_session(days[-1]).date)
        return cls(db_path, symbols, days[::-1], daily)

    def symbols(self) -> list[str]:
        return list(self._symbols)

    def sessions(self, symbol: str) -> list[date]:
        return sorted(d for s, d in self._bars if s == symbol.upper())

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        return list(self._bars.get((symbol.upper(), day), []))

    def daily_bars(self, symbol: str) -> list[Bar]:
        """The broker's daily bars, and a stored session aggregated where it has none."""
        by_day = {b.start.astimezone(NY).date(): b for b in self._daily.get(symbol.upper(), [])}
        for day in self.sessions(symbol):
            if day not in by_day:
                opened, closed = session_bounds(day)
                by_day[day] = session_to_daily(self._bars[(symbol.upper(), day)], opened, closed)
        return [by_day[d] for d in sorted(by_day)]
