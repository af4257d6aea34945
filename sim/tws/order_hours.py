"""IB's 399 warning for an order accepted outside the hours it may trade in.

A real Gateway accepts an order placed outside regular trading hours and holds it, sending error
399 (a warning, not a rejection) before the order's first status: "Order Message:\\nBUY 100 SPY
ARCA\\nWarning: Your order will not be placed at the exchange until 2019-02-14 09:30:00
US/Eastern" (IB's message codes page: 399 "Order message error"; the wording as clients see it,
e.g. in ib_insync users' logs). ib_async files 399 among its warning codes: the trade stays live
and the PreSubmitted status that follows replaces the warning. An outsideRth limit order inside
the extended sessions trades at once and gets no warning; outside them it waits for 04:00
(`sim/engine/hours.py`). Orders TWS itself holds (transmit=False) get none. An order held by
its goodAfterTime gets IB's 399 too, but only under the IB timing model (`sim/tws/ib_timing.py`,
the `held_warning` setting of `sim/tws/realism.py`): whether IB sends it there is one of the
unknowns the campaign draws both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sim.engine import hours
from sim.market.sessions import NY
from sim.tws.contracts import stock
from sim.tws.requests import PlaceOrder


@dataclass(frozen=True, slots=True)
class _Terms:
    """The order attributes `sim.engine.hours` reads, from a placeOrder request."""

    outside_rth: bool
    order_type: str


def warning(req: PlaceOrder, replay: Any, now: datetime) -> str | None:
    """The 399 text for a new order `req` placed at `now`, or None when it may trade now."""
    terms = _Terms(req.outside_rth, req.order_type.upper())
    if not req.transmit or req.good_after or hours.tradable(terms, replay, now):
        return None
    until = hours.next_start(replay.day, now, hours.works_outside_rth(terms))
    qty = int(req.total_qty) if float(req.total_qty).is_integer() else req.total_qty
    exchange = stock(req.contract.ticker).primary_exchange
    return (f"Order Message:\n{req.action} {qty} {req.contract.ticker} {exchange}\nWarning: Your order will "
            f"not be placed at the exchange until {until.astimezone(NY):%Y-%m-%d %H:%M:%S} US/Eastern")
