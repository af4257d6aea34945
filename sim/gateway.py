"""IB Gateway simulator: the TWS API on loopback over the replay market and the paper engine.

This module only wires: the listening sockets, the clientId registry, the clock pump and the
request routing. The protocol lives in `sim/tws/` (framing, encoders, request parsers, session
state, faults), the market in `sim/market/`, the matching engine in `sim/engine/`.

The pump calls `engine.advance(now)` every few milliseconds of real time (and at once when a test
steps the clock), then streams completed bars / real-time bars / ticks to subscribers, so fills
and bars reach clients in clock order and no completed bar is ever skipped at high speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sim.engine.exchange import MatchingEngine
from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import session_bounds
from sim.tws import encoders as enc
from sim.tws import errors
from sim.tws import requests as rq
from sim.tws.account import AccountDesk
from sim.tws.cli import DEFAULT_ACCOUNT, parse_args, source_from_args
from sim.tws.control import GatewayControls
from sim.tws.faults import serve_admin
from sim.tws.feeds import MarketFeeds
from sim.tws.orders import OrderDesk
from sim.tws.runner import GatewayThread
from sim.tws.session import ClientSession

log = logging.getLogger(__name__)



class GatewaySimulator(GatewayControls):
    """The simulated IB Gateway. `await start()`, connect any TWS API client to `port`."""

    def __init__(
        self,
        replay: MarketReplay,
        engine: MatchingEngine,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_port: int | None = None,
        pump_interval: float = 0.005,
    ) -> None:
        self.replay = replay
        self.clock: ReplayClock = replay.clock
        self.engine = engine
        self.host = host
        self.port = port
        self.admin_port = admin_port
        self.pump_interval = pump_interval
        self._sessions: set[ClientSession] = set()
        self._by_client: dict[int, ClientSession] = {}
        self.orders = OrderDesk(engine, self._sessions_of, self.now)
        self.accounts = AccountDesk(engine, replay, self.orders, self.now)
        self.feeds = MarketFeeds(replay, self.now)
        engine.add_listener(self)  # after the order desk: position/account pushes follow the fill
        self._server: asyncio.Server | None = None
        self._admin: asyncio.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._last_pump: datetime | None = None
        self._account_dirty = False
        self.refusing = False
        self.data_paused = False
        self._routes: dict[type, Callable[[ClientSession, Any], None]] = self._build_routes()

    @classmethod
    def build(
        cls,
        source: BarSource,
        day: date,
        symbols: Sequence[str],
        *,
        speed: float | None = None,
        start: datetime | None = None,
        cash: float = 100_000.0,
        account_id: str = DEFAULT_ACCOUNT,
        **kwargs: Any,
    ) -> GatewaySimulator:
        """Clock at `start` (default: the session open of `day`), replay, engine, gateway."""
        clock = ReplayClock(start or session_bounds(day)[0], speed=speed)
        replay = MarketReplay(source, clock, day, symbols)
        engine = MatchingEngine(replay, account_id=account_id, cash=cash)
        return cls(replay, engine, **kwargs)

    # -- lifecycle --------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    async def start(self) -> None:
        await self._listen()
        if self.admin_port is not None:
            self._admin = await asyncio.start_server(partial(serve_admin, self), self.host, self.admin_port)
            self.admin_port = self._admin.sockets[0].getsockname()[1]
        self._pump_task = asyncio.get_running_loop().create_task(self._pump_forever())

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientSession(self), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.refusing = False

    async def stop(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        for server in (self._server, self._admin):
            if server is not None:
                server.close()
        for session in list(self._sessions):
            session.close()
        for server in (self._server, self._admin):
            if server is not None:
                await server.wait_closed()

    def start_in_thread(self) -> GatewayThread:
        """Run on a private event loop in a daemon thread (for blocking clients, subprocess e2e)."""
        return GatewayThread(self)

    # -- the clock pump ---------------------------------------------------------------------
    async def _pump_forever(self) -> None:
        while True:
            try:
                self.pump()
            except Exception:
                log.exception("gateway pump failed; continuing")
            await asyncio.sleep(self.pump_interval)

    def pump(self) -> None:
        """Match orders up to the clock, then stream what completed by then."""
        if self._account_dirty:
            self._push_account_updates()
        now = self.clock.now()
        if self._last_pump is not None and now <= self._last_pump:
            return
        self._last_pump = now
        self.engine.advance(now)
        self._stream(now)

    def _stream(self, now: datetime) -> None:
        if self.data_paused:
            return  # between 1100 and 1101/1102 no market data flows; it catches up after
        for session in list(self._sessions):
            if session.ready:
                self.feeds.emit(session, now)

    def step(self, seconds: float) -> None:
        """Stepping clock: advance by `seconds`, pumping at every minute boundary on the way."""
        self.step_to(self.clock.now() + timedelta(seconds=seconds))

    def step_to(self, t: datetime) -> None:
        while self.clock.now() < t:
            now = self.clock.now()
            boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            self.clock.advance_to(min(t, boundary))
            self.pump()

    # -- sessions ---------------------------------------------------------------------------
    def _sessions_of(self, client_id: int) -> Iterable[ClientSession]:
        session = self._by_client.get(client_id)
        return (session,) if session is not None and session.ready else ()

    def on_start_api(self, session: ClientSession) -> None:
        cid = session.client_id
        assert cid is not None
        sv = session.server_version
        other = self._by_client.get(cid)
        if other is not None and other.connected:
            session.send(enc.error(sv, -1, errors.CLIENT_ID_IN_USE, errors.message(errors.CLIENT_ID_IN_USE)))
            session.close()
            return
        self._sessions.add(session)
        self._by_client[cid] = session
        session.ready = True
        session.send(enc.managed_accounts([self.engine.account_id]))
        session.send(enc.next_valid_id(self.orders.next_valid_id(cid)))
        for code in errors.FARM_NOTICES:
            session.send(enc.error(sv, -1, code, errors.message(code)))

    def on_closed(self, session: ClientSession) -> None:
        self._sessions.discard(session)
        if session.client_id is not None and self._by_client.get(session.client_id) is session:
            del self._by_client[session.client_id]

    def on_request(self, session: ClientSession, request: rq.Request) -> None:
        route = self._routes.get(type(request))
        if route is not None:
            route(session, request)

    def _build_routes(self) -> dict[type, Callable[[ClientSession, Any], None]]:
        return {
            rq.PlaceOrder: self.orders.place,
            rq.CancelOrder: lambda s, r: self.orders.cancel(s, r.order_id),
            rq.ContractDetailsRequest: self.feeds.contract_details,
            rq.HistoricalDataRequest: self.feeds.historical,
            rq.RealTimeBarsRequest: self.feeds.realtime_bars,
            rq.MarketDataRequest: self.feeds.market_data,
            rq.ExecutionsRequest: self.accounts.send_executions,
            rq.AccountUpdatesRequest: self._account_updates,
            rq.AccountUpdatesMultiRequest: self._account_multi,
            rq.AccountSummaryRequest: lambda s, r: self.accounts.send_account_summary(s, r.req_id),
            rq.IdsRequest: lambda s, r: s.send(enc.next_valid_id(self.orders.next_valid_id(s.client_id))),
            rq.CancelById: self._cancel_subscription,
            rq.Simple: self._simple,
        }

    def _account_updates(self, session: ClientSession, req: rq.AccountUpdatesRequest) -> None:
        session.subs.account_updates = (req.account or self.engine.account_id) if req.subscribe else ""
        if req.subscribe:
            self.accounts.send_account_updates(session)

    def _account_multi(self, session: ClientSession, req: rq.AccountUpdatesMultiRequest) -> None:
        session.subs.account_multi.add(req.req_id)
        self.accounts.send_account_multi(session, req.req_id)

    def _cancel_subscription(self, session: ClientSession, req: rq.CancelById) -> None:
        subs = session.subs
        subs.history.pop(req.req_id, None)
        subs.realtime_bars.pop(req.req_id, None)
        subs.market_data.pop(req.req_id, None)
        subs.account_multi.discard(req.req_id)

    def _simple(self, session: ClientSession, req: rq.Simple) -> None:
        mid = req.msg_id
        if mid == rq.REQ_POSITIONS:
            session.subs.positions = True
            self.accounts.send_positions(session)
        elif mid == rq.CANCEL_POSITIONS:
            session.subs.positions = False
        elif mid in (rq.REQ_OPEN_ORDERS, rq.REQ_ALL_OPEN_ORDERS):
            self.orders.send_open_orders(session)
        elif mid == rq.REQ_COMPLETED_ORDERS:
            self.orders.send_completed_orders(session)
        elif mid == rq.REQ_CURRENT_TIME:
            session.send(enc.current_time(int(self.now().timestamp())))
        elif mid == rq.REQ_MANAGED_ACCTS:
            session.send(enc.managed_accounts([self.engine.account_id]))
        elif mid == rq.REQ_GLOBAL_CANCEL:
            self.orders.cancel_all()

    # -- engine listener (after the order desk): keep subscribed clients' books current --------
    def on_execution(self, execution: Any) -> None:
        """Positions at once; account values on the next pump (off the fill's reply path)."""
        for session in list(self._sessions):
            if session.ready and session.subs.positions:
                self.accounts.send_position_update(session, execution.symbol)
        self._account_dirty = True

    def _push_account_updates(self) -> None:
        self._account_dirty = False
        for session in list(self._sessions):
            if not session.ready:
                continue
            if session.subs.account_updates:
                self.accounts.send_account_updates(session)
            for req_id in session.subs.account_multi:
                self.accounts.send_account_multi(session, req_id, end=False)



# -- CLI ----------------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    source, day, symbols = source_from_args(args)
    speed = None if args.speed == 0 else args.speed
    sim = GatewaySimulator.build(
        source, day, symbols, speed=speed, cash=args.cash, account_id=args.account,
        host=args.host, port=args.port, admin_port=args.admin_port,
    )
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await sim.start()
    admin = f" (admin {args.host}:{sim.admin_port})" if sim.admin_port is not None else ""
    pace = "stepping" if speed is None else f"{speed:g}x real time"
    print(
        f"IB Gateway simulator listening on {args.host}:{sim.port}{admin}, replaying {day} "
        f"{','.join(symbols)} at {pace}, account {args.account}",
        flush=True,
    )
    await stopped.wait()
    await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
