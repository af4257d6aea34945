"""The paper engine's order and execution records, and IB-style order errors.

Plain dataclasses, like the IB client's own objects, so the gateway can encode them field by
field and the paper broker can translate them to `trade.models` without knowing the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sim.market.ticks import on_tick

WORKING_STATUSES = frozenset({"PendingSubmit", "PreSubmitted", "Submitted"})
ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT", "TRAIL", "MOC", "LOC"})
TIME_IN_FORCE = frozenset({"DAY", "GTC", "IOC", "FOK", "GTD"})
STOP_TYPES = frozenset({"STP", "STP LMT", "TRAIL"})
AUCTION_TYPES = frozenset({"MOC", "LOC"})

# IB error codes the engine raises
DUPLICATE_ORDER_ID = 103
PRICE_OFF_TICK = 110
NO_SECURITY_DEFINITION = 200
ORDER_REJECTED = 201
MISSING_PARENT_ORDER = 10006
ORDER_TO_CANCEL_NOT_FOUND = 10147
ORDER_CANNOT_BE_CANCELLED = 10148


class OrderReject(Exception):
    """IB-style order error: `code` is the IB error code (201, 200, 103, 10147, ...)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(eq=False)
class SimOrder:
    """An order as the engine holds it.

    Client fields first (as placeOrder carries them), then the engine-maintained state. New
    fields always get defaults: `PaperBroker` and tests build orders positionally.
    """

    order_id: int
    client_id: int
    account: str
    symbol: str
    action: str  # BUY | SELL
    total_qty: float
    order_type: str  # MKT | LMT | STP | STP LMT | TRAIL | MOC | LOC
    lmt_price: float | None = None
    aux_price: float | None = None  # stop trigger; the trailing amount of a TRAIL
    tif: str = "DAY"  # DAY | GTC | IOC | FOK | GTD
    oca_group: str = ""
    oca_type: int = 0  # 1 cancel with block, 2 reduce with block, 3 reduce without block
    parent_id: int = 0
    transmit: bool = True
    order_ref: str = ""
    outside_rth: bool = False
    perm_id: int = 0
    status: str = ""
    filled: float = 0.0
    remaining: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    submitted_at: datetime | None = None
    triggered: bool = False  # a STP LMT whose stop was touched (now a resting limit)
    why_held: str = ""  # why a working order is not live: "not transmitted", "goodAfterTime", ...
    good_after: datetime | None = None  # IB goodAfterTime: held until then, then active
    good_till: datetime | None = None  # IB goodTillDate (tif GTD): cancelled then
    trail_percent: float | None = None  # TRAIL by percent instead of auxPrice dollars
    trail_stop: float | None = None  # a TRAIL's current stop (the client may seed it)
    completed_at: datetime | None = None  # when it was filled or cancelled

    @property
    def is_working(self) -> bool:
        return self.status in WORKING_STATUSES

    @property
    def is_buy(self) -> bool:
        return self.action == "BUY"


@dataclass(frozen=True)
class Execution:
    exec_id: str  # IB style: "<8 hex>.<8 hex>.01.01"
    order_id: int
    client_id: int
    perm_id: int
    account: str
    symbol: str
    side: str  # BOT | SLD
    shares: float
    price: float
    time: datetime
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float | None  # None for an opening execution


def normalise(order: SimOrder) -> None:
    """Upper-case the enum-like fields so `buy`/`lmt` from a client match the engine's values."""
    order.symbol = order.symbol.upper()
    order.action = order.action.upper()
    order.order_type = order.order_type.upper()
    order.tif = (order.tif or "DAY").upper()


def validate_fields(order: SimOrder) -> None:
    """Reject an order whose fields cannot be worked (201; 110 for a price off the tick grid)."""

    def reject(reason: str) -> None:
        raise OrderReject(ORDER_REJECTED, f"Order rejected - reason: {reason}")

    kind = order.order_type
    if order.action not in ("BUY", "SELL"):
        reject(f"action {order.action!r} is invalid: use BUY or SELL")
    if kind not in ORDER_TYPES:
        reject(f"order type {kind!r} is not supported: use one of {', '.join(sorted(ORDER_TYPES))}")
    if not order.total_qty or order.total_qty <= 0 or not math.isfinite(order.total_qty):
        reject(f"total quantity {order.total_qty!r} is invalid: use a positive number of shares")
    if kind in ("LMT", "STP LMT", "LOC") and not _valid_price(order.lmt_price):
        reject(f"{kind} order needs a positive limit price (lmtPrice)")
    if kind in ("STP", "STP LMT") and not _valid_price(order.aux_price):
        reject(f"{kind} order needs a positive stop price (auxPrice)")
    if kind == "TRAIL" and not (_valid_price(order.aux_price) or _valid_price(order.trail_percent)):
        reject("TRAIL order needs a trailing amount (auxPrice) or a trailingPercent")
    if order.tif not in TIME_IN_FORCE:
        reject(f"time in force {order.tif!r} is not supported: use one of {', '.join(sorted(TIME_IN_FORCE))}")
    if order.tif == "GTD" and order.good_till is None:
        reject("time in force GTD needs a goodTillDate")
    if kind in AUCTION_TYPES and order.tif not in ("DAY", "GTC"):
        reject(f"{kind} orders take time in force DAY")
    priced = [("lmtPrice", order.lmt_price)] if kind in ("LMT", "STP LMT", "LOC") else []
    if kind in ("STP", "STP LMT"):
        priced.append(("auxPrice", order.aux_price))
    for name, price in priced:
        if price is not None and not on_tick(price):
            raise OrderReject(
                PRICE_OFF_TICK,
                f"The price does not conform to the minimum price variation for this contract. "
                f"({name} {price!r}: use $0.01 steps at or above $1, $0.0001 below)",
            )


def _valid_price(price: float | None) -> bool:
    return price is not None and math.isfinite(price) and price > 0
