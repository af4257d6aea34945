"""Account, portfolio, position and execution replies, read from the engine's state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sim.market.sessions import NY
from sim.tws import encoders as enc
from sim.tws import order_messages as om
from sim.tws.contracts import stock
from sim.tws.orders import OrderDesk
from sim.tws.requests import ExecutionsRequest


def _value(v: object) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


class AccountDesk:
    """Answers the account side of the connect sequence and pushes updates after fills."""

    def __init__(self, engine: Any, replay: Any, desk: OrderDesk, now: Callable[[], datetime]) -> None:
        self.engine = engine
        self.replay = replay
        self.desk = desk
        self._now = now

    @property
    def account_id(self) -> str:
        return self.engine.account_id

    def values(self) -> list[tuple[str, str, str]]:
        """(key, value, currency) for every account value, plus the ones IB always reports."""
        rows = [("AccountCode", self.account_id, ""), ("AccountType", "INDIVIDUAL", "")]
        rows += [(k, _value(v), "USD") for k, v in self.engine.account_values().items()]
        return rows

    def _mark(self, symbol: str) -> float:
        price = self.replay.price_at(symbol, self._now())
        return float(price) if price is not None else 0.0

    def send_account_updates(self, session: Any) -> None:
        acct = self.account_id
        for key, value, cur in self.values():
            session.send(enc.update_account_value(key, value, cur, acct))
        for symbol, (qty, avg) in self.engine.positions().items():
            mark = self._mark(symbol) or avg
            session.send(enc.update_portfolio(
                stock(symbol), qty, mark, qty * mark, avg, (mark - avg) * qty, 0.0, acct
            ))
        session.send(enc.update_account_time(self._now().astimezone(NY).strftime("%H:%M")))
        session.send(enc.account_download_end(acct))

    def send_account_multi(self, session: Any, req_id: int, end: bool = True) -> None:
        acct = self.account_id
        for key, value, cur in self.values():
            session.send(enc.account_update_multi(req_id, acct, "", key, value, cur))
        if end:
            session.send(enc.account_update_multi_end(req_id))

    def send_positions(self, session: Any, end: bool = True) -> None:
        acct = self.account_id
        for symbol, (qty, avg) in self.engine.positions().items():
            session.send(enc.position(acct, stock(symbol), qty, avg))
        if end:
            session.send(enc.position_end())

    def send_position_update(self, session: Any, symbol: str) -> None:
        qty, avg = self.engine.positions().get(symbol, (0.0, 0.0))
        session.send(enc.position(self.account_id, stock(symbol), qty, avg))

    def send_account_summary(self, session: Any, req_id: int) -> None:
        for key, value, cur in self.values():
            session.send(enc.account_summary(req_id, self.account_id, key, value, cur))
        session.send(enc.account_summary_end(req_id))

    def send_executions(self, session: Any, req: ExecutionsRequest) -> None:
        """reqExecutions: every execution matching the filter (clientId 0 = all clients)."""
        sv = session.server_version
        since = req.time.replace("-", " ").strip()
        for ex in self.engine.executions():
            view = self.desk.execution_view(ex)
            if req.client_id and view.client_id != req.client_id:
                continue
            if req.account and req.account != ex.account:
                continue
            if req.symbol and req.symbol.upper() != ex.symbol:
                continue
            if req.side and req.side.upper()[:1] != ex.side[:1]:
                continue
            if since and ex.time.astimezone(NY).strftime("%Y%m%d %H:%M:%S") < since[:17]:
                continue
            session.send(om.exec_details(sv, req.req_id, stock(ex.symbol), view))
            session.send(om.commission_report(ex.exec_id, ex.commission, ex.realized_pnl))
        session.send(om.exec_details_end(req.req_id))
