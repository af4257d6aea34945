"""One API client connection: the handshake, its clientId, its subscriptions.

The session is an `asyncio.Protocol` (bytes in, frames out, no per-message awaits) so replies go
straight to the socket. It knows nothing about the engine: complete requests are handed to the
`SessionHost` (the gateway), which answers through `send`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sim.tws import framing
from sim.tws.requests import Request, RequestError, StartApi, parse_request

log = logging.getLogger(__name__)
UNSUPPORTED_VERSION = 506  # IB's code for an API version the other side cannot speak


class SessionHost(Protocol):
    def now(self) -> datetime: ...
    def on_start_api(self, session: ClientSession) -> None: ...
    def on_request(self, session: ClientSession, request: Request) -> None: ...
    def on_closed(self, session: ClientSession) -> None: ...


@dataclass(slots=True)
class BarSubscription:
    """A keepUpToDate history or realtime-bar stream: what to send and how far we got."""

    req_id: int
    symbol: str
    seconds: int
    last_end: datetime
    format_date: int = 1
    use_rth: bool = True
    partial_at: datetime | None = None  # keepUpToDate: when the bar in progress was last sent
    partial_key: tuple[object, ...] | None = None


@dataclass(slots=True)
class Subscriptions:
    positions: bool = False
    account_updates: str = ""  # the account subscribed with reqAccountUpdates, "" = none
    account_multi: dict[int, str] = field(default_factory=dict)  # reqId -> account ("" = all)
    history: dict[int, BarSubscription] = field(default_factory=dict)
    realtime_bars: dict[int, BarSubscription] = field(default_factory=dict)
    market_data: dict[int, Any] = field(default_factory=dict)  # reqId -> QuoteStream (sim.tws.quotes)
    streams: dict[int, Any] = field(default_factory=dict)  # P&L and tick-by-tick (sim.tws.streams)

    def drop_market_data(self) -> None:
        """What IB's 1101 (connectivity restored, data lost) means for a client."""
        self.history.clear()
        self.realtime_bars.clear()
        self.market_data.clear()
        for req_id in [r for r, stream in self.streams.items() if stream.kind in ("tbt", "scanner")]:
            del self.streams[req_id]  # tick-by-tick and scanners are market data; P&L streams stay


class ClientSession(asyncio.Protocol):
    """The server side of one TWS API socket."""

    def __init__(self, host: SessionHost) -> None:
        self._host = host
        self._reader = framing.FrameReader()
        self._transport: asyncio.Transport | None = None
        self._got_prefix = False
        self.server_version = 0
        self.client_id: int | None = None
        self.ready = False
        self.subs = Subscriptions()
        self.courier: Any = None  # IB's timing (sim/tws/courier.py) when the gateway models it

    # -- transport ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._host.on_closed(self)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        if not self._got_prefix:
            reader.feed_raw(data)
            prefix = reader.take_raw(len(framing.API_PREFIX))
            if prefix is None:
                return
            if prefix != framing.API_PREFIX:
                log.warning("closing a connection that did not start with API\\0: %r", prefix)
                self.close()
                return
            self._got_prefix = True
            data = b""
        for fields in reader.feed(data):
            self._handle(fields)
            if self._transport is None:
                return

    def _handle(self, fields: list[str]) -> None:
        if not self.server_version:
            try:
                cmin, cmax, _options = framing.parse_hello(fields)
                self.server_version = framing.negotiate_version(cmin, cmax)
            except framing.HandshakeError as exc:
                log.warning("refusing client: %s", exc)
                if exc.client_max is not None:  # say why, as an error the client can decode
                    self.write(framing.handshake_reply(exc.client_max, self._host.now()))
                    self.write(framing.encode([4, 2, -1, UNSUPPORTED_VERSION, str(exc)]))
                self.close()
                return
            self.write(framing.handshake_reply(self.server_version, self._host.now()))
            return
        try:
            request = parse_request(fields, self.server_version)
        except RequestError as exc:
            log.warning("client %s sent a malformed request: %s", self.client_id, exc)
            return
        if request is None:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("ignoring message %s from client %s", fields[:1], self.client_id)
            return
        if self.client_id is None:
            if isinstance(request, StartApi):
                self.client_id = request.client_id
                self._host.on_start_api(self)
            return
        self._host.on_request(self, request)

    # -- output ---------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def send(self, fields: list[object]) -> None:
        if self.courier is not None:
            self.courier.take(fields)  # delivered when IB's timing says (sim/tws/realism.py)
            return
        self.write_fields(fields)

    def write_fields(self, fields: list[object]) -> None:
        """Straight to the socket."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(framing.encode(fields))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
