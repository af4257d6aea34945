"""Market data over the replay: contract details, historical bars (+ keepUpToDate), 5-second
real-time bars, and reqMktData (handed to `sim/tws/quotes.py`). Everything is read at the replay
clock, never ahead of it. Contracts outside US stocks and ETFs get error 200 saying so
(`sim/tws/asset_classes.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sim.market.sessions import NY, ib_hours
from sim.market.ticks import to_tick
from sim.tws import asset_classes, errors, history_requests
from sim.tws import encoders as enc
from sim.tws.contracts import stock
from sim.tws.fields import ContractSpec
from sim.tws.quotes import QuoteDesk
from sim.tws.requests import (
    ContractDetailsRequest,
    HistoricalDataRequest,
    MarketDataRequest,
    RealTimeBarsRequest,
)
from sim.tws.session import BarSubscription
from sim.tws.times import ib_time
from trade.models import Bar

RTB_SECONDS = 5
PARTIAL_INTERVAL = timedelta(seconds=5)  # keepUpToDate: the bar in progress, every 5 s as IB
HOURS_DAYS = 7  # contract details list this many calendar days of hours, from the current session


def parse_end(text: str, now: datetime) -> datetime:
    """endDateTime as clients send it: "" (now), "YYYYMMDD HH:MM:SS[ zone]" or "YYYYMMDD-HH:MM:SS" (UTC)."""
    text = text.strip()
    if not text:
        return now
    zone: tzinfo = NY
    if "-" in text[8:9]:
        text, zone = text.replace("-", " ", 1), UTC
    parts = text.split(" ")
    if len(parts) >= 3:
        zone = UTC if parts[2] in ("UTC", "GMT") else ZoneInfo(parts[2])
    fmt = "%Y%m%d %H:%M:%S" if len(parts) >= 2 else "%Y%m%d"
    naive = datetime.strptime(" ".join(parts[:2]), fmt)  # noqa: DTZ007 - zone attached next
    return naive.replace(tzinfo=zone)


def wire_bar(bar: Bar, format_date: int, daily: bool) -> enc.WireBar:
    """A bar's date as IB writes it: day, week and month bars as yyyyMMdd whatever formatDate
    asks ("Note that for day bars, only yyyyMMdd format is available", TWS API "Historical Bar
    Data"; ib_async's parseIBDatetime turns 8 digits into a date); intraday bars as
    "yyyyMMdd HH:mm:ss US/Eastern" (formatDate 1) or epoch seconds (formatDate 2)."""
    if daily:
        date_str = bar.start.astimezone(NY).strftime("%Y%m%d")
    elif format_date == 2:
        date_str = str(int(bar.start.timestamp()))
    else:
        date_str = ib_time(bar.start)
    if bar.volume < 0:  # a quote bar (MIDPOINT, BID, ASK): IB sends -1 for what has no trades
        return enc.WireBar(date_str, bar.open, bar.high, bar.low, bar.close, -1, -1, -1)
    wap = round((bar.high + bar.low + bar.close) / 3, 4)
    count = max(1, int(bar.volume // 100)) if bar.volume else 0
    return enc.WireBar(date_str, bar.open, bar.high, bar.low, bar.close, bar.volume, wap, count)


class MarketFeeds:
    """Answers market-data requests and streams subscriptions as the clock moves."""

    def __init__(self, replay: Any, now: Callable[[], datetime]) -> None:
        self.replay = replay
        self._now = now
        self.pacing_next = False
        self._source_symbols: set[str] | None = None
        self._minute_volume: dict[str, dict[int, float]] = {}
        self.quotes = QuoteDesk(replay, now)

    def set_replay(self, replay: Any) -> None:
        """The next session became current: per-session volume tables start over."""
        self.replay = replay
        self._minute_volume.clear()
        self.quotes.set_replay(replay)

    def _known(self, symbol: str) -> bool:
        """Streamable: the replay has the symbol's session (or at least a previous close)."""
        return symbol.upper() in self.replay.known_symbols()

    def _defined(self, symbol: str) -> bool:
        """A contract IB would know: in the replay or anywhere in the bar source."""
        if self._known(symbol):
            return True
        if self._source_symbols is None:
            self._source_symbols = {s.upper() for s in self.replay.source.symbols()}
        return symbol.upper() in self._source_symbols

    def _not_streamable(self, session: Any, req_id: int, symbol: str) -> None:
        """354 for a real contract the replay does not stream; 200 for an unknown one."""
        if self._defined(symbol):
            session.send(enc.error(session.server_version, req_id, errors.NOT_SUBSCRIBED,
                                   errors.message(errors.NOT_SUBSCRIBED) + f" ({symbol} is not replayed today)"))
        else:
            self._no_security(session, req_id, symbol)

    def _no_security(self, session: Any, req_id: int, symbol: str) -> None:
        session.send(enc.error(session.server_version, req_id, errors.NO_SECURITY_DEFINITION,
                               asset_classes.unknown_symbol(symbol)))

    def _refused(self, session: Any, req_id: int, contract: ContractSpec) -> bool:
        """Error 200 naming the asset classes served, for a contract outside them."""
        text = asset_classes.refusal(contract)
        if text is not None:
            session.send(enc.error(session.server_version, req_id, errors.NO_SECURITY_DEFINITION, text))
        return text is not None

    # -- contract details ---------------------------------------------------------------------
    def contract_details(self, session: Any, req: ContractDetailsRequest) -> None:
        symbol = req.contract.ticker
        if self._refused(session, req.req_id, req.contract):
            return
        if not self._defined(symbol):
            self._no_security(session, req.req_id, symbol)
            return
        day = self.replay.day
        trading = ib_hours(day, HOURS_DAYS, extended=True)
        liquid = ib_hours(day, HOURS_DAYS, extended=False)
        session.send(enc.contract_details(session.server_version, req.req_id, stock(symbol), trading, liquid))
        session.send(enc.contract_details_end(req.req_id))

    # -- historical data --------------------------------------------------------------------
    def historical(self, session: Any, req: HistoricalDataRequest) -> None:
        """IB semantics in `sim/tws/history_requests.py`: the bar in progress when the request
        ends now, seconds/week/month sizes, quote bars; symbols not replayed from the data."""
        sv = session.server_version
        symbol = req.contract.ticker
        if self.pacing_next:
            self.pacing_next = False
            session.send(enc.error(sv, req.req_id, errors.HISTORICAL_DATA_ERROR,
                                   errors.message(errors.HISTORICAL_DATA_ERROR)))
            return
        if self._refused(session, req.req_id, req.contract):
            return
        if not self._defined(symbol):
            self._no_security(session, req.req_id, symbol)
            return
        now = self._now()
        try:
            end = now if req.keep_up_to_date else min(parse_end(req.end, now), now)
            to_now = req.keep_up_to_date or not req.end.strip()
            bars = history_requests.serve(self.replay, symbol, end, req.duration, req.bar_size,
                                          req.what_to_show, to_now, now, req.use_rth,
                                          req.contract.exchange)
        except history_requests.HistoryRequestError as exc:
            session.send(enc.error(sv, req.req_id, exc.code, str(exc)))
            return
        except ValueError as exc:
            session.send(enc.error(sv, req.req_id, errors.HISTORICAL_DATA_ERROR,
                                   f"Historical Market Data Service error message:{exc}"))
            return
        n, unit = history_requests.bar_unit(req.bar_size)
        daily = unit in ("days", "weeks", "months")
        wire = [wire_bar(b, req.format_date, daily) for b in bars]
        start_str = (bars[0].start if bars else end).astimezone(NY).strftime("%Y%m%d %H:%M:%S")
        session.send(enc.historical_data(req.req_id, start_str, end.astimezone(NY).strftime("%Y%m%d %H:%M:%S"), wire))
        if req.keep_up_to_date and unit in ("mins", "hours"):
            seconds = n * (60 if unit == "mins" else 3600)
            completed = [b for b in bars if b.end <= now]
            last_end = completed[-1].end if completed else now
            session.subs.history[req.req_id] = BarSubscription(
                req.req_id, symbol, seconds, last_end, req.format_date, req.use_rth
            )

    def _size_label(self, seconds: int) -> str:
        if seconds % 3600 == 0:
            return f"{seconds // 3600} hour"
        return f"{seconds // 60} mins" if seconds > 60 else "1 min"

    def _emit_history(self, session: Any, sub: BarSubscription, now: datetime) -> None:
        """Completed bars as they complete; the bar in progress every 5 replay seconds when it
        changed (same date: the client replaces its last bar), as IB's keepUpToDate does."""
        if now >= sub.last_end + timedelta(seconds=60):
            if sub.seconds == 60:
                bars = self.replay.completed_bars(sub.symbol, now)
            else:
                bars = self.replay.history(sub.symbol, now, "1 D", self._size_label(sub.seconds), sub.use_rth)
            for bar in bars:
                if bar.end > sub.last_end:
                    session.send(enc.historical_data_update(sub.req_id, wire_bar(bar, sub.format_date, False)))
                    sub.last_end = bar.end
                    sub.partial_key = None
        if sub.partial_at is not None and now - sub.partial_at < PARTIAL_INTERVAL:
            return
        partial = history_requests.partial_bar(self.replay, sub.symbol, now, sub.seconds, sub.use_rth)
        if partial is None or partial.start < sub.last_end:
            return
        key = (partial.start, partial.open, partial.high, partial.low, partial.close, partial.volume)
        if key != sub.partial_key:
            session.send(enc.historical_data_update(sub.req_id, wire_bar(partial, sub.format_date, False)))
            sub.partial_key, sub.partial_at = key, now

    # -- real-time bars -----------------------------------------------------------------------
    def realtime_bars(self, session: Any, req: RealTimeBarsRequest) -> None:
        symbol = req.contract.ticker
        if self._refused(session, req.req_id, req.contract):
            return
        if not self._known(symbol):
            self._not_streamable(session, req.req_id, symbol)
            return
        now = self._now()
        floor = now - timedelta(seconds=now.timestamp() % RTB_SECONDS)
        session.subs.realtime_bars[req.req_id] = BarSubscription(req.req_id, symbol, RTB_SECONDS, floor)

    def _rtb(self, symbol: str, start: datetime) -> Bar | None:
        """A 5-second bar from the price path: open at start, close at the end, path extremes."""
        end = start + timedelta(seconds=RTB_SECONDS)
        if end <= self.replay.session_open or start >= self.replay.session_close:
            return None
        last = end - timedelta(microseconds=1)  # the instant `end` belongs to the next bar
        o = self.replay.price_at(symbol, start)
        c = self.replay.price_at(symbol, last)
        ext = self.replay.path_extremes(symbol, start, last)
        if o is None or c is None or ext is None:
            return None
        o, c = to_tick(o), to_tick(c)  # the path between vertices is off the grid; quotes are not
        lo, hi = min(to_tick(ext[0]), o, c), max(to_tick(ext[1]), o, c)
        return Bar(symbol, start, o, hi, lo, c, self._rtb_volume(symbol, start), RTB_SECONDS)

    def _rtb_volume(self, symbol: str, start: datetime) -> float:
        """The minute's volume spread evenly over its twelve 5-second bars (a modelling choice:
        the data has no finer volume; prices, unlike volume, follow the documented path), in
        whole shares that add up exactly to the minute's volume: a client that rebuilds 1-minute
        bars from them gets the source bar's volume, and so the same VWAP."""
        table = self._minute_volume.get(symbol)
        if table is None:
            table = {int(b.start.timestamp()) // 60: b.volume for b in self.replay.bars(symbol)}
            self._minute_volume[symbol] = table
        minute_volume = int(round(table.get(int(start.timestamp()) // 60, 0.0)))
        pieces = 60 // RTB_SECONDS
        base, extra = divmod(minute_volume, pieces)
        return float(base + (1 if start.second // RTB_SECONDS < extra else 0))

    def _emit_rtb(self, session: Any, sub: BarSubscription, now: datetime) -> None:
        step = timedelta(seconds=RTB_SECONDS)
        while sub.last_end + step <= now:
            start = sub.last_end
            sub.last_end = start + step
            bar = self._rtb(sub.symbol, start)
            if bar is not None:
                session.send(enc.realtime_bar(sub.req_id, wire_bar(bar, 2, False), int(start.timestamp())))

    # -- ticks ------------------------------------------------------------------------------
    def market_data(self, session: Any, req: MarketDataRequest) -> None:
        symbol = req.contract.ticker
        if self._refused(session, req.req_id, req.contract):
            return
        if not self._known(symbol):
            self._not_streamable(session, req.req_id, symbol)
            return
        self.quotes.subscribe(session, req.req_id, symbol, req.generic_ticks, req.snapshot)

    # -- clock-driven streaming ------------------------------------------------------------------
    def emit(self, session: Any, now: datetime) -> None:
        subs = session.subs
        for sub in list(subs.history.values()):
            self._emit_history(session, sub, now)
        for sub in list(subs.realtime_bars.values()):
            self._emit_rtb(session, sub, now)
        self.quotes.emit(session, now)
