"""The order desk: client order ids <-> engine orders, and engine events -> TWS messages.

IB order ids belong to a clientId, so two clients may both use id 12. The engine has one id
space, so the desk keeps a two-way map `(client_id, order_id) <-> engine id`. The map lives as
long as the engine, which is what lets a reconnecting client (after a simulated Gateway restart)
see its own order ids again in openOrder / orderStatus / execDetails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sim.engine.exchange import OrderReject, SimOrder
from sim.market.sessions import NY
from sim.tws import encoders as enc
from sim.tws import errors
from sim.tws.contracts import stock
from sim.tws.requests import PlaceOrder

WORKING = frozenset({"PendingSubmit", "PreSubmitted", "Submitted", "ApiPending"})


@dataclass(frozen=True, slots=True)
class OrderKey:
    client_id: int
    order_id: int


def ib_time(t: datetime) -> str:
    """Execution/completion time as TWS writes it, with an explicit zone the client can parse."""
    return t.astimezone(NY).strftime("%Y%m%d %H:%M:%S America/New_York")


class OrderDesk:
    """Owns the id map and turns engine callbacks into messages for the owning client."""

    def __init__(
        self,
        engine: Any,
        sessions_of: Callable[[int], Iterable[Any]],
        now: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self._now = now
        self._sessions_of = sessions_of
        self._to_engine: dict[OrderKey, int] = {}
        self._to_client: dict[int, OrderKey] = {}
        self._next_engine_id = 1
        self.reject_next: int | None = None
        self._cancel_requested: set[int] = set()
        engine.add_listener(self)

    # -- ids ------------------------------------------------------------------------------
    def client_key(self, engine_id: int) -> OrderKey:
        return self._to_client.get(engine_id, OrderKey(0, engine_id))

    def next_valid_id(self, client_id: int) -> int:
        used = [k.order_id for k in self._to_engine if k.client_id == client_id]
        return max(used, default=0) + 1

    def view(self, order: Any) -> enc.OrderView:
        key = self.client_key(order.order_id)
        parent = self.client_key(order.parent_id).order_id if order.parent_id else 0
        return enc.OrderView(
            order_id=key.order_id, client_id=key.client_id, perm_id=order.perm_id,
            account=order.account, action=order.action, total_qty=order.total_qty,
            order_type=order.order_type, lmt_price=order.lmt_price, aux_price=order.aux_price,
            tif=order.tif, oca_group=order.oca_group, oca_type=order.oca_type, parent_id=parent,
            order_ref=order.order_ref, outside_rth=order.outside_rth, status=order.status,
        )

    # -- requests -------------------------------------------------------------------------
    def place(self, session: Any, req: PlaceOrder) -> None:
        """New order, or a modify when the client re-sends a working order's id (IB semantics);
        a finished order's id is 103. Faults (reject-next) apply before the engine sees it."""
        client_id = session.client_id
        key = OrderKey(client_id, req.order_id)
        sv = session.server_version
        existing_id = self._to_engine.get(key)
        if existing_id is not None:
            current = self._engine_order(existing_id)
            if current is None or current.status not in WORKING:
                session.send(enc.error(sv, req.order_id, errors.DUPLICATE_ORDER_ID,
                                       errors.message(errors.DUPLICATE_ORDER_ID)))
                return
        if self.reject_next is not None:
            code, self.reject_next = self.reject_next, None
            reason = "simulated rejection (fault injection)"
            session.send(enc.error(sv, req.order_id, code, errors.message(code, reason)))
            return
        if req.what_if:
            session.send(enc.error(sv, req.order_id, errors.ORDER_REJECTED, errors.message(
                errors.ORDER_REJECTED, "what-if (margin preview) orders are not simulated")))
            return
        engine_id = existing_id if existing_id is not None else self._allocate(key)
        parent_engine = self._to_engine.get(OrderKey(client_id, req.parent_id), 0) if req.parent_id else 0
        order = SimOrder(
            order_id=engine_id, client_id=client_id, account=req.account or self.engine.account_id,
            symbol=req.contract.ticker, action=req.action, total_qty=req.total_qty,
            order_type=req.order_type, lmt_price=req.lmt_price, aux_price=req.aux_price,
            tif=req.tif if req.tif in ("DAY", "GTC") else "DAY", oca_group=req.oca_group,
            oca_type=req.oca_type, parent_id=parent_engine, transmit=req.transmit,
            order_ref=req.order_ref, outside_rth=req.outside_rth,
        )
        try:
            self.engine.place(order)
        except OrderReject as exc:
            if existing_id is None:
                self._forget(key, engine_id)
            session.send(enc.error(sv, req.order_id, exc.code, exc.message))

    def cancel(self, session: Any, order_id: int) -> None:
        sv = session.server_version
        engine_id = self._to_engine.get(OrderKey(session.client_id, order_id))
        if engine_id is None:
            session.send(enc.error(sv, order_id, errors.UNKNOWN_ORDER, errors.message(errors.UNKNOWN_ORDER)))
            return
        self._cancel_requested.add(engine_id)
        try:
            self.engine.cancel(engine_id)
        except OrderReject as exc:
            self._cancel_requested.discard(engine_id)
            session.send(enc.error(sv, order_id, exc.code, exc.message))

    def cancel_all(self) -> None:
        """reqGlobalCancel: every working order, each confirmed with 202 like a cancelOrder."""
        self._cancel_requested.update(o.order_id for o in self.engine.open_orders())
        self.engine.cancel_all()

    def _allocate(self, key: OrderKey) -> int:
        while self.engine.order(self._next_engine_id) is not None or self._next_engine_id in self._to_client:
            self._next_engine_id += 1
        engine_id = self._next_engine_id
        self._next_engine_id += 1
        self._to_engine[key] = engine_id
        self._to_client[engine_id] = key
        return engine_id

    def _forget(self, key: OrderKey, engine_id: int) -> None:
        self._to_engine.pop(key, None)
        self._to_client.pop(engine_id, None)

    def _engine_order(self, engine_id: int) -> Any | None:
        return self.engine.order(engine_id)

    # -- startup snapshots ------------------------------------------------------------------
    def send_open_orders(self, session: Any) -> None:
        """reqOpenOrders: this client's working orders (all clients' for clientId 0)."""
        sv = session.server_version
        for order in self.engine.open_orders():
            key = self.client_key(order.order_id)
            if session.client_id not in (0, key.client_id):
                continue
            view = self.view(order)
            c = stock(order.symbol)
            session.send(enc.open_order(sv, view, c))
            session.send(self._status_fields(order, view))
        session.send(enc.open_order_end())

    def send_completed_orders(self, session: Any) -> None:
        sv = session.server_version
        for order in self.engine.orders():
            if order.status in WORKING:
                continue
            when = order.submitted_at or self._now()
            session.send(enc.completed_order(sv, self.view(order), stock(order.symbol), order.filled, ib_time(when)))
        session.send(enc.completed_orders_end())

    # -- engine listener --------------------------------------------------------------------
    def _status_fields(self, order: Any, view: enc.OrderView) -> list[object]:
        return enc.order_status(
            view.order_id, order.status, order.filled, order.remaining, order.avg_fill_price,
            order.perm_id, view.parent_id, order.last_fill_price, view.client_id,
        )

    def on_order_status(self, order: Any) -> None:
        if order.status == "PendingSubmit":
            return  # the client set PendingSubmit itself when it sent the order; TWS skips it too
        view = self.view(order)
        fields = self._status_fields(order, view)
        for session in self._sessions_of(view.client_id):
            session.send(fields)
        if order.status == "Cancelled" and order.order_id in self._cancel_requested:
            # TWS confirms a client's cancel with 202; OCA and DAY-expiry cancels get the status only
            self._cancel_requested.discard(order.order_id)
            for session in self._sessions_of(view.client_id):
                session.send(enc.error(session.server_version, view.order_id, errors.ORDER_CANCELLED,
                                       errors.message(errors.ORDER_CANCELLED)))

    def on_open_order(self, order: Any) -> None:
        if order.status == "PendingSubmit":
            return
        view = self.view(order)
        c = stock(order.symbol)
        for session in self._sessions_of(view.client_id):
            session.send(enc.open_order(session.server_version, view, c))

    def execution_view(self, ex: Any) -> enc.ExecutionView:
        key = self.client_key(ex.order_id)
        return enc.ExecutionView(
            exec_id=ex.exec_id, order_id=key.order_id, client_id=key.client_id, perm_id=ex.perm_id,
            account=ex.account, side=ex.side, shares=ex.shares, price=ex.price,
            time_str=ib_time(ex.time), cum_qty=ex.cum_qty, avg_price=ex.avg_price,
            order_ref=ex.order_ref,
        )

    def on_execution(self, ex: Any) -> None:
        """execDetails then, strictly after it, commissionReport, to the owning client."""
        view = self.execution_view(ex)
        c = stock(ex.symbol)
        report = enc.commission_report(ex.exec_id, ex.commission, ex.realized_pnl)
        for session in self._sessions_of(view.client_id):
            session.send(enc.exec_details(session.server_version, -1, c, view))
            session.send(report)
