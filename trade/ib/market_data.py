"""The market-data side of the IB adapter: contract qualification, historical bars under IB's
pacing rule, real-time 5-second bars built into minute bars, and the last price of each symbol.

Why a module of its own: `IBBroker` is the whole Broker port over one connection, and its orders,
account scoping, clock sampling and error routing already fill broker.py. `IBMarketData` is its
base class rather than a separate object, so the state stays on one object exactly as before:
`IBBroker._on_error` counts the pacing violations (162) that `history` retries on and names the
symbol of a real-time request IB refused (354), `_restore` re-requests the streams after a
reconnect, and a clock swapped in after construction (the IB-parity backtest sets `_clock`) is
the one the bar stream reports to. Each streamed bar caps the server-clock estimate (`observe_data_epoch`): the
server has at least reached the bar's end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from ib_async import Contract, Stock

from trade.broker import BarHandler, BrokerError, NotConnected, UnknownSymbol
from trade.ib import errors as ib_errors
from trade.ib import translate
from trade.ib.connection import IBConnection
from trade.ib.minute_bars import MinuteBarBuilder
from trade.ib.reads import bounded
from trade.ib.server_clock import ServerClock
from trade.models import Bar

log = logging.getLogger(__name__)
QUALIFY_DEADLINE_S = 30.0  # contract details for a whole watchlist, one request per symbol


class _BarStream:
    __slots__ = ("handler", "builder", "subscription")

    def __init__(self, handler: BarHandler, builder: MinuteBarBuilder) -> None:
        self.handler = handler
        self.builder = builder
        self.subscription: Any = None


class IBMarketData:
    """Contracts and bars over one shared `IBConnection`; the base of `IBBroker`."""

    def __init__(self, connection: IBConnection, clock: ServerClock) -> None:
        self._conn = connection
        self._ib = connection.ib
        self._clock = clock
        self._contracts: dict[str, Contract] = {}
        self._streams: dict[str, _BarStream] = {}
        self._last_price: dict[str, float] = {}
        self._pacing_violations = 0
        self._realtime_symbols: dict[int, str] = {}  # real-time bar request id -> symbol

    # -- contracts and historical bars -----------------------------------------------------
    async def qualify(self, symbols: Sequence[str]) -> dict[str, bool]:
        self._require_connection()
        wanted = [Stock(s, "SMART", "USD") for s in symbols]
        qualified = await bounded("contract details", self._ib.qualifyContractsAsync(*wanted),
                                  QUALIFY_DEADLINE_S)
        known: dict[str, bool] = {}
        for symbol, contract in zip(symbols, qualified, strict=True):
            known[symbol] = isinstance(contract, Contract) and bool(contract.conId)
            if isinstance(contract, Contract) and contract.conId:
                self._contracts[symbol] = contract
        return known

    async def history(self, symbol: str, duration: str, bar_size: str = "1 min") -> list[Bar]:
        contract = self._contract(symbol)
        seconds = _bar_seconds(bar_size)
        for attempt in range(3):
            await self._conn.history_pacer.acquire(f"{symbol} {bar_size} bars", seconds)
            violations = self._pacing_violations
            bars = await self._ib.reqHistoricalDataAsync(
                contract, endDateTime="", durationStr=duration, barSizeSetting=bar_size,
                whatToShow="TRADES", useRTH=True, formatDate=2, timeout=30,
            )
            if bars or self._pacing_violations == violations:
                return [translate.bar(symbol, b, seconds) for b in bars or []]
            log.warning("historical data pacing violation for %s; retry %d", symbol, attempt + 1)
            await asyncio.sleep(2.0 * (attempt + 1))
        raise BrokerError(f"historical data for {symbol} refused by IB pacing (162) three times",
                          ib_errors.HISTORICAL_PACING)

    def last_price(self, symbol: str) -> float | None:
        return self._last_price.get(symbol)

    # -- real-time bars --------------------------------------------------------------------
    async def subscribe_bars(self, symbol: str, on_bar: BarHandler) -> None:
        await self.unsubscribe_bars(symbol)  # re-subscribing must not double the stream
        stream = _BarStream(on_bar, MinuteBarBuilder(symbol))
        self._streams[symbol] = stream
        stream.subscription = self._request_realtime(symbol, stream)

    async def unsubscribe_bars(self, symbol: str) -> None:
        stream = self._streams.pop(symbol, None)
        if stream is not None and stream.subscription is not None and self._ib.isConnected():
            self._ib.cancelRealTimeBars(stream.subscription)

    def _request_realtime(self, symbol: str, stream: _BarStream) -> Any:
        subscription = self._ib.reqRealTimeBars(self._contract(symbol), 5, "TRADES", True)
        self._realtime_symbols[subscription.reqId] = symbol

        def on_update(bars: Any, has_new_bar: bool) -> None:
            # runs for every 5-second bar of every symbol: epoch seconds, no datetime arithmetic
            rt = bars[-1]
            start = int(rt.time.timestamp())
            self._clock.observe_data_epoch(start + 5)
            self._last_price[symbol] = rt.close
            if len(bars) > 64:
                del bars[:-1]  # the client keeps every bar; we only need the latest
            for bar in stream.builder.add_epoch(start, rt.open_, rt.high, rt.low, rt.close, rt.volume):
                stream.handler(bar)

        subscription.updateEvent += on_update
        return subscription

    # -- guards ---------------------------------------------------------------------------
    def _contract(self, symbol: str) -> Contract:
        contract = self._contracts.get(symbol)
        if contract is None:
            raise UnknownSymbol(f"{symbol} is not qualified: call qualify() first",
                                ib_errors.NO_SECURITY_DEFINITION)
        return contract

    def _require_connection(self) -> None:
        if not self._ib.isConnected():
            raise NotConnected("not connected to IB Gateway/TWS", ib_errors.NOT_CONNECTED)


def _bar_seconds(bar_size: str) -> int:
    amount, unit = bar_size.split()
    scale = {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600,
             "day": 86400, "days": 86400}[unit]
    return int(amount) * scale
