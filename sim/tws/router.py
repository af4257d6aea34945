"""Request routing: each parsed client request to the desk that answers it (a gateway mixin).

Every request the TWS API defines gets an answer: the ones the simulator implements from its
desks, the rest at once with the error a real Gateway gives for a service the account does not
have (`sim/tws/unsupported.py`), so no client ever waits on a request nobody will answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.tws import encoders as enc
from sim.tws import requests as rq

if TYPE_CHECKING:
    from datetime import datetime

    from sim.engine.exchange import MatchingEngine
    from sim.tws.account import AccountDesk
    from sim.tws.feeds import MarketFeeds
    from sim.tws.orders import GatewayOrderDesk
    from sim.tws.services import ServiceDesk
    from sim.tws.session import ClientSession

Route = Callable[["ClientSession", Any], None]


class RequestRouter:
    """Maps request types (and the argument-less `Simple` ids) onto the desks."""

    engine: MatchingEngine
    orders: GatewayOrderDesk
    accounts: AccountDesk
    feeds: MarketFeeds
    services: ServiceDesk

    if TYPE_CHECKING:  # provided by GatewaySimulator; declared for the checker only
        def now(self) -> datetime: ...

    def build_routes(self) -> dict[type, Route]:
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
            rq.AccountSummaryRequest: self._account_summary,
            rq.IdsRequest: self._next_ids,
            rq.CancelById: self._cancel_subscription,
            rq.Simple: self._simple,
            rq.ServiceRequest: self.services.answer,
        }

    def managed_accounts(self) -> list[str]:
        return list(self.engine.accounts.ids())

    def _next_ids(self, session: ClientSession, req: rq.IdsRequest) -> None:
        assert session.client_id is not None  # routed only after startApi named the client
        session.send(enc.next_valid_id(self.orders.next_valid_id(session.client_id)))

    def _account_updates(self, session: ClientSession, req: rq.AccountUpdatesRequest) -> None:
        account = req.account if req.account in self.managed_accounts() else self.engine.account_id
        session.subs.account_updates = account if req.subscribe else ""
        if req.subscribe:
            self.accounts.send_account_updates(session, account)

    def _account_multi(self, session: ClientSession, req: rq.AccountUpdatesMultiRequest) -> None:
        session.subs.account_multi[req.req_id] = req.account
        self.accounts.send_account_multi(session, req.req_id, req.account)

    def _account_summary(self, session: ClientSession, req: rq.AccountSummaryRequest) -> None:
        self.accounts.send_account_summary(session, req)

    def _cancel_subscription(self, session: ClientSession, req: rq.CancelById) -> None:
        subs = session.subs
        subs.history.pop(req.req_id, None)
        subs.realtime_bars.pop(req.req_id, None)
        subs.market_data.pop(req.req_id, None)
        subs.account_multi.pop(req.req_id, None)

    def _simple(self, session: ClientSession, req: rq.Simple) -> None:
        mid = req.msg_id
        if mid == rq.REQ_POSITIONS:
            session.subs.positions = True
            self.accounts.send_positions(session)
        elif mid == rq.CANCEL_POSITIONS:
            session.subs.positions = False
        elif mid == rq.REQ_OPEN_ORDERS:
            self.orders.send_open_orders(session)
        elif mid == rq.REQ_ALL_OPEN_ORDERS:
            self.orders.send_open_orders(session, every_client=True)
        elif mid == rq.REQ_COMPLETED_ORDERS:
            self.orders.send_completed_orders(session)
        elif mid == rq.REQ_CURRENT_TIME:
            session.send(enc.current_time(int(self.now().timestamp())))
        elif mid == rq.REQ_MANAGED_ACCTS:
            session.send(enc.managed_accounts(self.managed_accounts()))
        elif mid == rq.REQ_GLOBAL_CANCEL:
            self.orders.cancel_all()
