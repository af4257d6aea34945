"""Streaming answers beyond bars and ticks: reqPnL / reqPnLSingle, reqTickByTickData and market
scanner subscriptions (their ranking in `sim/tws/scanner.py`, refreshed every 30 replay seconds).

P&L follows IB's definitions: daily P&L = the change of net liquidation since the session day
began (snapshotted when the gateway starts and when each next session becomes current, i.e. at
the previous close's marks), realized = realized today, unrealized = open positions against
their average cost. Updates go out at most once per replay second and only
when a figure changed, as TWS throttles them. Tick-by-tick "Last"/"AllLast" prints the replay's
price path (on the tick grid) once per replay second when it moves; "BidAsk" and "MidPoint" use
the same quotes as reqMktData.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sim.market.day_stats import DayStats
from sim.market.ticks import quote, to_tick
from sim.tws import encoders as enc
from sim.tws import scanner
from sim.tws import service_messages as sm
from sim.tws.contracts import stock
from sim.tws.service_requests import ServiceRequest

INTERVAL = timedelta(seconds=1)
INTERVALS = {"scanner": timedelta(seconds=30)}  # IB refreshes a scanner subscription about this often
TICK_TYPES = {"LAST": sm.TICK_LAST, "ALLLAST": sm.TICK_ALL_LAST, "BIDASK": sm.TICK_BID_ASK,
              "MIDPOINT": sm.TICK_MIDPOINT}


@dataclass(slots=True)
class Stream:
    req_id: int
    kind: str  # "pnl" | "pnl_single" | "tbt" | "scanner"
    account: str = ""
    symbol: str = ""
    tick_type: int = 0
    last_sent: datetime | None = None
    last_values: tuple[float, ...] = ()
    scan: scanner.Scan | None = None


@dataclass(slots=True)
class DayStart:
    net_liquidation: float
    realized: float
    unrealized: dict[str, float] = field(default_factory=dict)


class Streams:
    """Holds each session's P&L and tick-by-tick streams (on `session.subs.streams`)."""

    def __init__(self, engine: Any, now: Callable[[], datetime]) -> None:
        self.engine = engine
        self._now = now
        self._day_starts: dict[str, DayStart] = {}
        self._day: Any = None
        self._stats: DayStats | None = None

    # -- subscribing ------------------------------------------------------------------------
    def subscribe_pnl(self, session: Any, req: ServiceRequest) -> None:
        account = req.arg(2) or self.engine.account_id
        if account not in self.engine.accounts.ids():
            session.send(enc.error(session.server_version, req.req_id, 321,
                                   f"Error validating request.-'cF' : cause - unknown account {account}"))
            return
        self._add(session, Stream(req.req_id, "pnl", account=account))

    def subscribe_pnl_single(self, session: Any, req: ServiceRequest) -> None:
        account = req.arg(2) or self.engine.account_id
        con_id = int(req.arg(4) or 0)
        symbols = set(self.engine.replay.known_symbols()) | {s for a in self.engine.accounts.ids()
                                                             for s in self.engine.positions(a)}
        symbol = next((s for s in symbols if stock(s).con_id == con_id), "")
        if not symbol or account not in self.engine.accounts.ids():
            session.send(enc.error(session.server_version, req.req_id, 321,
                                   f"Error validating request.-'cG' : cause - no position data for conId {con_id}"))
            return
        self._add(session, Stream(req.req_id, "pnl_single", account=account, symbol=symbol))

    def subscribe_tick_by_tick(self, session: Any, req: ServiceRequest) -> None:
        assert req.contract is not None
        symbol = req.contract.ticker
        tick_type = TICK_TYPES.get(req.arg(14).upper().replace("_", ""))
        if tick_type is None:
            session.send(enc.error(session.server_version, req.req_id, 321,
                                   f"Error validating request.-'cH' : cause - tick type {req.arg(14)!r}: "
                                   "use Last, AllLast, BidAsk or MidPoint"))
            return
        if symbol not in self.engine.replay.known_symbols():
            session.send(enc.error(session.server_version, req.req_id, 354,
                                   f"Requested market data is not subscribed. ({symbol} is not replayed)"))
            return
        self._add(session, Stream(req.req_id, "tbt", symbol=symbol, tick_type=tick_type))

    def subscribe_scanner(self, session: Any, req: ServiceRequest) -> None:
        terms = scanner.parse(req)
        if isinstance(terms, str):
            session.send(enc.error(session.server_version, req.req_id, 321, terms))
            return
        self._add(session, Stream(req.req_id, "scanner", scan=terms))

    def cancel(self, session: Any, req: ServiceRequest) -> None:
        session.subs.streams.pop(req.req_id, None)

    def _add(self, session: Any, stream: Stream) -> None:
        session.subs.streams[stream.req_id] = stream
        self._emit_one(session, stream, self._now(), force=True)

    # -- streaming --------------------------------------------------------------------------
    def emit(self, session: Any, now: datetime) -> None:
        for stream in list(session.subs.streams.values()):
            self._emit_one(session, stream, now)

    def _emit_one(self, session: Any, stream: Stream, now: datetime, force: bool = False) -> None:
        interval = INTERVALS.get(stream.kind, INTERVAL)
        if not force and stream.last_sent is not None and now - stream.last_sent < interval:
            return
        values, message = self._values(stream, now)
        if message is None or (not force and values == stream.last_values):
            if stream.kind == "scanner":
                stream.last_sent = now  # unchanged: look again at the next refresh
            return
        stream.last_sent, stream.last_values = now, values
        session.send(message)

    def _values(self, stream: Stream, now: datetime) -> tuple[tuple[float, ...], list[object] | None]:
        if stream.kind == "tbt":
            return self._tick(stream, now)
        if stream.kind == "scanner" and stream.scan is not None:
            found = scanner.results(stream.scan, self._day_stats(), now)
            return scanner.refresh_key(found), sm.scanner_data(stream.req_id, [stock(s) for s in found])
        start = self._day_start(stream.account)
        values = self.engine.account_values(stream.account)
        if stream.kind == "pnl":
            figures = (round(values["NetLiquidation"] - start.net_liquidation, 2),
                       round(values["UnrealizedPnL"], 2), round(values["RealizedPnL"] - start.realized, 2))
            return figures, sm.pnl(stream.req_id, *figures)
        qty, avg = self.engine.positions(stream.account).get(stream.symbol, (0.0, 0.0))
        mark = self.engine.replay.price_at(stream.symbol, now) or avg
        unrealized = (mark - avg) * qty
        realized = self._realized_today(stream.account, stream.symbol)
        daily = realized + unrealized - start.unrealized.get(stream.symbol, 0.0)
        single = (qty, round(daily, 2), round(unrealized, 2), round(realized, 2), round(qty * mark, 2))
        return single, sm.pnl_single(stream.req_id, *single)

    def _tick(self, stream: Stream, now: datetime) -> tuple[tuple[float, ...], list[object] | None]:
        raw = self.engine.replay.price_at(stream.symbol, now)
        if raw is None:
            return (), None
        price = to_tick(raw)
        epoch = int(now.timestamp())
        bid, ask = quote(price)
        if stream.tick_type == sm.TICK_BID_ASK:
            return (bid, ask), sm.tick_by_tick_bid_ask(stream.req_id, epoch, bid, ask, 100.0, 100.0)
        if stream.tick_type == sm.TICK_MIDPOINT:
            mid = round((bid + ask) / 2, 6)
            return (mid,), sm.tick_by_tick_midpoint(stream.req_id, epoch, mid)
        exchange = stock(stream.symbol).primary_exchange
        return (price,), sm.tick_by_tick_last(stream.req_id, stream.tick_type, epoch, price, 100.0, exchange)

    def _day_stats(self) -> DayStats:
        replay = self.engine.replay
        if self._stats is None or self._stats.replay is not replay:
            self._stats = DayStats(replay)
        return self._stats

    # -- the day's starting point ---------------------------------------------------------------
    def start_day(self) -> None:
        """Snapshot every account as the session day begins (the gateway calls this when it
        starts and whenever the next session becomes current): marks are the previous close."""
        self._day = self.engine.replay.day
        self._day_starts = {a: self._snapshot(a) for a in self.engine.accounts.ids()}

    def _day_start(self, account: str) -> DayStart:
        if self.engine.replay.day != self._day:
            self.start_day()
        start = self._day_starts.get(account)
        if start is None:
            start = self._day_starts[account] = self._snapshot(account)
        return start

    def _snapshot(self, account: str) -> DayStart:
        values = self.engine.account_values(account)
        now = self._now()
        unrealized = {s: ((self.engine.replay.price_at(s, now) or avg) - avg) * qty
                      for s, (qty, avg) in self.engine.positions(account).items()}
        return DayStart(values["NetLiquidation"], values["RealizedPnL"], unrealized)

    def _day_begin(self) -> datetime:
        opened = self.engine.replay.session_open
        return opened.replace(hour=0, minute=0, second=0, microsecond=0)

    def _realized_today(self, account: str, symbol: str) -> float:
        begin = self._day_begin()
        return sum(e.realized_pnl or 0.0 for e in self.engine.executions()
                   if e.account == account and e.symbol == symbol and e.time >= begin)
