"""What-if orders (order preview): margin and commission figures, nothing placed.

A real Gateway answers a placeOrder with whatIf=1 with an openOrder whose order state carries
the account's margin before/change/after and the commission. Here they come from the engine's
own models (Reg T style margin = gross / leverage, `sim/engine/margin.py`; IB commissions,
`sim/engine/commissions.py`), so a preview agrees with what the order would then do.
FX (secType CASH, e.g. EURUSD on IDEALPRO) can be previewed at IB's FX commission (0.2 bp of the
value, USD 2.00 minimum; without FX prices the value is taken as the quantity), and its margin
is reported as 0 with a warning. A contract without an exchange is refused with 321, as IB does.
"""

from __future__ import annotations

from typing import Any

from sim.engine.margin import opening_qty, reference_price
from sim.engine.orders import SimOrder
from sim.tws import encoders as enc
from sim.tws import errors
from sim.tws import order_messages as om
from sim.tws.contracts import stock
from sim.tws.orders import MISSING_EXCHANGE
from sim.tws.requests import PlaceOrder

FX_COMMISSION_RATE = 0.00002  # 0.2 basis points of the trade value
FX_MIN_COMMISSION = 2.00


class Previews:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def answer(self, session: Any, req: PlaceOrder) -> None:
        sv = session.server_version
        contract = req.contract
        if not contract.exchange:
            session.send(enc.error(sv, req.order_id, errors.VALIDATION_ERROR, MISSING_EXCHANGE))
            return
        if contract.sec_type == "CASH":
            preview, warning = self._fx(req), "no FX market data in the simulator: margin not estimated"
        elif contract.sec_type in ("", "STK") and contract.ticker in self.engine.replay.known_symbols():
            preview, warning = self._stock(req), ""
        else:
            session.send(enc.error(sv, req.order_id, errors.NO_SECURITY_DEFINITION,
                                   errors.message(errors.NO_SECURITY_DEFINITION)))
            return
        account = req.account or self.engine.account_id
        view = om.OrderView(
            order_id=req.order_id, client_id=session.client_id, perm_id=0, account=account,
            action=req.action, total_qty=req.total_qty, order_type=req.order_type,
            lmt_price=req.lmt_price, aux_price=req.aux_price, tif=req.tif, oca_group=req.oca_group,
            oca_type=req.oca_type, parent_id=req.parent_id, order_ref=req.order_ref,
            outside_rth=req.outside_rth, status="PreSubmitted",
        )
        symbol = contract.ticker if contract.sec_type != "CASH" else contract.symbol
        session.send(om.open_order(sv, view, stock(symbol), preview, warning))

    def _before(self, account: str) -> tuple[float, float, float]:
        values = self.engine.account_values(account)
        return values["InitMarginReq"], values["MaintMarginReq"], values["EquityWithLoanValue"]

    def _stock(self, req: PlaceOrder) -> om.Preview:
        account = req.account or self.engine.account_id
        order = SimOrder(0, 0, account, req.contract.ticker, req.action, req.total_qty,
                         req.order_type, req.lmt_price, req.aux_price, parent_id=req.parent_id)
        price = reference_price(order, self.engine.mark(order.symbol))
        position = self.engine.positions(account).get(order.symbol, (0.0, 0.0))[0]
        margin = opening_qty(order, position) * price / self.engine.leverage
        commission = self.engine.commissions.commission(req.total_qty, price, req.action,
                                                        req.order_type in ("MKT", "STP"))
        init, maint, equity = self._before(account)
        return om.Preview(init, maint, equity, margin, margin, -commission, commission, commission, commission)

    def _fx(self, req: PlaceOrder) -> om.Preview:
        account = req.account or self.engine.account_id
        init, maint, equity = self._before(account)
        commission = max(FX_MIN_COMMISSION, FX_COMMISSION_RATE * req.total_qty)
        return om.Preview(init, maint, equity, 0.0, 0.0, -commission, commission, commission, commission)
