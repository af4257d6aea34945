"""The order desk: client order ids <-> engine orders, and engine events -> TWS messages.

IB order ids belong to a clientId, so two clients may both use id 12. The engine has one id
space, so the desk keeps a two-way map `(client_id, order_id) <-> engine id`. The map lives as
long as the engine (and in the `--state` file), which is what lets a reconnecting client (after
a simulated Gateway restart) see its own order ids again in openOrder / orderStatus / execDetails.

A child order (parentId set) is only ever accepted under a parent the engine holds: the child of
a parent that was rejected (for example by the `reject-next` fault) or never sent is rejected
too, never accepted as a standalone order (rule R2 of `sim/engine/exchange.py`).

As IB reports them: a new order held because the market is closed gets the 399 warning before
its first status (`sim/tws/order_hours.py`); a TRAIL order's stop goes out in openOrder's
trailStopPrice each time it moves; whyHeld is empty, the only value IB documents for it being
"locate" (ibapi `EWrapper.orderStatus`: shares being located for a short sale), which a paper
account that borrows without limit never needs; a contract outside US stocks and ETFs is 200.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sim.engine.exchange import OrderReject, SimOrder
from sim.tws import asset_classes, errors, order_hours
from sim.tws import encoders as enc
from sim.tws import order_messages as om
from sim.tws.contracts import stock
from sim.tws.faults import OrderFilter
from sim.tws.requests import PlaceOrder
from sim.tws.times import IBTimeError, ib_time, ib_time_echo, parse_ib_time

WORKING = frozenset({"PendingSubmit", "PreSubmitted", "Submitted", "ApiPending"})
MISSING_EXCHANGE = "Error validating request.-'bN' : cause - Please enter exchange"


@dataclass(frozen=True, slots=True)
class OrderKey:
    client_id: int
    order_id: int


@dataclass(frozen=True, slots=True)
class ArmedReject:
    """The `reject-next` fault: reject the next order `only` accepts with IB error `code` (and
    the `reject-orders` fault: every one, until it is lifted)."""

    code: int
    only: OrderFilter


class GatewayOrderDesk:
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
        self._rejected: set[OrderKey] = set()
        self.rejections: list[dict[str, Any]] = []  # every new order refused: for the truth
        self._next_engine_id = 1
        self._max_order_id: dict[int, int] = {}  # per client: never hand out a used id again
        self.armed_reject: ArmedReject | None = None
        self.standing_reject: ArmedReject | None = None  # `reject-orders`: until lifted
        self._cancel_requested: set[int] = set()
        self.previews: Any = None  # set by the gateway: what-if figures (sim.tws.preview)
        self._warning_first: tuple[int, str] | None = None  # (engine id, 399 text) of the order being placed
        engine.add_listener(self)

    @property
    def reject_next(self) -> int | None:
        """The armed rejection code (None when nothing is armed)."""
        return None if self.armed_reject is None else self.armed_reject.code

    @reject_next.setter
    def reject_next(self, code: int | None) -> None:
        self.armed_reject = None if code is None else ArmedReject(code, OrderFilter())

    def _armed_for(self, req: Any) -> ArmedReject | None:
        """The rejection fault a new order meets: the one-shot `reject-next` first (used up),
        else the standing `reject-orders`."""
        armed = self.armed_reject
        if armed is not None and armed.only.accepts_request(req):
            self.armed_reject = None
            return armed
        standing = self.standing_reject
        if standing is not None and standing.only.accepts_request(req):
            return standing
        return None

    # -- ids ------------------------------------------------------------------------------
    def client_key(self, engine_id: int) -> OrderKey:
        return self._to_client.get(engine_id, OrderKey(0, engine_id))

    def engine_order(self, client_id: int, order_id: int) -> SimOrder | None:
        """The engine's order behind a client's order id (any status), if there is one."""
        engine_id = self._to_engine.get(OrderKey(client_id, order_id))
        return None if engine_id is None else self.engine.order(engine_id)

    def next_valid_id(self, client_id: int) -> int:
        return self._max_order_id.get(client_id, 0) + 1

    def view(self, order: SimOrder) -> om.OrderView:
        key = self.client_key(order.order_id)
        parent = self.client_key(order.parent_id).order_id if order.parent_id else 0
        return om.OrderView(
            order_id=key.order_id, client_id=key.client_id, perm_id=order.perm_id,
            account=order.account, action=order.action, total_qty=order.total_qty,
            order_type=order.order_type, lmt_price=order.lmt_price, aux_price=order.aux_price,
            tif=order.tif, oca_group=order.oca_group, oca_type=order.oca_type, parent_id=parent,
            order_ref=order.order_ref, outside_rth=order.outside_rth, status=order.status,
            good_after=ib_time_echo(order.good_after), good_till=ib_time_echo(order.good_till),
            trail_stop=order.trail_stop, trail_percent=order.trail_percent,
            why_held="",  # IB documents only "locate" (see the module doc)
        )

    def mapping(self) -> list[tuple[int, int, int]]:
        """(engine id, client id, client order id) of every order: for the `--state` file."""
        return [(e, k.client_id, k.order_id) for e, k in sorted(self._to_client.items())]

    def restore_mapping(self, rows: Iterable[tuple[int, int, int]], max_ids: dict[int, int]) -> None:
        for engine_id, client_id, order_id in rows:
            key = OrderKey(client_id, order_id)
            self._to_engine[key] = engine_id
            self._to_client[engine_id] = key
            self._note_id(key)
        for client_id, order_id in max_ids.items():
            self._note_id(OrderKey(client_id, order_id))
        self._next_engine_id = max(self._to_client, default=0) + 1

    def max_ids(self) -> dict[int, int]:
        return dict(self._max_order_id)

    def _note_id(self, key: OrderKey) -> None:
        if key.order_id > self._max_order_id.get(key.client_id, 0):
            self._max_order_id[key.client_id] = key.order_id

    # -- requests -------------------------------------------------------------------------
    def place(self, session: Any, req: PlaceOrder) -> None:
        """New order, or a modify when the client re-sends a working order's id (IB semantics);
        a finished order's id is 103. Faults (reject-next) apply before the engine sees it."""
        client_id = session.client_id
        key = OrderKey(client_id, req.order_id)
        send_error = self._error_to(session, req.order_id)
        if req.what_if:
            self._preview(session, req)
            return
        if not req.contract.exchange:
            send_error(errors.VALIDATION_ERROR, MISSING_EXCHANGE)
            return
        refusal = asset_classes.refusal(req.contract)
        if refusal is not None and self._to_engine.get(key) is None:
            self._note_id(key)
            self._refuse(key, req, errors.NO_SECURITY_DEFINITION)
            send_error(errors.NO_SECURITY_DEFINITION, refusal)
            return
        existing_id = self._to_engine.get(key)
        if existing_id is not None:
            current = self.engine.order(existing_id)
            if current is None or current.status not in WORKING:
                send_error(errors.DUPLICATE_ORDER_ID, errors.message(errors.DUPLICATE_ORDER_ID))
                return
        elif key in self._rejected:
            send_error(errors.DUPLICATE_ORDER_ID, errors.message(errors.DUPLICATE_ORDER_ID))
            return
        self._note_id(key)
        armed = self._armed_for(req) if existing_id is None else None
        if armed is not None:
            self._refuse(key, req, armed.code)
            send_error(armed.code, errors.message(armed.code, "simulated rejection (fault injection)"))
            self._transmit_held_parent(client_id, req)
            return
        parent_engine = 0
        if req.parent_id:
            parent_key = OrderKey(client_id, req.parent_id)
            if parent_key in self._rejected:
                self._refuse(key, req, errors.ORDER_REJECTED)
                send_error(errors.ORDER_REJECTED, errors.message(
                    errors.ORDER_REJECTED, f"parent order {req.parent_id} was rejected; "
                    "its children are cancelled with it"))
                return
            parent_engine = self._to_engine.get(parent_key, 0)
            if not parent_engine:
                self._refuse(key, req, errors.MISSING_PARENT_ORDER)
                send_error(errors.MISSING_PARENT_ORDER, errors.message(errors.MISSING_PARENT_ORDER))
                return
        try:
            good_after = parse_ib_time(req.good_after)
            good_till = parse_ib_time(req.good_till)
        except IBTimeError as exc:
            self._refuse(key, req, errors.ORDER_REJECTED)
            send_error(errors.ORDER_REJECTED, errors.message(errors.ORDER_REJECTED, f"goodAfterTime/goodTillDate {exc}"))
            return
        engine_id = existing_id if existing_id is not None else self._allocate(key)
        order = SimOrder(
            order_id=engine_id, client_id=client_id, account=req.account or self.engine.account_id,
            symbol=req.contract.ticker, action=req.action, total_qty=req.total_qty,
            order_type=req.order_type, lmt_price=req.lmt_price, aux_price=req.aux_price,
            tif=req.tif or "DAY", oca_group=req.oca_group, oca_type=req.oca_type,
            parent_id=parent_engine, transmit=req.transmit, order_ref=req.order_ref,
            outside_rth=req.outside_rth, good_after=good_after, good_till=good_till,
            trail_stop=req.trail_stop, trail_percent=req.trail_percent,
        )
        warning = order_hours.warning(req, self.engine.replay, self._now()) if existing_id is None else None
        self._warning_first = (engine_id, warning) if warning else None
        try:
            self.engine.place(order)
        except OrderReject as exc:
            if existing_id is None:
                self._forget(key, engine_id)
                self._refuse(key, req, exc.code)
                self._transmit_held_parent(client_id, req)
            send_error(exc.code, exc.message)
        finally:
            self._warning_first = None

    def _refuse(self, key: OrderKey, req: PlaceOrder, code: int) -> None:
        """Remember a refused new order: its id is never reused, and its ref was sent."""
        self._rejected.add(key)
        self.rejections.append({
            "client_id": key.client_id, "client_order_id": key.order_id, "ref": req.order_ref,
            "symbol": req.contract.ticker, "action": req.action, "type": req.order_type,
            "qty": req.total_qty, "parent_client_order_id": req.parent_id, "code": code,
            "time": self._now().isoformat(),
        })

    def _transmit_held_parent(self, client_id: int, req: PlaceOrder) -> None:
        """A rejected last leg (transmit=True) was still the signal for TWS to send its held
        parent and siblings on: the server rejects the leg, the rest of the group works."""
        parent_engine = self._to_engine.get(OrderKey(client_id, req.parent_id)) if req.parent_id else None
        if req.transmit and parent_engine:
            self.engine.transmit(parent_engine)

    def _preview(self, session: Any, req: PlaceOrder) -> None:
        """whatIf: an openOrder carrying the margin and commission figures, nothing placed."""
        if self.previews is None:
            self._error_to(session, req.order_id)(errors.ORDER_REJECTED, errors.message(
                errors.ORDER_REJECTED, "what-if orders are not available"))
            return
        self.previews.answer(session, req)

    def cancel(self, session: Any, order_id: int) -> None:
        engine_id = self._to_engine.get(OrderKey(session.client_id, order_id))
        if engine_id is None:
            self._error_to(session, order_id)(errors.UNKNOWN_ORDER, errors.message(errors.UNKNOWN_ORDER))
            return
        self._cancel_requested.add(engine_id)
        try:
            self.engine.cancel(engine_id)
        except OrderReject as exc:
            self._cancel_requested.discard(engine_id)
            self._error_to(session, order_id)(exc.code, exc.message)

    def place_from_tws(self, account: str, symbol: str, action: str, qty: float, ref: str = "",
                       client_id: int = 0) -> SimOrder:
        """A market order placed outside the API clients served here: a person in TWS (client
        id 0), or another program's order (the campaign's manual sale, a weekly fill). Raises
        OrderReject as the engine does."""
        key = OrderKey(client_id, self.next_valid_id(client_id))
        self._note_id(key)
        order = SimOrder(
            order_id=self._allocate(key), client_id=client_id, account=account,
            symbol=symbol.upper(), action=action, total_qty=float(qty), order_type="MKT",
            order_ref=ref,
        )
        self.engine.place(order)
        return order

    def cancel_from_tws(self, engine_ids: Iterable[int]) -> list[int]:
        """Cancel working orders as a person in TWS would: the owner gets Cancelled + 202."""
        done = []
        for engine_id in engine_ids:
            order = self.engine.order(engine_id)
            if order is None or not order.is_working:
                continue
            self._cancel_requested.add(engine_id)
            self.engine.cancel(engine_id)
            done.append(engine_id)
        return done

    def cancel_all(self) -> None:
        """reqGlobalCancel: every working order, each confirmed with 202 like a cancelOrder."""
        self._cancel_requested.update(o.order_id for o in self.engine.open_orders())
        self.engine.cancel_all()

    def _error_to(self, session: Any, order_id: int) -> Callable[[int, str], None]:
        def send(code: int, text: str) -> None:
            session.send(enc.error(session.server_version, order_id, code, text))

        return send

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

    # -- startup snapshots ------------------------------------------------------------------
    def send_open_orders(self, session: Any, every_client: bool = False) -> None:
        """reqOpenOrders: this client's working orders (all clients' for clientId 0);
        reqAllOpenOrders (`every_client`): every client's, as IB's "Open Orders" page says (a
        bot restarted under another client id can see the exits it left)."""
        sv = session.server_version
        for order in self.engine.open_orders():
            key = self.client_key(order.order_id)
            if not every_client and session.client_id not in (0, key.client_id):
                continue
            view = self.view(order)
            session.send(om.open_order(sv, view, stock(order.symbol)))
            session.send(self._status_fields(order, view))
        session.send(om.open_order_end())

    def send_completed_orders(self, session: Any) -> None:
        sv = session.server_version
        for order in self.engine.orders():
            if order.status in WORKING:
                continue
            when = order.completed_at or order.submitted_at or self._now()
            session.send(om.completed_order(sv, self.view(order), stock(order.symbol), order.filled, ib_time(when)))
        session.send(om.completed_orders_end())

    # -- engine listener --------------------------------------------------------------------
    def _status_fields(self, order: SimOrder, view: om.OrderView) -> list[object]:
        return om.order_status(
            view.order_id, order.status, order.filled, order.remaining, order.avg_fill_price,
            order.perm_id, view.parent_id, order.last_fill_price, view.client_id, view.why_held,
        )

    def on_order_status(self, order: SimOrder) -> None:
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
                session.send(enc.error(session.server_version, view.order_id,
                                       errors.ORDER_CANCELLED, errors.message(errors.ORDER_CANCELLED)))

    def on_open_order(self, order: SimOrder) -> None:
        if order.status == "PendingSubmit":
            return
        view = self.view(order)
        c = stock(order.symbol)
        warning = self._warning_first
        if warning is not None and warning[0] == order.order_id:
            self._warning_first = None  # sent once, right before the order's first status
        else:
            warning = None
        for session in self._sessions_of(view.client_id):
            if warning is not None:
                session.send(enc.error(session.server_version, view.order_id, errors.ORDER_MESSAGE, warning[1]))
            session.send(om.open_order(session.server_version, view, c))

    def on_order_update(self, order: SimOrder) -> None:
        """A TRAIL's stop moved: openOrder with the new trailStopPrice (no status change)."""
        self.on_open_order(order)

    def execution_view(self, ex: Any) -> om.ExecutionView:
        key = self.client_key(ex.order_id)
        return om.ExecutionView(
            exec_id=ex.exec_id, order_id=key.order_id, client_id=key.client_id, perm_id=ex.perm_id,
            account=ex.account, side=ex.side, shares=ex.shares, price=ex.price,
            time_str=ib_time(ex.time), cum_qty=ex.cum_qty, avg_price=ex.avg_price,
            order_ref=ex.order_ref,
        )

    def on_execution(self, ex: Any) -> None:
        """execDetails then, strictly after it, commissionReport, to the owning client."""
        view = self.execution_view(ex)
        c = stock(ex.symbol)
        report = om.commission_report(ex.exec_id, ex.commission, ex.realized_pnl)
        for session in self._sessions_of(view.client_id):
            session.send(om.exec_details(session.server_version, -1, c, view))
            session.send(report)
