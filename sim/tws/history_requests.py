"""reqHistoricalData as a real Gateway answers it, over the replay's history.

On top of the replay's completed bars (`sim/market/replay_history.py`):
- the bar in progress is included as the last bar when the request ends now (endDateTime "" or
  keepUpToDate), for intraday sizes and for "1 day", as IB does (for "N D" of daily bars, today
  is then one of the N days);
- bar sizes of seconds (1, 5, 10, 15, 30 secs) come from the documented intra-bar path, within
  IB's duration limits for them (beyond: 162 "Time length exceed max.");
- "1 week" and "1 month" bars are aggregated from the daily bars (dated by their first session);
- whatToShow TRADES and ADJUSTED_LAST give the trade bars; MIDPOINT, BID, ASK and BID_ASK the
  quotes around them (the simulator's spread, `sim/market/ticks.quote`) with volume -1 as IB
  reports for quote bars (BID_ASK: open = bid at the open, high = highest ask, low = lowest bid,
  close = ask at the close); other types get 162 "No data of type ...";
- a request whose window holds no bar of the data gets IB's 162 "HMDS query returned no data:
  <SYM>@<exchange> <type>" (IB's wording for an empty answer) instead of bars of another date;
- useRTH=0 labels intraday bars on the clock (`sim/market/replay_history.py`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sim.market.history import aggregate, parse_duration, session_to_daily
from sim.market.sessions import NY, session_bounds
from sim.market.ticks import quote
from trade.models import Bar

SECONDS_LIMITS = {1: 1800, 5: 3600, 10: 14400, 15: 14400, 30: 28800}  # bar size -> max duration (s)
RTH_SECONDS = 23_400
QUOTE_TYPES = frozenset({"MIDPOINT", "BID", "ASK", "BID_ASK"})
TRADE_TYPES = frozenset({"TRADES", "ADJUSTED_LAST"})
_SIZE = re.compile(r"^\s*(\d+)\s*(secs?|mins?|hours?|days?|weeks?|W|months?|M)\s*$", re.IGNORECASE)


class HistoryRequestError(ValueError):
    """A request IB would refuse: `code` (162 or 321) and its text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


def bar_unit(bar_size: str) -> tuple[int, str]:
    """`"30 secs"` -> (30, "secs"); units secs, mins, hours, days, weeks, months."""
    match = _SIZE.match(bar_size or "")
    if match is None:
        raise HistoryRequestError(321, f"Error validating request.-'bP' : cause - bar size {bar_size!r}: "
                                  "use e.g. '30 secs', '1 min', '5 mins', '1 hour', '1 day', '1 week'")
    n, unit = int(match[1]), match[2].lower()
    for name in ("sec", "min", "hour", "day", "week", "month"):
        if unit.startswith(name):
            return n, name + "s"
    return n, "weeks" if unit == "w" else "months"


def serve(replay: Any, symbol: str, end: datetime, duration: str, bar_size: str,
          what_to_show: str, include_partial: bool, now: datetime, use_rth: bool = True,
          exchange: str = "SMART") -> list[Bar]:
    """The bars a real Gateway would return (raises HistoryRequestError for a refusal)."""
    what = (what_to_show or "TRADES").upper()
    if what not in TRADE_TYPES | QUOTE_TYPES:
        raise HistoryRequestError(162, f"Historical Market Data Service error message:No data of type {what} "
                                  "is available for this contract in the simulator")
    n, unit = bar_unit(bar_size)
    try:
        if unit == "secs":
            bars = _seconds_bars(replay, symbol, end, duration, n)
        elif unit in ("weeks", "months"):
            bars = _calendar_bars(replay, symbol, end, duration, unit, include_partial, now)
        else:
            bars = replay.history(symbol, end, duration, bar_size, use_rth)
            if include_partial:
                size = 86_400 if unit == "days" else _seconds(n, unit)
                partial = _partial(replay, symbol, now, bars, size, use_rth)
                count, span = parse_duration(duration)
                if partial and unit == "days" and span == "D":
                    bars = replay.history(symbol, end, f"{count - 1} D", bar_size, use_rth) if count > 1 else []
                bars += partial
    except ValueError as exc:
        if isinstance(exc, HistoryRequestError):
            raise
        raise HistoryRequestError(162, f"Historical Market Data Service error message:{exc}") from exc
    if not bars:
        raise no_data(symbol, exchange, what)
    return [quote_bar(b, what) for b in bars] if what in QUOTE_TYPES else bars


def no_data(symbol: str, exchange: str, what: str) -> HistoryRequestError:
    """IB's answer to a window without a bar: 162 "HMDS query returned no data: SPY@SMART Trades"
    (the wording IB's historical data farm uses; ib_async ends the request with no bars)."""
    kind = " ".join(w.capitalize() for w in what.split("_"))
    return HistoryRequestError(162, "Historical Market Data Service error message:HMDS query returned "
                               f"no data: {symbol.upper()}@{exchange or 'SMART'} {kind}")


def _seconds(n: int, unit: str) -> int:
    return n * {"mins": 60, "hours": 3600}[unit]


def _seconds_bars(replay: Any, symbol: str, end: datetime, duration: str, size: int) -> list[Bar]:
    if size not in SECONDS_LIMITS:
        raise HistoryRequestError(321, f"Error validating request.-'bP' : cause - {size} secs is not a bar "
                                  "size: use 1, 5, 10, 15 or 30 secs")
    n, unit = parse_duration(duration)
    span = n if unit == "S" else n * RTH_SECONDS if unit == "D" else None
    if span is None or span > SECONDS_LIMITS[size]:
        raise HistoryRequestError(162, "Historical Market Data Service error message:Time length exceed max.")
    if unit == "D":
        days = replay._days_with_bars(symbol.upper(), end, sessions=n)
    else:
        days = [d for d in replay._days_with_bars(symbol.upper(), end)
                if session_bounds(d)[1].timestamp() > end.timestamp() - span]
    t0 = 0.0 if unit == "D" else end.timestamp() - span
    out: list[Bar] = []
    for day in days:
        out += replay.seconds_bars(symbol, day, size, t0, end.timestamp())
    return out


def _partial(replay: Any, symbol: str, now: datetime, bars: list[Bar], size: int,
             use_rth: bool = True) -> list[Bar]:
    """The `size`-second bucket in progress at `now` (today, replayed symbols), or nothing."""
    current = replay.partial_bar(symbol, now)
    opened, closed = replay.session_open, replay.session_close
    if not opened < now < closed:
        return []
    if size >= 86_400:
        minutes = [*replay.completed_bars(symbol, now), *([current] if current else [])]
        if not minutes or (bars and bars[-1].start.date() == now.date()):
            return []
        return [session_to_daily(minutes, opened, closed)]
    midnight = opened.replace(hour=0, minute=0, second=0, microsecond=0)
    bucket = midnight + timedelta(seconds=(int((now - midnight).total_seconds()) // size) * size)
    minutes = [b for b in replay.completed_bars(symbol, now) if b.start >= bucket]
    minutes += [current] if current else []
    if not minutes or (bars and bars[-1].start >= (max(bucket, opened) if use_rth else bucket)):
        return []
    return aggregate(minutes, size, opened, closed, clip=use_rth)[-1:] if size > 60 else minutes[-1:]


def _calendar_bars(replay: Any, symbol: str, end: datetime, duration: str, unit: str,
                   include_partial: bool, now: datetime) -> list[Bar]:
    daily = replay.history(symbol, end, duration, "1 day")
    if include_partial:
        daily += _partial(replay, symbol, now, daily, 86_400)
    groups: dict[tuple[int, ...], list[Bar]] = {}
    for bar in daily:
        day = bar.start.astimezone(NY).date()
        key = tuple(day.isocalendar()[:2]) if unit == "weeks" else (day.year, day.month)
        groups.setdefault(key, []).append(bar)
    out = []
    for group in groups.values():
        first, last = group[0], group[-1]
        out.append(Bar(first.symbol, first.start, first.open, max(b.high for b in group),
                       min(b.low for b in group), last.close, sum(b.volume for b in group),
                       int((last.end - first.start).total_seconds())))
    return out


def quote_bar(bar: Bar, what: str) -> Bar:
    """A trade bar as the quote bar IB would report for `what` (volume -1)."""
    bid_o, ask_o = quote(bar.open)
    bid_h, ask_h = quote(bar.high)
    bid_l, ask_l = quote(bar.low)
    bid_c, ask_c = quote(bar.close)
    if what == "BID":
        o, h, lo, c = bid_o, bid_h, bid_l, bid_c
    elif what == "ASK":
        o, h, lo, c = ask_o, ask_h, ask_l, ask_c
    elif what == "BID_ASK":
        o, h, lo, c = bid_o, ask_h, bid_l, ask_c
    else:  # MIDPOINT: the last trade sits at the bid; the midpoint is the trade price here
        o, h, lo, c = bar.open, bar.high, bar.low, bar.close
    return Bar(bar.symbol, bar.start, o, max(o, h, c), min(o, lo, c), c, -1.0, bar.seconds)


def partial_bar(replay: Any, symbol: str, now: datetime, size: int, use_rth: bool = True) -> Bar | None:
    """The `size`-second bar in progress at `now`, or None (keepUpToDate's updating bar)."""
    found = _partial(replay, symbol, now, [], size, use_rth)
    return found[0] if found else None
