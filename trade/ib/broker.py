"""IBBroker: the Broker port over the IB client library (a real Gateway/TWS or sim/gateway.py).

Brackets are sent as IB expects them: the parent with `transmit=False`, the take-profit, the
stop and the backstop as children (`parentId`) sharing an OCA group, the last child with
`transmit=True`, so the legs reach the Gateway together and the exits live at the broker: a
crashed bot leaves no unprotected position. The backstop is a market sell with IB's
`goodAfterTime` (held until the backstop time, then a normal market order) in the same OCA group,
so whichever exit executes first cancels the others ("reduce with block": a partial fill shrinks
the other legs, so the group never sells more than the position). Every order carries the
caller's deterministic `orderRef`, which IB echoes on open orders and executions, so a restarted
bot recognises its own orders.

Everything is scoped to the trading account: a login with linked accounts reports positions,
orders and executions of all of them, and the core must never see another account's shares.
Contracts, historical and real-time bars live in the base class `IBMarketData`
(trade/ib/market_data.py), the routing of IB's events and errors in `IBEventRouting`
(trade/ib/broker_events.py); this module keeps the reads, the orders and the clock sampling.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from ib_async import Contract, ExecutionFilter, Order

from observability.redaction import mask_account
from trade.broker import (
    BrokerError,
    ConnectionState,
    OrderRejected,
    UnknownAccount,
    exit_submission_order,
)
from trade.ib import errors as ib_errors
from trade.ib import translate
from trade.ib.broker_events import IBEventRouting
from trade.ib.connection import IBConnection
from trade.ib.reads import SharedReads, bounded
from trade.ib.server_clock import FAST_RATE, ServerClock
from trade.models import (
    Account,
    BracketTickets,
    ExitTickets,
    Fill,
    OrderRef,
    OrderStatus,
    OrderTicket,
    Position,
    Side,
)
from trade.ticks import round_to_tick

log = logging.getLogger(__name__)

OCA_REDUCE_WITH_BLOCK = 2  # a partial fill of one exit shrinks its sibling, never over-sells
CLOCK_SYNC_TIMEOUT_S = 2.0
MODIFY_ACK_S = 2.0  # how long a modification waits for IB's acknowledgement or refusal


class IBBroker(IBEventRouting):
    """Implements `trade.broker.Broker` over one shared `IBConnection`."""

    def __init__(self, connection: IBConnection, account: str = "") -> None:
        # the connection, the clock, market data, and the routing of IB's events
        super().__init__(connection, ServerClock(), account)
        self._reads = SharedReads()
        self._clock_task: asyncio.Task[None] | None = None
        # one reqCurrentTime in flight at a time: ib_async keys that request by a fixed name, so
        # a second concurrent one overwrites the first, which then never completes
        self._clock_lock = asyncio.Lock()
        connection.add_restore_hook(self._restore)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """After connecting: pick the account and synchronise the clock with the server's."""
        accounts = self._ib.managedAccounts()
        if not accounts:
            raise BrokerError("the Gateway reported no managed account")
        if not self._account:
            self._account = accounts[0]
        elif self._account not in accounts:
            have = ", ".join(mask_account(a) for a in accounts)
            raise UnknownAccount(
                f"--account {mask_account(self._account)} is not an account of this login (it has "
                f"{have}): pass one of those, or leave --account out to trade the first")
        await self._sync_clock()
        if self._clock_task is None:
            self._clock_task = asyncio.get_running_loop().create_task(self._clock_loop())

    async def stop(self) -> None:
        if self._clock_task is not None:
            self._clock_task.cancel()
            self._clock_task = None

    @property
    def account_id(self) -> str:
        return self._account

    @property
    def client_id(self) -> int:
        return self._conn.client_id

    async def _sync_clock(self) -> datetime:
        """One server-time sample, bounded: a lost reply must never hang a caller."""
        async with self._clock_lock:
            server_time = translate.to_ny(await asyncio.wait_for(
                self._ib.reqCurrentTimeAsync(), CLOCK_SYNC_TIMEOUT_S))
        self._clock.sample(server_time)
        return server_time

    async def _clock_loop(self) -> None:
        while True:  # a fast simulator's clock is sampled 5x as often: a sample is minutes there
            await asyncio.sleep(0.2 if self._clock.rate >= FAST_RATE else 1.0)
            if self._ib.isConnected():
                try:
                    await self._sync_clock()
                except (TimeoutError, ConnectionError, OSError):
                    pass

    async def _restore(self) -> None:
        """After a reconnect: clock, then market data (before the trader reconciles)."""
        try:
            await self._sync_clock()
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.warning("server clock not resynchronised after the reconnect (%s); the clock "
                        "loop keeps trying", type(exc).__name__)
        for symbol, stream in self._streams.items():
            stream.builder.restart()
            stream.subscription = self._request_realtime(symbol, stream)

    # -- reads ----------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._clock.now()

    async def server_now(self) -> datetime:
        if not self._ib.isConnected():
            return self._clock.unconfirmed()
        try:
            return await self._sync_clock()
        except (TimeoutError, ConnectionError, OSError):
            return self._clock.unconfirmed()

    async def account(self) -> Account:
        return translate.account(self._account, self._ib.accountValues(self._account))

    async def positions(self) -> list[Position]:
        self._require_connection()
        items = await self._reads.read("positions", "positions", self._ib.reqPositionsAsync)
        return [translate.position(p) for p in items
                if p.position != 0 and self._in_account(p.account)]

    async def open_orders(self) -> list[OrderTicket]:
        """The orders IB lists in its answer to reqOpenOrders, not the client's cache of trades:
        IB does not promise an orderStatus for every change (an order that executed at once may
        never be reported Filled), so a cached trade can look working long after it is done."""
        self._require_connection()
        trades = await self._reads.read("openOrders", "open orders", self._ib.reqOpenOrdersAsync)
        return self._working(trades)

    async def all_open_orders(self) -> list[OrderTicket]:
        self._require_connection()
        trades = await self._reads.read("openOrders", "all open orders",
                                        self._ib.reqAllOpenOrdersAsync)
        return self._working(trades)

    async def completed_orders(self) -> list[OrderTicket]:
        self._require_connection()
        trades = await self._reads.read("completedOrders", "completed orders",
                                        lambda: self._ib.reqCompletedOrdersAsync(True))
        tickets = []
        for trade in trades:
            if not self._in_account(trade.order.account):
                continue
            ticket = translate.order_ticket(trade)
            ticket.filled = translate.quantity(trade.order.filledQuantity)  # not in its status
            tickets.append(ticket)
        return tickets

    def _working(self, trades: list[Any]) -> list[OrderTicket]:
        tickets = []
        for trade in trades:
            if not self._in_account(trade.order.account):
                continue
            ticket = translate.order_ticket(trade)
            if not ticket.status.is_working and not ticket.status.is_final:
                # listed as open by IB: working, whatever status the client last heard
                ticket.status = OrderStatus.SUBMITTED
            if ticket.status.is_working:
                tickets.append(ticket)
        return tickets

    async def executions(self, since: datetime | None = None) -> list[Fill]:
        self._require_connection()
        fills = await bounded("executions", self._ib.reqExecutionsAsync(
            ExecutionFilter(clientId=self._conn.client_id, acctCode=self._account)))
        # the client keeps one Fill per exec id and attaches each commission report to THAT
        # object; a repeated reqExecutions returns fresh copies without the commission, so the
        # commission is read from the client's own record of the execution
        known = {f.execution.execId: f for f in self._ib.fills()}
        result = [translate.fill(known.get(f.execution.execId, f)) for f in fills
                  if self._in_account(f.execution.acctNumber)]
        if since is not None:
            result = [f for f in result if f.time >= since]
        return sorted(result, key=lambda f: (f.time, f.exec_id))

    def known_commission(self, exec_id: str) -> float | None:
        """The commission the client library holds for an execution, without a request. Its
        report may have come without a commission event: ib_async emits the event only for an
        order it has had an openOrder of (its wrapper looks the trade up by permId), so a report
        that overtakes the order's first openOrder is stored silently (the preflight's step 5
        measures reports this way too)."""
        for known in self._ib.fills():
            if known.execution.execId == exec_id:
                return translate.commission(known.commissionReport)
        return None

    # -- orders ---------------------------------------------------------------------------
    async def place_bracket(
        self, symbol: str, qty: int, entry_limit: float | None, take_profit: float,
        stop_loss: float, order_ref: str, backstop_at: datetime | None = None,
    ) -> BracketTickets:
        return self.submit_bracket(symbol, qty, entry_limit, take_profit, stop_loss, order_ref,
                                   backstop_at)

    def submit_bracket(
        self, symbol: str, qty: int, entry_limit: float | None, take_profit: float,
        stop_loss: float, order_ref: str, backstop_at: datetime | None = None,
    ) -> BracketTickets:
        ref = _parse_ref(order_ref)
        if entry_limit is None:
            parent = Order(action="BUY", totalQuantity=qty, orderType="MKT")
        else:
            parent = Order(action="BUY", totalQuantity=qty, orderType="LMT", lmtPrice=entry_limit)
        parent.orderRef, parent.transmit = order_ref, False
        exits = self._exit_orders(qty, take_profit, stop_loss, ref, backstop_at)
        contract = self._contract(symbol)
        trades: list[Any] = []
        for order in (parent, *exits):
            order.orderId = self._next_order_id()
            if order is not parent:
                order.parentId = parent.orderId
            try:
                trades.append(self._place(contract, order))
            except Exception:
                # a half-sent bracket: the parent (held, never transmitted) must not stay
                if trades and self._ib.isConnected():
                    self._ib.cancelOrder(parent)
                raise
        tickets = [translate.order_ticket(t) for t in trades]
        return BracketTickets(tickets[0], tickets[1], tickets[2],
                              tickets[3] if len(tickets) > 3 else None)

    async def place_exits(
        self, symbol: str, qty: int, take_profit: float, stop_loss: float, order_ref: str,
        backstop_at: datetime | None = None,
    ) -> ExitTickets:
        ref = _parse_ref(order_ref)
        exits = self._exit_orders(qty, take_profit, stop_loss, ref, backstop_at)
        by_leg = {order.orderRef.rsplit("-", 1)[-1]: order for order in exits}
        contract = self._contract(symbol)
        placed: dict[str, Any] = {}
        for leg in exit_submission_order(self.last_price(symbol), take_profit):
            order = by_leg.get(leg)
            if order is None:
                continue
            order.orderId = self._next_order_id()
            order.transmit = True
            try:
                placed[leg] = self._place(contract, order)
            except Exception:
                for trade in placed.values():  # never leave half a group: an exit alone is no protection
                    if self._ib.isConnected():
                        self._ib.cancelOrder(trade.order)
                raise
        tickets = {leg: translate.order_ticket(trade) for leg, trade in placed.items()}
        return ExitTickets(tickets["TP"], tickets["SL"], tickets.get("BKS"))

    async def modify_order(
        self, order_id: int, *, qty: int | None = None, limit_price: float | None = None,
        stop_price: float | None = None, release_now: bool = False,
    ) -> None:
        """IB modifies an order when placeOrder is sent again with its id."""
        self._require_connection()
        for trade in self._ib.openTrades():
            if trade.order.orderId == order_id:
                order = trade.order
                if qty is not None:
                    order.totalQuantity = qty
                if limit_price is not None:
                    order.lmtPrice = limit_price
                if stop_price is not None:
                    order.auxPrice = stop_price
                if release_now:
                    order.goodAfterTime = ""  # held no longer: active (a market sell) at once
                order.transmit = True
                ref = order.orderRef or f"order {order_id}"
                answer = self._modifications.sent(order_id, ref, trade.orderStatus.status)
                self._ib.placeOrder(trade.contract, order)
                try:
                    code = await asyncio.wait_for(asyncio.shield(answer), MODIFY_ACK_S)
                except TimeoutError:
                    return  # no word either way: the caller reads the broker as usual
                if code in ib_errors.MODIFY_OF_A_FINISHED_ORDER:
                    raise OrderRejected(f"{ref}: no longer working, not modified", code)
                if code:
                    raise OrderRejected(f"{ref}: modification refused by IB ({code})", code)
                return
        raise OrderRejected(f"order {order_id} is not working: nothing to modify",
                            ib_errors.CANNOT_MODIFY_FILLED)

    async def place_market(self, symbol: str, side: Side, qty: int, order_ref: str) -> OrderTicket:
        order = Order(action=side.value, totalQuantity=qty, orderType="MKT", tif="DAY")
        order.orderRef = order_ref
        order.orderId = self._next_order_id()
        return translate.order_ticket(self._place(self._contract(symbol), order))

    async def place_limit(
        self, symbol: str, side: Side, qty: int, limit_price: float, order_ref: str,
        tif: str = "DAY",
    ) -> OrderTicket:
        order = Order(action=side.value, totalQuantity=qty, orderType="LMT",
                      lmtPrice=round_to_tick(limit_price), tif=tif)
        order.orderRef = order_ref
        order.orderId = self._next_order_id()
        return translate.order_ticket(self._place(self._contract(symbol), order))

    async def cancel(self, order_id: int) -> None:
        """Sent whatever the client library believes: it may hold an order as ended that IB
        still works (a refusal it misread before the bot could correct it)."""
        self._require_connection()
        for trade in self._ib.openTrades():
            if trade.order.orderId == order_id:
                self._ib.cancelOrder(trade.order)
                return
        self._ib.client.cancelOrder(order_id, "")  # IB answers 10147 if it has no such order

    async def cancel_all(self) -> None:
        self._require_connection()
        self._ib.reqGlobalCancel()

    def _exit_orders(self, qty: int, take_profit: float, stop_loss: float, ref: OrderRef,
                     backstop_at: datetime | None) -> list[Order]:
        """The exits of one OCA group; only the last one transmits (the whole group goes)."""
        oca = f"OCA-{ref.sibling('X')}"
        legs = [
            (Order(action="SELL", totalQuantity=qty, orderType="LMT", lmtPrice=take_profit), "TP"),
            (Order(action="SELL", totalQuantity=qty, orderType="STP", auxPrice=stop_loss), "SL"),
        ]
        if backstop_at is not None:
            backstop = Order(action="SELL", totalQuantity=qty, orderType="MKT")
            backstop.goodAfterTime = translate.ib_datetime(backstop_at)
            legs.append((backstop, "BKS"))
        for order, leg in legs:
            order.tif = "DAY"
            order.ocaGroup, order.ocaType = oca, OCA_REDUCE_WITH_BLOCK
            order.orderRef = str(ref.sibling(leg))
            order.transmit = False
        legs[-1][0].transmit = True
        return [order for order, _ in legs]

    def _place(self, contract: Contract, order: Order) -> Any:
        self._require_connection()
        self._conn.note_order_id(order.orderId)
        if not order.tif:
            order.tif = "DAY"
        if self._account:
            order.account = self._account
        return self._ib.placeOrder(contract, order)

    def _next_order_id(self) -> int:
        self._require_connection()
        return self._ib.client.getReqId()

    @property
    def connection_state(self) -> ConnectionState:
        return self._conn.state


def _parse_ref(order_ref: str) -> OrderRef:
    ref = OrderRef.parse(order_ref)
    if ref is None:
        raise ValueError(f"order_ref {order_ref!r} is not a bot order reference (BOT-YYYYMMDD-SYM-N-LEG)")
    return ref
