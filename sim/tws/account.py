"""Account, portfolio, position and execution replies, read from the engine's state.

One login may hold several accounts (`--second-account`): positions come back for all of them
(as reqPositions does at IB), account values and updates per account, and executions filtered
the way IB filters them: a client sees its own executions; only the master API client id
(configurable, none by default) sees every client's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sim.market.sessions import NY
from sim.tws import encoders as enc
from sim.tws import errors
from sim.tws import order_messages as om
from sim.tws.account_values import AccountTagError, summary_rows, update_rows
from sim.tws.contracts import stock
from sim.tws.orders import GatewayOrderDesk
from sim.tws.requests import AccountSummaryRequest, ExecutionsRequest
from sim.tws.times import IBTimeError, parse_ib_time


class AccountDesk:
    """Answers the account side of the connect sequence and pushes updates after fills."""

    def __init__(
        self, engine: Any, desk: GatewayOrderDesk, now: Callable[[], datetime], master_client_id: int | None = None
    ) -> None:
        self.engine = engine
        self.desk = desk
        self._now = now
        self.master_client_id = master_client_id
        # positions as reported (sim/tws/ib_timing.py lags them behind executions); None: the truth
        self.positions_view: Callable[[str], dict[str, tuple[float, float]]] | None = None
        self.simulator_id = ""  # announced with the account values (account_values.update_rows)

    @property
    def account_id(self) -> str:
        return self.engine.account_id

    def accounts(self) -> list[str]:
        return list(self.engine.accounts.ids())

    def resolve(self, account: str) -> list[str]:
        """The accounts a request names: one of ours, or all for "" / "All"."""
        if account in self.accounts():
            return [account]
        return self.accounts() if account in ("", "All", "ALL") else []

    def positions(self, account: str) -> dict[str, tuple[float, float]]:
        """{symbol: (shares, average cost)} as this Gateway reports them now."""
        if self.positions_view is not None:
            return self.positions_view(account)
        return dict(self.engine.positions(account))

    def _mark(self, symbol: str) -> float:
        price = self.engine.replay.price_at(symbol, self._now())
        return float(price) if price is not None else 0.0

    def send_account_updates(self, session: Any, account: str | None = None) -> None:
        acct = account or self.account_id
        for key, value, cur in update_rows(acct, self.engine.account_values(acct), self.simulator_id):
            session.send(enc.update_account_value(key, value, cur, acct))
        for symbol, (qty, avg) in self.positions(acct).items():
            mark = self._mark(symbol) or avg
            session.send(enc.update_portfolio(
                stock(symbol), qty, mark, qty * mark, avg, (mark - avg) * qty, 0.0, acct
            ))
        session.send(enc.update_account_time(self._now().astimezone(NY).strftime("%H:%M")))
        session.send(enc.account_download_end(acct))

    def send_account_multi(self, session: Any, req_id: int, account: str = "", end: bool = True) -> None:
        for acct in self.resolve(account):
            for key, value, cur in update_rows(acct, self.engine.account_values(acct), self.simulator_id):
                session.send(enc.account_update_multi(req_id, acct, "", key, value, cur))
        if end:
            session.send(enc.account_update_multi_end(req_id))

    def send_positions(self, session: Any, end: bool = True) -> None:
        """reqPositions: every account of the login, as a real multi-account login answers."""
        for acct in self.accounts():
            for symbol, (qty, avg) in self.positions(acct).items():
                session.send(enc.position(acct, stock(symbol), qty, avg))
        if end:
            session.send(enc.position_end())

    def send_position_update(self, session: Any, account: str, symbol: str) -> None:
        qty, avg = self.positions(account).get(symbol, (0.0, 0.0))
        session.send(enc.position(account, stock(symbol), qty, avg))

    def send_account_summary(self, session: Any, req: AccountSummaryRequest) -> None:
        """reqAccountSummary: the requested tags (and $LEDGER forms) for the group "All"."""
        if req.group not in ("All", "ALL", ""):
            session.send(enc.error(session.server_version, req.req_id, errors.VALIDATION_ERROR,
                                   f"Error validating request.-'bb' : cause - group {req.group!r} "
                                   "is not an advisor group of this login: use All"))
            return
        try:
            for acct in self.accounts():
                for tag, value, cur in summary_rows(self.engine.account_values(acct), req.tags):
                    session.send(enc.account_summary(req.req_id, acct, tag, value, cur))
        except AccountTagError as exc:
            session.send(enc.error(session.server_version, req.req_id, errors.VALIDATION_ERROR, str(exc)))
            return
        session.send(enc.account_summary_end(req.req_id))

    def sees_executions_of(self, requester: int, owner: int) -> bool:
        """IB: a client sees its own executions; the master API client sees everyone's."""
        return requester == owner or (self.master_client_id is not None and requester == self.master_client_id)

    def send_executions(self, session: Any, req: ExecutionsRequest) -> None:
        """reqExecutions: the requester's executions (all for the master client) that match the
        filter (filter clientId 0 = any of those)."""
        sv = session.server_version
        try:
            since = parse_ib_time(req.time)
        except IBTimeError as exc:
            session.send(enc.error(sv, req.req_id, errors.VALIDATION_ERROR,
                                   f"Error validating request.-'bV' : cause - ExecutionFilter.time {exc}"))
            session.send(om.exec_details_end(req.req_id))
            return
        for ex in self.engine.executions():
            view = self.desk.execution_view(ex)
            if not self.sees_executions_of(session.client_id, view.client_id):
                continue
            if req.client_id and view.client_id != req.client_id:
                continue
            if req.account and req.account != ex.account:
                continue
            if req.symbol and req.symbol.upper() != ex.symbol:
                continue
            if req.side and req.side.upper()[:1] != ex.side[:1]:
                continue
            if since is not None and ex.time < since:
                continue
            session.send(om.exec_details(sv, req.req_id, stock(ex.symbol), view))
            session.send(om.commission_report(ex.exec_id, ex.commission, ex.realized_pnl))
        session.send(om.exec_details_end(req.req_id))
