"""IB's events routed to the bot's handlers, at their true weight (the base of IBBroker).

ib_async reports executions, commission reports, order statuses, positions and errors as events;
this layer keeps them to the trading account, turns them into the core's types and decides what
each IB error means: a held order's 399 is a quiet line, a refused market data subscription is
told once and handed to the trader, a refusal that answers one of the bot's modifications is
that modification's answer (trade/ib/modifications.py) and the client library's misreading of
it as the order's end is never passed on.
"""

from __future__ import annotations

import logging
from typing import Any

from trade.broker import (
    CommissionHandler,
    ConnectionHandler,
    DataRefusedHandler,
    FillHandler,
    OrderStatusHandler,
    PositionHandler,
)
from trade.ib import errors as ib_errors
from trade.ib import translate
from trade.ib.connection import IBConnection
from trade.ib.market_data import IBMarketData
from trade.ib.modifications import Modifications
from trade.ib.observe import IBMessage, MessageHandler
from trade.ib.server_clock import ServerClock

log = logging.getLogger("trade.ib.broker")  # one logger name for the adapter, as before the split


class IBEventRouting(IBMarketData):
    """The handlers the core registers and the routing of ib_async's events to them."""

    def __init__(self, connection: IBConnection, clock: ServerClock, account: str) -> None:
        super().__init__(connection, clock)
        self._account = account
        self._fill_handlers: list[FillHandler] = []
        self._commission_handlers: list[CommissionHandler] = []
        self._refusal_handlers: list[DataRefusedHandler] = []
        self._position_handlers: list[PositionHandler] = []
        self._status_handlers: list[OrderStatusHandler] = []
        self._message_handlers: list[MessageHandler] = []
        self._modifications = Modifications()
        self._unsubscribed: set[str | int] = set()  # told once: no market data subscription
        self._ib.execDetailsEvent += self._on_exec_details
        self._ib.commissionReportEvent += self._on_commission_report
        self._ib.orderStatusEvent += self._on_order_status
        self._ib.openOrderEvent += self._on_open_order
        self._ib.positionEvent += self._on_position
        self._ib.errorEvent += self._on_error

    def _in_account(self, account: str) -> bool:
        """Whether a position/order/execution belongs to the trading account ("" = unknown:
        a single-account login that did not say, which can only be ours)."""
        return not account or not self._account or account == self._account

    def add_fill_handler(self, handler: FillHandler) -> None:
        self._fill_handlers.append(handler)

    def add_commission_handler(self, handler: CommissionHandler) -> None:
        self._commission_handlers.append(handler)

    def add_order_status_handler(self, handler: OrderStatusHandler) -> None:
        self._status_handlers.append(handler)

    def add_connection_handler(self, handler: ConnectionHandler) -> None:
        self._conn.add_state_listener(handler)

    def add_message_handler(self, handler: MessageHandler) -> None:
        """IB's order messages as they come, before this adapter interprets them (trade/ib/
        observe.py): for a tool that reports what IB said, never for trading decisions."""
        self._message_handlers.append(handler)

    def add_data_refused_handler(self, handler: DataRefusedHandler) -> None:
        self._refusal_handlers.append(handler)

    def add_position_handler(self, handler: PositionHandler) -> None:
        self._position_handlers.append(handler)

    def _on_position(self, position: Any) -> None:
        if self._in_account(position.account):
            for handler in self._position_handlers:
                handler(position.contract.symbol, int(position.position))

    def remove_handlers(self, *handlers: object) -> None:
        self._fill_handlers[:] = [h for h in self._fill_handlers if h not in handlers]
        self._commission_handlers[:] = [h for h in self._commission_handlers
                                        if h not in handlers]
        self._refusal_handlers[:] = [h for h in self._refusal_handlers if h not in handlers]
        self._position_handlers[:] = [h for h in self._position_handlers if h not in handlers]
        self._status_handlers[:] = [h for h in self._status_handlers if h not in handlers]
        self._message_handlers[:] = [h for h in self._message_handlers if h not in handlers]
        self._conn.remove_state_listeners(*handlers)

    def _on_exec_details(self, trade: Any, ib_fill: Any) -> None:
        """An execution applies when IB reports it; its commission comes in its own report."""
        if not self._in_account(ib_fill.execution.acctNumber):
            return
        fill = translate.fill(ib_fill)
        for handler in self._fill_handlers:
            handler(fill)

    def _on_commission_report(self, trade: Any, ib_fill: Any, report: Any) -> None:
        if not self._in_account(ib_fill.execution.acctNumber):
            return
        commission = translate.commission(report)
        if commission is None:
            return
        for handler in self._commission_handlers:
            handler(report.execId, commission)

    def _on_open_order(self, trade: Any) -> None:
        # ib_async emits this only for an openOrder outside a reqOpenOrders answer: IB sending
        # the order back, which is how it applies a modification
        self._modifications.applied(trade.order.orderId)

    def _on_order_status(self, trade: Any) -> None:
        if self._modifications.misread_refusal(trade):
            return  # IB refused a modification; the order is as it was (its error follows)
        if self._message_handlers:
            status = trade.orderStatus
            message = IBMessage(trade.order.orderId, 0, "", status.status, status.whyHeld or "",
                                float(status.filled), float(status.remaining))
            for observer in self._message_handlers:
                observer(message)
        ticket = translate.order_ticket(trade)
        for handler in self._status_handlers:
            handler(ticket)

    def _on_error(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        """IB errors at their true weight (the client library logs even a routine OCA cancel,
        202, as ERROR; entry scripts silence it and rely on this)."""
        for observer in self._message_handlers:
            observer(IBMessage(req_id, code, message))
        if code == ib_errors.ORDER_HELD_WARNING:
            # 399: accepted and held (the backstop until its goodAfterTime, an order outside
            # regular hours): expected, one quiet line
            log.debug("order %s held by IB: %s", req_id, " ".join(message.split()))
            return
        if code in ib_errors.MARKET_DATA_NOT_SUBSCRIBED:
            symbol = self._realtime_symbols.get(req_id)
            if (symbol or req_id) not in self._unsubscribed:
                self._unsubscribed.add(symbol or req_id)
                log.error(
                    "%s: no real-time market data (%s): it cannot be traded; subscribe the account "
                    "to US equity streaming data (Client Portal: Settings > Market Data "
                    "Subscriptions; a paper login uses its live account's subscriptions once "
                    "market data sharing is on), or drop it from the watchlist",
                    symbol or f"request {req_id}", ib_errors.describe(code, message))
                for handler in self._refusal_handlers:
                    handler(symbol or f"request {req_id}", code, message)
        elif ib_errors.is_no_history(code, message):
            log.info("%s", ib_errors.describe(code, message))  # an answer: no bars in that window
        elif code == ib_errors.HISTORICAL_PACING:
            self._pacing_violations += 1
            log.warning("%s", ib_errors.describe(code, message))
        elif (ref := self._modifications.answered(req_id, code)) is not None:
            # the answer to a modification: its caller raises and decides (a modification that
            # crossed the order's fill is no rejection: that leg is finished). Said once.
            finished = code in ib_errors.MODIFY_OF_A_FINISHED_ORDER
            log.info("%s: modification not applied%s (%s)", ref,
                     ": the order is no longer working" if finished else "",
                     ib_errors.describe(code, message))
        elif code in ib_errors.ORDER_REJECTED:
            log.warning("order %s rejected: %s", req_id, ib_errors.describe(code, message))
        elif code in (ib_errors.ORDER_CANCELLED, ib_errors.NO_SECURITY_DEFINITION) or (
            ib_errors.is_informational(code)
        ):  # 200 is answered by qualify() itself, naming the symbol
            log.debug("order %s: %s", req_id, ib_errors.describe(code, message))
        elif code not in ib_errors.CONNECTIVITY_LOST and code not in ib_errors.CONNECTIVITY_RESTORED:
            log.warning("request %s: %s", req_id, ib_errors.describe(code, message))
