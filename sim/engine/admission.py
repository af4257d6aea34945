"""Which orders the engine accepts: fields, contract, account, the auction cutoff, the parent rule
R2 and buying power, checked in that order when an order arrives (a mixin of `MatchingEngine`).

Every refusal is an `OrderReject` with IB's code and a message naming what to fix: 201 for an
order that cannot be worked, 110 for a price off the tick grid, 200 for an unknown symbol,
10006 for a child without a parent the engine ever accepted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sim.engine.margin import check_buying_power, opening_qty
from sim.engine.orders import (
    AUCTION_TYPES,
    MISSING_PARENT_ORDER,
    NO_SECURITY_DEFINITION,
    ORDER_REJECTED,
    OrderReject,
    SimOrder,
    validate_fields,
)

if TYPE_CHECKING:
    from sim.engine.accounts import Accounts
    from sim.engine.book import OrderBook
    from sim.market.replay import MarketReplay

AUCTION_CUTOFF = timedelta(minutes=10)  # NYSE: MOC/LOC entry closes at 15:50 (12:50 on half days)


class OrderAdmission:
    replay: MarketReplay
    accounts: Accounts
    book: OrderBook

    if TYPE_CHECKING:  # provided by MatchingEngine; declared for the checker only
        def open_orders(self) -> list[SimOrder]: ...
        def account_values(self, account: str | None = None) -> dict[str, float]: ...

    def _validate(self, order: SimOrder) -> None:
        validate_fields(order)
        if order.symbol not in self.replay.known_symbols():
            raise OrderReject(
                NO_SECURITY_DEFINITION,
                f"No security definition has been found for the request: {order.symbol}",
            )
        now = self.replay.clock.now()
        close = self.replay.session_close
        if order.order_type in AUCTION_TYPES and close - AUCTION_CUTOFF <= now < close:
            raise OrderReject(ORDER_REJECTED, f"Order rejected - reason: {order.order_type} orders "
                              f"must reach the exchange before {(close - AUCTION_CUTOFF):%H:%M} "
                              "(the NYSE closing auction cutoff)")
        if order.account not in self.accounts:
            raise OrderReject(ORDER_REJECTED, f"Order rejected - reason: account {order.account!r} "
                              f"is not managed by this login: use one of {', '.join(self.accounts.ids())}")

    def _parent_for(self, order: SimOrder) -> SimOrder | None:
        """R2: a child needs a parent the engine accepted and that did not end unfilled."""
        if not order.parent_id:
            return None
        parent = self.book.get(order.parent_id)
        if parent is None:
            raise OrderReject(MISSING_PARENT_ORDER, f"Missing parent order. (parentId {order.parent_id} "
                              "was never accepted: a child never trades without its parent)")
        if not parent.is_working and parent.filled <= 0:
            raise OrderReject(ORDER_REJECTED, f"Order rejected - reason: parent order {parent.order_id} "
                              f"is {parent.status} without a fill; its children are cancelled with it")
        return parent

    def _check_buying_power(self, order: SimOrder, now: datetime) -> None:
        ledger = self.accounts.ledger(order.account)
        if opening_qty(order, ledger.positions.get(order.symbol, [0.0, 0.0])[0]) <= 0:
            return  # nothing opens (a bracket child, an exit): `check_buying_power` passes it
        check_buying_power(
            order,
            [o for o in self.open_orders() if o.account == order.account],
            self.account_values(order.account)["BuyingPower"],
            position_of=lambda symbol: ledger.positions.get(symbol, [0.0, 0.0])[0],
            market_of=lambda symbol: self.replay.price_at(symbol, now),
        )

