"""IB Gateway simulator: the TWS API on loopback over the replay market and the paper engine.

This module only wires: the listening sockets, the clientId registry, the clock pump and the
session roll. The protocol lives in `sim/tws/` (framing, encoders, request parsers, routing,
session state, faults), the market in `sim/market/`, the matching engine in `sim/engine/`.

The pump calls `engine.advance(now)` every few milliseconds of real time (and at once when a test
steps the clock), then streams completed bars / real-time bars / ticks to subscribers, so fills
and bars reach clients in clock order and no completed bar is ever skipped at high speed.

One process may replay several consecutive sessions (`SessionPlan`): the clock crosses nights
and weekends, DAY orders expire at each close, GTC orders and positions carry over, and from
midnight of the next session day that session is current. With `skip_nights` a running clock
jumps from `close + after_close` to `next open - lead` instead of idling through the night.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sim.engine.exchange import MatchingEngine
from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.session_plan import SessionPlan
from sim.market.sessions import session_bounds
from sim.tws import encoders as enc
from sim.tws import errors
from sim.tws import requests as rq
from sim.tws.account import AccountDesk
from sim.tws.control import GatewayControls
from sim.tws.faults import serve_admin
from sim.tws.feeds import MarketFeeds
from sim.tws.ib_timing import IBTiming
from sim.tws.orders import GatewayOrderDesk
from sim.tws.preview import Previews
from sim.tws.realism import Realism
from sim.tws.router import RequestRouter, Route
from sim.tws.runner import GatewayThread
from sim.tws.services import ServiceDesk
from sim.tws.session import ClientSession
from sim.tws.state_file import StateFile
from sim.tws.streams import Streams
from trade.records_routing import new_simulator_id

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "DU1234567"


class GatewaySimulator(GatewayControls, RequestRouter):
    """The simulated IB Gateway. `await start()`, connect any TWS API client to `port`."""

    def __init__(
        self,
        plan: SessionPlan,
        engine: MatchingEngine,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_port: int | None = None,
        pump_interval: float = 0.005,
        master_client_id: int | None = None,
        skip_nights: bool = False,
        lead: timedelta = timedelta(minutes=5),
        after_close: timedelta = timedelta(minutes=15),
        state_file: StateFile | None = None,
        realism: Realism | None = None,
        simulator_id: str | None = None,
    ) -> None:
        self.plan = plan
        self.clock: ReplayClock = plan.clock
        self.engine = engine
        self.host = host
        self.port = port
        self.admin_port = admin_port
        self.pump_interval = pump_interval
        self.master_client_id = master_client_id
        self.skip_nights = skip_nights
        self.lead, self.after_close = lead, after_close
        self.state_file = state_file
        self._sessions: set[ClientSession] = set()
        self._by_client: dict[int, ClientSession] = {}
        self.orders = GatewayOrderDesk(engine, self._sessions_of, self.now)
        self.accounts = AccountDesk(engine, self.orders, self.now, master_client_id)
        self.feeds = MarketFeeds(engine.replay, self.now)
        self.streams = Streams(engine, self.now)
        self.services = ServiceDesk(engine, self.streams, self.now)
        self.orders.previews = Previews(engine)
        engine.add_listener(self)  # after the order desk: position/account pushes follow the fill
        # IB's timing (sim/tws/realism.py); None: every answer at once, in one fixed order
        self.timing = IBTiming(realism, engine, self.orders) if realism and realism.enabled else None
        if self.timing is not None:
            self.accounts.positions_view = self.timing.lag.positions
        self._server: asyncio.Server | None = None
        self._admin: asyncio.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._last_pump: datetime | None = None
        self._account_dirty = False
        self.refusing = False
        self.data_paused = False
        self._routes: dict[type, Route] = self.build_routes()
        self.request_observers: list[Callable[[ClientSession, rq.Request], None]] = []
        # who this simulator is, told with the account values: a bot keeps each simulator's
        # records apart (trade/records_routing.py); a --state file restores its saved id
        self.accounts.simulator_id = simulator_id or new_simulator_id()
        if state_file is not None:
            state_file.load_into(self)
        self.streams.start_day()

    @classmethod
    def build(
        cls,
        source: BarSource,
        day: date,
        symbols: Sequence[str],
        *,
        days: Sequence[date] | None = None,
        speed: float | None = None,
        start: datetime | None = None,
        cash: float = 100_000.0,
        account_id: str = DEFAULT_ACCOUNT,
        second_account: str | None = None,
        second_positions: Mapping[str, float] | None = None,
        state_path: Path | None = None,
        **kwargs: Any,
    ) -> GatewaySimulator:
        """Clock at `start` (default: the session open of the first day), plan, engine, gateway.

        `days` replays several sessions in one process (default: just `day`); `second_account`
        opens another account under the login holding `second_positions` ({symbol: shares},
        bought at the previous close); `state_path` keeps the accounts, GTC orders and ids
        across simulator processes (loaded now, saved as they change).
        """
        plan_days = sorted(set(days or [day]))
        clock = ReplayClock(start or session_bounds(plan_days[0])[0], speed=speed)
        plan = SessionPlan(source, clock, plan_days, symbols)
        replay = plan.replay_at(clock.now())
        engine = MatchingEngine(replay, account_id=account_id, cash=cash)
        if second_account:
            held = {s.upper(): (float(q), replay.price_at(s, clock.now()) or 0.0)
                    for s, q in (second_positions or {}).items()}
            engine.add_account(second_account, cash, held)
        state_file = StateFile(state_path) if state_path is not None else None
        return cls(plan, engine, state_file=state_file, **kwargs)

    @property
    def replay(self) -> MarketReplay:
        """The current session's replay."""
        return self.engine.replay

    @property
    def has_clients(self) -> bool:
        """Whether an API client has connected (and is still connected)."""
        return bool(self._by_client)

    @property
    def simulator_id(self) -> str:
        """This simulator's identity (fresh per process, kept by a --state file)."""
        return str(self.accounts.simulator_id)

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
        if self.state_file is not None:
            self.state_file.save(self)
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
        """Match orders up to the clock, roll to the next session when its day starts, then
        stream what completed by then."""
        if self._account_dirty:
            self._push_account_updates()
        now = self.clock.now()
        if self._last_pump is not None and now <= self._last_pump:
            return
        if self.skip_nights and not self.clock.is_stepping:
            now = self._skip_night(now)
        self._last_pump = now
        self._roll_sessions(now)
        self.engine.advance(now)
        self._stream(now)
        if self.state_file is not None:
            self.state_file.save_if_due(self)

    def _roll_sessions(self, now: datetime) -> None:
        """Finish the current session (auction, DAY expiry) before the next one becomes current."""
        while True:
            current = self.engine.replay
            day = self.plan.day_at(now)
            if day <= current.day:
                return
            following = self.plan.next_day(current.day) or day
            self.engine.advance(current.session_close)
            replay = self.plan.replay(following)
            self.engine.set_replay(replay)
            self.feeds.set_replay(replay)
            self.streams.start_day()

    def _skip_night(self, now: datetime) -> datetime:
        close = self.engine.replay.session_close
        nxt = self.plan.next_open_after(close)
        if nxt is None or now < close + self.after_close or now >= nxt - self.lead:
            return now
        self.clock.advance_to(nxt - self.lead)
        return self.clock.now()

    def _stream(self, now: datetime) -> None:
        if self.data_paused:
            return  # between 1100 and 1101/1102 no market data flows; it catches up after
        for session in list(self._sessions):
            if session.ready:
                self.feeds.emit(session, now)
                self.streams.emit(session, now)

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
        """The owner's session, and the master API client's (it sees every client's orders)."""
        found = []
        for cid in (client_id, self.master_client_id):
            session = self._by_client.get(cid) if cid is not None else None
            if session is not None and session.ready and session not in found:
                found.append(session)
        return found

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
        session.send(enc.managed_accounts(self.managed_accounts()))
        session.send(enc.next_valid_id(self.orders.next_valid_id(cid)))
        for code in errors.FARM_NOTICES:
            session.send(enc.error(sv, -1, code, errors.message(code)))
        if self.timing is not None:
            self.timing.on_connected(session)

    def on_closed(self, session: ClientSession) -> None:
        if self.timing is not None:
            self.timing.on_closed(session)
        self._sessions.discard(session)
        if session.client_id is not None and self._by_client.get(session.client_id) is session:
            del self._by_client[session.client_id]

    def on_request(self, session: ClientSession, request: rq.Request) -> None:
        for observe in self.request_observers:  # e.g. sim/clock_hold.py: a client ready to trade
            observe(session, request)
        route = self._routes.get(type(request))
        if route is not None and self.timing is not None:
            self.timing.handle(session, request, route)
        elif route is not None:
            route(session, request)

    # -- engine listener (after the order desk): keep subscribed clients' books current --------
    def on_execution(self, execution: Any) -> None:
        """Positions at once (after IB's lag under realism); account values on the next pump
        (off the fill's reply path)."""
        if self.timing is not None:
            self.timing.lag.record(execution, self._position_changed)
        else:
            self._position_changed(execution.account, execution.symbol)
        if self.state_file is not None:
            self.state_file.dirty = True

    def _position_changed(self, account: str, symbol: str) -> None:
        for session in list(self._sessions):
            if session.ready and session.subs.positions:
                self.accounts.send_position_update(session, account, symbol)
        self._account_dirty = True

    def on_order_status(self, order: Any) -> None:
        if self.state_file is not None:
            self.state_file.dirty = True

    def _push_account_updates(self) -> None:
        self._account_dirty = False
        for session in list(self._sessions):
            if not session.ready:
                continue
            if session.subs.account_updates:
                self.accounts.send_account_updates(session, session.subs.account_updates)
            for req_id, account in session.subs.account_multi.items():
                self.accounts.send_account_multi(session, req_id, account, end=False)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sim.gateway`: see `sim/tws/cli.py` for the flags."""
    from sim.tws.cli import run

    return run(argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
