"""The realism at work in one gateway (`sim/tws/realism.py` says what is modelled and why).

The gateway hands it every request (`handle`), every connection coming and going, and every
execution; it answers through each connection's `Courier` (`sim/tws/courier.py`):

- snapshot requests (positions, open orders, executions, account, history...) are handled after
  their kind's latency, in order per lane, their reply one batch;
- placeOrder/cancelOrder are handled at once (TWS holds the order at once; the engine may fill
  it) but everything they cause reaches the client after the acknowledgement latency, and a
  placement that filled at once may lose its orderStatus messages;
- a modification that clears a held order's goodAfterTime is refused when the model says so,
  and a new order held by goodAfterTime gets IB's 399 warning;
- positions lag executions (`PositionLag`): reqPositions answers, position pushes and portfolio
  updates show the position as it was `position_lag` ago, never a state that did not exist;
- a (re)connecting client is sent openOrder/orderStatus of its open orders and of those that
  changed while it was away.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from sim.engine.lifecycle import HELD_UNTIL_TIME
from sim.market.sessions import NY
from sim.tws import encoders as enc
from sim.tws import errors
from sim.tws import order_messages as om
from sim.tws import requests as rq
from sim.tws.contracts import stock
from sim.tws.courier import Courier
from sim.tws.realism import Realism

HELD_ORDER_WARNING = errors.ORDER_MESSAGE  # IB 399: "Order Message: ... will not be placed ... until"
REFUSALS = {
    201: "Order rejected - reason: the goodAfterTime of a working order cannot be changed by a "
         "modification; cancel the order and place a new one",
    105: "Order being modified does not match the original order.",
}
SIMPLE_KINDS = {
    rq.REQ_POSITIONS: ("positions", "positions"), rq.CANCEL_POSITIONS: ("positions", "positions"),
    rq.REQ_OPEN_ORDERS: ("open_orders", "open_orders"),
    rq.REQ_ALL_OPEN_ORDERS: ("all_open_orders", "all_open_orders"),
    rq.REQ_COMPLETED_ORDERS: ("completed_orders", "completed_orders"),
    rq.REQ_CURRENT_TIME: ("current_time", "current_time"), rq.REQ_MANAGED_ACCTS: ("other", "other"),
}
TYPED_KINDS: dict[type, str] = {  # request type -> its latency kind
    rq.ExecutionsRequest: "executions", rq.AccountUpdatesRequest: "account_updates",
    rq.AccountSummaryRequest: "account_summary", rq.ContractDetailsRequest: "contract_details",
    rq.IdsRequest: "ids", rq.HistoricalDataRequest: "history", rq.RealTimeBarsRequest: "market_data",
    rq.MarketDataRequest: "market_data", rq.CancelById: "market_data",
    rq.AccountUpdatesMultiRequest: "account_updates", rq.ServiceRequest: "other",
}


class PositionLag:
    """Positions as IB reports them: behind the executions by a drawn lag (ib_async issue 15,
    "ib.positions() may have a delay in updating position quantities"). The lags of one
    account's symbol never reorder executions, so the view only ever shows states that were."""

    def __init__(self, engine: Any, realism: Realism, rng: random.Random) -> None:
        self.engine = engine
        self.realism = realism
        self.rng = rng
        self._pending: list[tuple[float, str, str, float]] = []  # (due, account, symbol, shares)
        self._last_due: dict[tuple[str, str], float] = {}
        self._avg: dict[tuple[str, str], float] = {}

    @staticmethod
    def _now() -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return float("inf")  # no loop (an engine driven directly): nothing lags

    def record(self, execution: Any, shown: Callable[[str, str], None]) -> None:
        """An execution happened: it shows in positions after the lag, then `shown(account,
        symbol)` pushes it to subscribed clients."""
        key = (execution.account, execution.symbol)
        held = self.engine.positions(execution.account).get(execution.symbol)
        if held is not None:
            self._avg[key] = held[1]
        else:
            self._avg.setdefault(key, execution.price)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            shown(*key)
            return
        due = max(loop.time() + self.realism.position_lag.draw(self.rng), self._last_due.get(key, 0.0))
        self._last_due[key] = due
        signed = execution.shares if execution.side == "BOT" else -execution.shares
        self._pending.append((due, execution.account, execution.symbol, signed))
        loop.call_at(due, shown, *key)

    def positions(self, account: str) -> dict[str, tuple[float, float]]:
        """The account's positions as reported now: {symbol: (shares, average cost)}."""
        now = self._now()
        self._pending = [p for p in self._pending if p[0] > now]
        held = {s: [q, avg] for s, (q, avg) in self.engine.positions(account).items()}
        for symbol, (_qty, avg) in held.items():
            self._avg[(account, symbol)] = avg
        for _due, acct, symbol, signed in self._pending:
            if acct == account:
                entry = held.setdefault(symbol, [0.0, self._avg.get((acct, symbol), 0.0)])
                entry[0] -= signed
        return {s: (q, avg) for s, (q, avg) in held.items() if abs(q) > 1e-9}


class IBTiming:
    """The gateway's side of the realism: requests, connections, executions."""

    def __init__(self, realism: Realism, engine: Any, orders: Any) -> None:
        self.realism = realism
        self.engine = engine
        self.orders = orders
        self.rng = random.Random(f"realism:{realism.seed}")
        self.lag = PositionLag(engine, realism, random.Random(f"realism-positions:{realism.seed}"))
        self._changes = 0
        self._changed_at: dict[int, int] = {}  # engine order id -> change number
        self._left_at: dict[int, int] = {}  # client id -> change number when it disconnected
        self._connections = 0
        engine.children_on_partial_fill = realism.children_on_partial_fill
        engine.add_listener(self)

    # -- engine listener: which orders changed, for the reconnect push --------------------------
    def on_order_status(self, order: Any) -> None:
        self._changes += 1
        self._changed_at[order.order_id] = self._changes

    # -- connections ------------------------------------------------------------------------------
    def on_connected(self, session: Any) -> None:
        """A client passed startApi: give it a courier, then push its orders' statuses."""
        self._connections += 1
        rng = random.Random(f"realism:{self.realism.seed}:{session.client_id}:{self._connections}")
        session.courier = Courier(session.write_fields, self.realism, rng, asyncio.get_running_loop())
        if self.realism.reconnect_push:
            self._push_statuses(session)

    def _push_statuses(self, session: Any) -> None:
        """IB's API guide on orderStatus: "It is also fired after reconnecting to TWS if the
        client has any open orders" - and a client that was away hears how its orders ended."""
        left = self._left_at.get(session.client_id)
        for order in sorted(self.engine.orders(), key=lambda o: o.order_id):
            key = self.orders.client_key(order.order_id)
            if key.client_id != session.client_id or order.status == "PendingSubmit":
                continue
            changed = left is not None and self._changed_at.get(order.order_id, 0) > left
            if order.is_working or changed:
                view = self.orders.view(order)
                session.send(om.open_order(session.server_version, view, stock(order.symbol)))
                session.send(om.order_status(
                    view.order_id, order.status, order.filled, order.remaining, order.avg_fill_price,
                    order.perm_id, view.parent_id, order.last_fill_price, view.client_id, view.why_held))

    def on_closed(self, session: Any) -> None:
        if session.client_id is not None:
            self._left_at[session.client_id] = self._changes
        courier = getattr(session, "courier", None)
        if courier is not None:
            courier.close()

    # -- requests ---------------------------------------------------------------------------------
    def handle(self, session: Any, request: Any, route: Callable[[Any, Any], None]) -> None:
        courier: Courier | None = getattr(session, "courier", None)
        if courier is None:
            route(session, request)
            return
        if isinstance(request, rq.PlaceOrder):
            self._place(session, courier, request, route)
            return
        if isinstance(request, rq.CancelOrder) or (
                isinstance(request, rq.Simple) and request.msg_id == rq.REQ_GLOBAL_CANCEL):
            order_id = request.order_id if isinstance(request, rq.CancelOrder) else None
            with courier.acting("cancel_ack", order_id, self._draw("cancel_ack")):
                route(session, request)
            return
        kind, lane = self._kind(request)

        def answer() -> None:
            with courier.replying(kind):
                route(session, request)

        courier.defer(lane, self._draw(kind), answer)

    @staticmethod
    def _kind(request: Any) -> tuple[str, str]:
        """(latency kind, FIFO lane). Requests without a request id (positions, open orders,
        account updates...) are answered in order per kind; those with one in order per id,
        so a cancel never overtakes its request while different requests proceed in parallel."""
        if isinstance(request, rq.Simple):
            return SIMPLE_KINDS.get(request.msg_id, ("other", "other"))
        kind = TYPED_KINDS.get(type(request), "other")
        req_id = getattr(request, "req_id", None)
        return kind, kind if req_id is None or req_id < 0 else f"request {req_id}"

    def _draw(self, kind: str) -> float:
        return self.realism.reply_delay(kind).draw(self.rng)

    def _place(self, session: Any, courier: Courier, req: rq.PlaceOrder,
               route: Callable[[Any, Any], None]) -> None:
        existing = self.orders.engine_order(session.client_id, req.order_id)
        with courier.acting("place_ack", req.order_id, self._draw("place_ack")) as handling:
            if existing is not None and self._refuse_release(session, req, existing):
                return
            route(session, req)
            placed = self.orders.engine_order(session.client_id, req.order_id)
            if existing is None and placed is not None and self._held_by_time(placed):
                handling.prefix.append(enc.error(
                    session.server_version, req.order_id, HELD_ORDER_WARNING, held_warning(placed)))

    def _held_by_time(self, order: Any) -> bool:
        return self.realism.held_warning and held_by_time(order)

    def _refuse_release(self, session: Any, req: rq.PlaceOrder, order: Any) -> bool:
        """IB's "Modifying Orders" page advises changing only price, size and tif and cancelling
        otherwise; when the model refuses, a modify that clears the held order's goodAfterTime
        gets an error and the order stays held (the bot's release of its backstop)."""
        code = self.realism.release_refusal
        if not code or req.good_after or not held_by_time(order):
            return False
        session.send(enc.error(session.server_version, req.order_id, code, REFUSALS[code]))
        return True


def held_by_time(order: Any) -> bool:
    """Accepted, working, and held until its goodAfterTime (rule R6 of sim/engine/exchange.py)."""
    return bool(order.is_working and order.good_after is not None and order.why_held == HELD_UNTIL_TIME)


def held_warning(order: Any) -> str:
    """IB's 399 text for an order it accepted and holds until its goodAfterTime."""
    qty = int(order.total_qty) if float(order.total_qty).is_integer() else order.total_qty
    until = order.good_after.astimezone(NY).strftime("%Y-%m-%d %H:%M:%S")
    return (f"Order Message:\n{order.action} {qty} {order.symbol} {stock(order.symbol).primary_exchange}\n"
            f"Warning: Your order will not be placed at the exchange until {until} US/Eastern")
