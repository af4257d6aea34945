"""The order desk: each order recorded as an intent BEFORE it is sent, then watched until it
settles (filled, cancelled, or cancelled by us at the timeout).

Why the intent first: a bot killed between "send" and "record" would not know after a restart
that the order exists, and could send it again. Recorded first, a restart finds the intent and
the broker's working order (or its executions) under the same ref and sends nothing twice; an
intent the broker never saw is closed as cancelled and its gap is planned again under a new
sequence number. Timeouts are in market time (`broker.now()`), so an accelerated simulator and
a live Gateway behave alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from observability import tracing
from observability.history import HistoryDB
from observability.schema import IntentRow, IntentState
from trade.broker import Broker, BrokerError, ConnectionState
from trade.models import Fill, OrderStatus, OrderTicket
from trade.portfolio.book import BOOK, BOT, WeeklyBook, WeeklyRef
from trade.portfolio.manager import PlannedOrder

log = logging.getLogger(__name__)

PLACE_LIMIT_SPAN = "order.place_limit"
_FINISHED = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.API_CANCELLED,
             OrderStatus.INACTIVE)
REFRESH_S = 0.5  # real seconds between open-order refreshes while settling
CANCEL_WAIT_S = 10.0  # real seconds to wait for the broker to confirm cancels


@dataclass(slots=True)
class SentOrder:
    order_ref: str
    order: PlannedOrder
    order_id: int | None
    rejected: str = ""


async def wait_until(broker: Broker, moment: datetime, stop: asyncio.Event | None = None,
                     poll_s: float = 0.05) -> bool:
    """Sleep until the broker's clock reaches `moment`; False when `stop` was set first."""
    while broker.now() < moment:
        if stop is not None and stop.is_set():
            return False
        await asyncio.sleep(poll_s)
    return True


class OrderDesk:
    def __init__(self, broker: Broker, db: HistoryDB, book: WeeklyBook, day: date) -> None:
        self.broker = broker
        self.db = db
        self.book = book
        self.day = day
        self._status: dict[str, OrderTicket] = {}
        self._resync: asyncio.Task[object] | None = None
        broker.add_fill_handler(self._on_fill)
        broker.add_commission_handler(self._on_commission)
        broker.add_order_status_handler(self._on_status)
        broker.add_connection_handler(self._on_connection)

    # -- broker events (synchronous callbacks) ----------------------------------------------
    def _on_fill(self, fill: Fill) -> None:
        if WeeklyRef.parse(fill.order_ref) is not None:
            self.book.apply(fill)

    def _on_commission(self, exec_id: str, commission: float) -> None:
        """A commission report after its execution: the weekly rows waiting for it (only ours:
        a pending row of another book is that book's to complete)."""
        self.book.commission(exec_id, commission)

    def _on_connection(self, state: ConnectionState) -> None:
        """After a reconnect, apply the executions missed while away at once: a day trader in
        the same process reconciles too, and must find them in the weekly book, not adopt them.
        (Registered before the day trader's handler, so this sync is requested first.)"""
        if state is ConnectionState.RESTORED and (self._resync is None or self._resync.done()):
            self._resync = asyncio.get_running_loop().create_task(self._sync_quietly())

    async def _sync_quietly(self) -> None:
        try:
            await self.book.sync(self.day)
        except BrokerError as exc:
            log.warning("weekly book sync after reconnect failed: %s", exc)

    def _on_status(self, ticket: OrderTicket) -> None:
        if WeeklyRef.parse(ticket.order_ref) is None:
            return
        self._status[ticket.order_ref] = ticket
        if ticket.status in (OrderStatus.CANCELLED, OrderStatus.API_CANCELLED,
                             OrderStatus.INACTIVE) and not self.book.dry_run:
            intent = self.db.intent(ticket.order_ref)
            if intent is not None and not intent.state.is_terminal:
                if self._filled(ticket.order_ref) >= intent.qty:
                    state = IntentState.CLOSED
                elif ticket.status is OrderStatus.INACTIVE and not self._filled(ticket.order_ref):
                    state = IntentState.REJECTED  # IB refused it (e.g. 201) after accepting it
                else:
                    state = IntentState.CANCELLED
                self.db.update_intent_state(ticket.order_ref, state, self.broker.now())

    # -- sending --------------------------------------------------------------------------------
    async def send(self, orders: Sequence[PlannedOrder]) -> list[SentOrder]:
        """Record each intent, then send it; a broker refusal marks the intent rejected."""
        sent: list[SentOrder] = []
        for order in orders:
            ref = WeeklyRef.first_free(self.db, self.day, order.symbol)
            now = self.broker.now()
            self.db.record_intent(IntentRow(
                order_ref=str(ref), bot=BOT, trading_date=self.day, symbol=order.symbol,
                seq=ref.seq, side=order.side.value, qty=order.qty, entry_price=order.limit_price,
                target_price=order.ref_price, stop_price=None, book=BOOK, created_time=now,
            ))
            with tracing.span(PLACE_LIMIT_SPAN, symbol=order.symbol, side=order.side.value,
                              qty=order.qty, price=order.limit_price, order_ref=str(ref),
                              book=BOOK):
                try:
                    ticket = await self.broker.place_limit(
                        order.symbol, order.side, order.qty, order.limit_price, str(ref))
                except BrokerError as exc:
                    self.db.update_intent_state(str(ref), IntentState.REJECTED, self.broker.now())
                    log.warning("%s %d %s refused: %s (%s)", order.side.value, order.qty,
                                order.symbol, exc, ref)
                    sent.append(SentOrder(str(ref), order, None, f"rejected: {exc}"))
                    continue
            self.db.update_intent_state(str(ref), IntentState.WORKING, self.broker.now())
            self._status.setdefault(str(ref), ticket)
            log.info("%s %d %s limit %.4f sent (%s): %s", order.side.value, order.qty,
                     order.symbol, order.limit_price, ref, order.reason)
            sent.append(SentOrder(str(ref), order, ticket.order_id))
        return sent

    # -- settling -------------------------------------------------------------------------------
    def _filled(self, order_ref: str) -> int:
        recorded = sum(int(e.qty) for e in self.db.executions_for(order_ref))
        ticket = self._status.get(order_ref)
        return max(recorded, ticket.filled if ticket is not None else 0)

    def _finished(self, order_ref: str, qty: int) -> bool:
        ticket = self._status.get(order_ref)
        return self._filled(order_ref) >= qty or (
            ticket is not None and ticket.status in _FINISHED)

    async def settle(self, refs: dict[str, int], timeout: timedelta,
                     stop: asyncio.Event | None = None) -> list[str]:
        """Wait until every ref (-> its quantity) is filled or finished; at `timeout` of market
        time cancel what still works. Returns the refs cancelled at the timeout."""
        deadline = self.broker.now() + timeout
        loop = asyncio.get_running_loop()
        started = loop.time()
        next_refresh = started
        absent: dict[str, int] = {}
        while True:
            pending = [r for r, q in refs.items() if not self._finished(r, q)]
            if not pending or (stop is not None and stop.is_set()):
                return []
            if self.broker.now() >= deadline:
                return await self._cancel(pending)
            if loop.time() >= next_refresh:
                next_refresh = loop.time() + REFRESH_S
                working = {o.order_ref: o for o in await self.broker.open_orders()}
                for ref in pending:
                    if ref in working:
                        self._status[ref] = working[ref]
                        absent.pop(ref, None)
                    elif loop.time() - started > 1.0:
                        # gone from the broker's open orders twice in a row: done (the sync that
                        # follows reads its executions and closes its intent accordingly)
                        absent[ref] = absent.get(ref, 0) + 1
                        if absent[ref] >= 2 and ref in self._status:
                            ticket = self._status[ref]
                            ticket.status = OrderStatus.CANCELLED if self._filled(ref) < refs[ref] \
                                else OrderStatus.FILLED
            await asyncio.sleep(0.05)

    async def _cancel(self, refs: Sequence[str]) -> list[str]:
        working = {o.order_ref: o for o in await self.broker.open_orders()}
        cancelled = []
        for ref in refs:
            order = working.get(ref)
            if order is None or not order.status.is_working:
                continue
            try:
                await self.broker.cancel(order.order_id)
                cancelled.append(ref)
                log.warning("%s: not filled in time, cancelled (%d of %d filled)", ref,
                            self._filled(ref), order.qty)
            except BrokerError as exc:
                log.warning("%s: cancel failed: %s", ref, exc)
        loop = asyncio.get_running_loop()
        until = loop.time() + CANCEL_WAIT_S
        while loop.time() < until:
            still = {o.order_ref for o in await self.broker.open_orders() if o.status.is_working}
            if not still & set(cancelled):
                break
            await asyncio.sleep(0.1)
        return cancelled
