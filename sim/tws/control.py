"""The gateway's fault and clock handle: what tests call in Python and the admin port maps onto.

A mixin of `GatewaySimulator` so that `sim/tws/faults.py` (the admin protocol) and a test calling
`gateway.restart(5)` run exactly the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sim.tws import encoders as enc
from sim.tws import errors
from sim.tws.faults import OrderFilter
from sim.tws.orders import ArmedReject
from sim.tws.truth import broker_truth

if TYPE_CHECKING:
    from sim.engine.exchange import MatchingEngine
    from sim.market.clock import ReplayClock
    from sim.tws.feeds import MarketFeeds
    from sim.tws.orders import GatewayOrderDesk
    from sim.tws.session import ClientSession


class GatewayControls:
    """Faults (restart, refusal, connectivity, rejections, partial fills, TWS cancels), speed,
    stepping and the broker's truth."""

    engine: MatchingEngine
    orders: GatewayOrderDesk
    feeds: MarketFeeds
    clock: ReplayClock
    refusing: bool
    data_paused: bool
    _sessions: set[ClientSession]
    _by_client: dict[int, ClientSession]
    _reopen: asyncio.TimerHandle | None
    _server: asyncio.Server | None

    if TYPE_CHECKING:  # provided by GatewaySimulator; declared for the checker only
        def now(self) -> datetime: ...
        async def _listen(self) -> None: ...
        def _stream(self, now: datetime) -> None: ...
        def step(self, seconds: float) -> None: ...

    def restart(self, refuse_seconds: float = 5.0) -> None:
        """A Gateway restart: every socket dropped, connections refused for `refuse_seconds`.

        The engine, its orders, executions and positions live on, and so does the clock (so a
        restart may span the flatten time or the close: orders keep working meanwhile).
        """
        if self._server is not None:
            self._server.close()
            self._server = None
        self.refusing = True
        for session in list(self._sessions):
            session.close()
        loop = asyncio.get_running_loop()
        if self._reopen is not None:
            self._reopen.cancel()
        self._reopen = loop.call_later(refuse_seconds, lambda: loop.create_task(self._listen()))

    def _broadcast_error(self, code: int) -> None:
        for session in list(self._sessions):
            if session.ready:
                session.send(enc.error(session.server_version, -1, code, errors.message(code)))

    def connectivity_lost(self) -> None:
        """1100: sockets stay open, market data stops until connectivity is restored."""
        self.data_paused = True
        self._broadcast_error(errors.CONNECTIVITY_LOST)

    def connectivity_restored(self, data_kept: bool = True) -> None:
        """1102: streams resume and catch up in order; 1101: subscriptions are gone (as at
        IB, the client must request its market data again)."""
        self.data_paused = False
        if not data_kept:
            for session in self._sessions:
                session.subs.drop_market_data()
        self._broadcast_error(
            errors.CONNECTIVITY_RESTORED_DATA_KEPT if data_kept else errors.CONNECTIVITY_RESTORED_DATA_LOST
        )
        self._stream(self.now())

    def reject_next_order(self, code: int = errors.ORDER_REJECTED, only: OrderFilter | None = None) -> None:
        """The next order `only` accepts (default: any) is rejected with IB error `code`."""
        self.orders.armed_reject = ArmedReject(code, only or OrderFilter())

    def reject_orders(self, code: int | None, only: OrderFilter | None = None) -> None:
        """Every new order `only` accepts is rejected with IB error `code` until lifted (`code`
        None): an order IB keeps refusing, e.g. exits for a symbol it will not take orders in
        (a halt, a missing trading permission, a price outside its limits)."""
        self.orders.standing_reject = None if code is None else ArmedReject(code, only or OrderFilter())

    def reject_next_child(self, code: int = errors.ORDER_REJECTED, only: OrderFilter | None = None) -> None:
        base = only or OrderFilter()
        self.reject_next_order(code, OrderFilter("child", base.order_type, base.action, base.symbol, base.ref))

    def partial_fill_next(self, fraction: float = 0.5, only: OrderFilter | None = None) -> None:
        """The next fill of an order `only` accepts (default: any) takes `fraction` of it."""
        accepts: Callable[[Any], bool] | None = None if only is None else only.accepts_order
        self.engine.inject_partial_fill_next(fraction, accepts)

    def cancel_order_from_tws(self, target: str | int) -> list[int]:
        """Cancel working orders as a person in TWS would (engine id, orderRef or symbol);
        returns the engine ids cancelled. The owning client gets Cancelled and error 202."""
        working = self.engine.open_orders()
        text = str(target).strip()
        chosen: Iterable[int]
        if text.isdigit() and any(o.order_id == int(text) for o in working):
            chosen = [int(text)]
        elif any(o.order_ref == text for o in working):
            chosen = [o.order_id for o in working if o.order_ref == text]
        else:
            chosen = [o.order_id for o in working if o.symbol == text.upper()]
        return self.orders.cancel_from_tws(sorted(chosen))

    def pacing_violation_next(self) -> None:
        self.feeds.pacing_next = True

    def set_speed(self, speed: float | None) -> None:
        self.clock.speed = speed

    def brake_at(self, at: datetime, speed: float) -> None:
        """Slow the clock to `speed` exactly when it reaches `at` (sim/market/clock.py)."""
        self.clock.brake_at(at, speed)

    def state(self) -> dict[str, Any]:
        """The broker's truth (`sim/tws/truth.py`): accounts, every order, every execution."""
        return broker_truth(self.engine, lambda eid: self.orders.client_key(eid).order_id, self.now(),
                            self.orders.rejections)

    def status(self) -> str:
        clients = ",".join(str(c) for c in sorted(self._by_client)) or "none"
        speed = "step" if self.clock.is_stepping else f"{self.clock.speed:g}x"
        return (
            f"time={self.now().isoformat()} speed={speed} clients={clients} "
            f"open_orders={len(self.engine.open_orders())} positions={len(self.engine.positions())} "
            f"refusing={int(self.refusing)}"
        )
