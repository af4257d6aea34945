"""Answers to the rest of the TWS API: implemented from the replay and the engine where the
simulator has the data, and otherwise at once with the error a real Gateway sends for a service
the account does not have (never silence: ib_async waits on most requests without a timeout).

Implemented: reqHeadTimeStamp (each symbol's first bar in its own data, for the data types
history serves), reqMatchingSymbols (with the derivative types IB lists for US stocks),
reqMarketRule, reqHistogramData, reqPositionsMulti, reqPnL/reqPnLSingle, reqTickByTickData and
market scanners (parameters and subscriptions, `sim/tws/scanner.py`; streams in
`sim/tws/streams.py`). Answered with IB's "nothing here" replies: option chains, soft dollar
tiers, family codes, depth exchanges, SMART components, news providers, historical news, user
info, display groups. Refused with an error: market depth, fundamentals, option computations and
exercise, FA configuration, news articles, historical ticks, WSH data. A contract outside US
stocks and ETFs is error 200 naming what is served (`sim/tws/asset_classes.py`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sim.market.history import parse_duration
from sim.market.ticks import to_tick
from sim.tws import asset_classes, scanner
from sim.tws import encoders as enc
from sim.tws import service_messages as sm
from sim.tws.contracts import stock
from sim.tws.history_requests import QUOTE_TYPES, TRADE_TYPES
from sim.tws.service_requests import ServiceRequest
from sim.tws.streams import Streams
from sim.tws.times import ib_time

US_STOCK_RULE = 26
MARKET_RULES = {US_STOCK_RULE: [(0.0, 0.0001), (1.0, 0.01)]}  # the grid of sim/market/ticks.py
NO_ANSWER = frozenset({11, 12, 13, 14, 23, 53, 56, 57, 69, 70, 75, 89, 90, 93, 95, 98, 101, 103})
"""Cancels, news bulletin subscriptions, log levels, display-group updates: IB answers none."""

REFUSED: dict[int, tuple[int, str]] = {
    10: (354, "Requested market data is not subscribed. (market depth is not simulated)"),
    18: (321, "Error validating request.-'bR' : cause - not an advisor (FA) account"),
    19: (321, "Error validating request.-'bS' : cause - not an advisor (FA) account"),
    21: (321, "Error validating request.-'bw' : cause - only options can be exercised; this login trades stocks"),
    52: (430, "We are sorry, but fundamentals data for the security specified is not available."),
    54: (321, "Error validating request.-'bA' : cause - option computations need an option contract"),
    55: (321, "Error validating request.-'bA' : cause - option computations need an option contract"),
    65: (321, "Error validating request.-'bV' : cause - API verification is not supported"),
    66: (321, "Error validating request.-'bV' : cause - API verification is not supported"),
    72: (321, "Error validating request.-'bV' : cause - API verification is not supported"),
    73: (321, "Error validating request.-'bV' : cause - API verification is not supported"),
    84: (10276, "News feed is not allowed."),
    96: (162, "Historical Market Data Service error message:No historical tick data (the simulator replays bars)"),
    100: (321, "Error validating request.-'cE' : cause - Wall Street Horizon data is not subscribed"),
    102: (321, "Error validating request.-'cE' : cause - Wall Street Horizon data is not subscribed"),
}


class ServiceDesk:
    """Routes a `ServiceRequest` to its answer."""

    def __init__(self, engine: Any, streams: Streams, now: Callable[[], datetime]) -> None:
        self.engine = engine
        self.streams = streams
        self._now = now
        self._handlers: dict[int, Callable[[Any, ServiceRequest], None]] = {
            22: self.streams.subscribe_scanner,
            23: self.streams.cancel,
            24: lambda s, r: s.send(sm.scanner_parameters(scanner.parameters_xml())),
            67: lambda s, r: s.send(sm.display_group_list(r.req_id)),
            68: lambda s, r: s.send(sm.display_group_updated(r.req_id)),
            74: self._positions_multi,
            78: lambda s, r: s.send(sm.sec_def_opt_params_end(r.req_id)),
            79: lambda s, r: s.send(sm.soft_dollar_tiers(r.req_id)),
            80: lambda s, r: s.send(sm.family_codes()),
            81: self._matching_symbols,
            82: lambda s, r: s.send(sm.mkt_depth_exchanges()),
            83: lambda s, r: s.send(sm.smart_components(r.req_id)),
            85: lambda s, r: s.send(sm.news_providers()),
            86: lambda s, r: s.send(sm.historical_news_end(r.req_id)),
            87: self._head_timestamp,
            88: self._histogram,
            91: self._market_rule,
            92: self.streams.subscribe_pnl,
            93: self.streams.cancel,
            94: self.streams.subscribe_pnl_single,
            95: self.streams.cancel,
            97: self.streams.subscribe_tick_by_tick,
            98: self.streams.cancel,
            104: lambda s, r: s.send(sm.user_info(r.req_id)),
        }
        self._contract_handlers = frozenset({87, 88, 97})  # checked against the asset classes first

    @property
    def replay(self) -> Any:
        return self.engine.replay

    def answer(self, session: Any, req: ServiceRequest) -> None:
        handler = self._handlers.get(req.msg_id)
        if req.msg_id in self._contract_handlers and req.contract is not None:
            refusal = asset_classes.refusal(req.contract)
            if refusal is not None:
                self._error(session, req.req_id, 200, refusal)
                return
        if handler is not None:
            handler(session, req)
        elif req.msg_id in REFUSED:
            code, text = REFUSED[req.msg_id]
            session.send(enc.error(session.server_version, req.req_id, code, text))
        # else: NO_ANSWER (a real Gateway is silent too)

    def _error(self, session: Any, req_id: int, code: int, text: str) -> None:
        session.send(enc.error(session.server_version, req_id, code, text))

    def _known(self, symbol: str) -> bool:
        return symbol.upper() in self.replay.known_symbols() or bool(self.replay.source.sessions(symbol))

    def _positions_multi(self, session: Any, req: ServiceRequest) -> None:
        account = req.arg(3)
        accounts = self.engine.accounts.ids()
        for acct in ([account] if account in accounts else accounts):
            for symbol, (qty, avg) in self.engine.positions(acct).items():
                session.send(sm.position_multi(req.req_id, acct, stock(symbol), qty, avg))
        session.send(sm.position_multi_end(req.req_id))

    def _matching_symbols(self, session: Any, req: ServiceRequest) -> None:
        pattern = req.arg(2).strip().upper()
        names = sorted(set(self.replay.source.symbols()) | set(self.replay.known_symbols()))
        found = [s for s in names if pattern and s.startswith(pattern)]
        found += [s for s in names if pattern and pattern in s and s not in found]
        session.send(sm.symbol_samples(session.server_version, req.req_id, [stock(s) for s in found[:16]]))

    def _market_rule(self, session: Any, req: ServiceRequest) -> None:
        rule_id = int(req.arg(1) or 0)
        session.send(sm.market_rule(rule_id, MARKET_RULES.get(rule_id, [])))

    def _head_timestamp(self, session: Any, req: ServiceRequest) -> None:
        """The earliest bar reqHistoricalData would serve for this symbol and data type: its
        own data's first daily or minute bar (IB: the earliest data point available)."""
        assert req.contract is not None
        symbol = req.contract.ticker
        what = (req.arg(16) or "TRADES").upper()
        if what not in TRADE_TYPES | QUOTE_TYPES:
            self._error(session, req.req_id, 162, "Historical Market Data Service error message:"
                        f"No head time stamp for data of type {what} (the simulator serves "
                        f"{', '.join(sorted(TRADE_TYPES | QUOTE_TYPES))})")
            return
        days = self.replay.source.sessions(symbol)
        daily = self.replay.source.daily_bars(symbol)
        firsts = [b.start for b in daily[:1]] + [self._first_bar(symbol, d) for d in days[:1]]
        firsts = [t for t in firsts if t is not None]
        if not firsts:
            self._error(session, req.req_id, 162, "Historical Market Data Service error message:"
                        f"No head time stamp (no data for {symbol})")
            return
        head = min(firsts)
        text = str(int(head.timestamp())) if req.arg(17) == "2" else ib_time(head)
        session.send(sm.head_timestamp(req.req_id, text))

    def _first_bar(self, symbol: str, day: Any) -> datetime | None:
        bars = self.replay.source.session_bars(symbol, day)
        return bars[0].start if bars else None

    def _histogram(self, session: Any, req: ServiceRequest) -> None:
        """Volume at each price (minute closes on the grid) over the period ("3 days", "1 week")."""
        assert req.contract is not None
        symbol = req.contract.ticker
        period = req.arg(16)
        try:
            n, unit = parse_duration(period.replace("days", "D").replace("day", "D")
                                     .replace("weeks", "W").replace("week", "W"))
        except ValueError:
            self._error(session, req.req_id, 321, f"Error validating request.-'bH' : cause - time period {period!r}: "
                        "use e.g. '3 days' or '1 week'")
            return
        if not self._known(symbol):
            self._error(session, req.req_id, 200, "No security definition has been found for the request")
            return
        now = self._now()
        span = f"{n} D" if unit == "D" else f"{n} {unit}"
        bars = self.replay.history(symbol, now, span, "1 min")
        counts: dict[float, int] = defaultdict(int)
        for bar in bars:
            counts[to_tick(bar.close)] += int(bar.volume)
        session.send(sm.histogram_data(req.req_id, sorted(counts.items())))
