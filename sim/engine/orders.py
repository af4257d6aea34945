"""The paper engine's order and execution records, and IB-style order errors.

Plain dataclasses, like the IB client's own objects, so the gateway can encode them field by
field and the paper broker can translate them to `trade.models` without knowing the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

WORKING_STATUSES = frozenset({"PendingSubmit", "PreSubmitted", "Submitted"})
ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT"})


class OrderReject(Exception):
    """IB-style order error: `code` is the IB error code (201, 200, 103, 10147, ...)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(eq=False)
class SimOrder:
    """An order as the engine holds it; the fields after `outside_rth` are engine-maintained."""

    order_id: int
    client_id: int
    account: str
    symbol: str
    action: str  # BUY | SELL
    total_qty: float
    order_type: str  # MKT | LMT | STP | STP LMT
    lmt_price: float | None = None
    aux_price: float | None = None  # stop trigger
    tif: str = "DAY"  # DAY | GTC
    oca_group: str = ""
    oca_type: int = 0
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
    why_held: str = ""  # why a working order is not live: "not transmitted", "market closed", ...

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
    """Reject (IB error 201) an order whose fields cannot be worked; the message names the field."""

    def reject(reason: str) -> None:
        raise OrderReject(201, f"Order rejected - reason: {reason}")

    if order.action not in ("BUY", "SELL"):
        reject(f"action {order.action!r} is invalid: use BUY or SELL")
    if order.order_type not in ORDER_TYPES:
        reject(f"order type {order.order_type!r} is not supported: use MKT, LMT, STP or STP LMT")
    if not order.total_qty or order.total_qty <= 0 or not math.isfinite(order.total_qty):
        reject(f"total quantity {order.total_qty!r} is invalid: use a positive number of shares")
    if order.order_type in ("LMT", "STP LMT") and not _valid_price(order.lmt_price):
        reject(f"{order.order_type} order needs a positive limit price (lmtPrice)")
    if order.order_type in ("STP", "STP LMT") and not _valid_price(order.aux_price):
        reject(f"{order.order_type} order needs a positive stop price (auxPrice)")
    if order.tif not in ("DAY", "GTC"):
        reject(f"time in force {order.tif!r} is not supported: use DAY or GTC")


def _valid_price(price: float | None) -> bool:
    return price is not None and math.isfinite(price) and price > 0
