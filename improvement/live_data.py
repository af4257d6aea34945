"""Replay data for a live night: the bot's own recorded minute bars plus IB history, cached in
the history DB (`minute_bars`), as a `BarSource` the replayers read.

Why: on a real account there is no data folder of recent sessions. The trader records the
minute bars it traded on (trade/intraday/day_end.py); after the close, while still connected,
`fetch_history` asks IB for the last `LOOKBACK_SESSIONS` sessions of 1-minute bars per symbol
(one request each, through the adapter's pacer: IB allows at most 60 historical requests in
any ten minutes and six for one contract within two seconds, see
https://interactivebrokers.github.io/tws-api/historical_limitations.html; `IBMarketData.history`
waits for `SlidingWindowPacer` and retries a pacing violation, error 162). `store_history`
upserts them into `minute_bars` (idempotent on symbol and bar start), so a night whose request
fails still has what earlier nights cached. `RecordedBars` serves the stored sessions; a session
with fewer than 90% of its minutes is treated as missing (a half-recorded day would replay a
different market), and the gate reports the window it could fill ("data for 12 of 20
sessions") and decides nothing when a part is too short.

Daily bars (the analyst's daily ATR screen) are the stored sessions aggregated, as the
simulator does for days past its daily file. `SIM_DATA_DIR` is for simulated runs only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from observability.history import HistoryDB
from sim.market.history import session_to_daily
from sim.market.sessions import NY, session_bounds
from trade.broker import Broker, BrokerError
from trade.calendar import MarketCalendar
from trade.models import Bar

log = logging.getLogger(__name__)

# the gate's 20 sessions + the analyst's 5-session warm-up + 15 for the daily ATR(14) screen
LOOKBACK_SESSIONS = 40
HISTORY_TIMEOUT_S = 60.0
COMPLETE = 0.9  # share of a session's minutes a stored session needs to count


async def fetch_history(broker: Broker, symbols: Sequence[str],
                        sessions: int = LOOKBACK_SESSIONS) -> dict[str, list[Bar]]:
    """The last `sessions` sessions of 1-minute bars of each symbol (an empty list where IB
    refused or timed out: logged, the night goes on with what the DB already holds)."""
    out: dict[str, list[Bar]] = {}
    try:
        known = await broker.qualify(list(symbols))
    except (BrokerError, TimeoutError) as exc:
        log.info("replay data: symbols not qualified (%s): no IB history tonight", exc)
        return out
    for symbol in symbols:
        if not known.get(symbol):
            log.info("replay data: %s is not known to the broker", symbol)
            continue
        try:
            out[symbol] = await asyncio.wait_for(
                broker.history(symbol, f"{sessions} D", "1 min"), HISTORY_TIMEOUT_S)
        except (BrokerError, TimeoutError) as exc:
            log.info("replay data: no 1-minute history of %s from the broker (%s)", symbol, exc)
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
    """A `BarSource` of the sessions `days` stored in the history DB for `symbols`."""

    def __init__(self, db_path: Path | str, symbols: Sequence[str], days: Sequence[date]) -> None:
        self._symbols = [s.upper() for s in symbols]
        self._bars: dict[tuple[str, date], list[Bar]] = {}
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
               sessions: int = LOOKBACK_SESSIONS) -> RecordedBars:
        """The contiguous `sessions` sessions ending at `day`."""
        calendar = MarketCalendar()
        days = [day]
        while len(days) < sessions:
            days.append(calendar.previous_session(days[-1]).date)
        return cls(db_path, symbols, days[::-1])

    def symbols(self) -> list[str]:
        return list(self._symbols)

    def sessions(self, symbol: str) -> list[date]:
        return sorted(d for s, d in self._bars if s == symbol.upper())

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        return list(self._bars.get((symbol.upper(), day), []))

    def daily_bars(self, symbol: str) -> list[Bar]:
        out = []
        for day in self.sessions(symbol):
            opened, closed = session_bounds(day)
            out.append(session_to_daily(self._bars[(symbol.upper(), day)], opened, closed))
        return out
