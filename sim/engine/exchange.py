"""The paper matching engine: orders, brackets/OCA, fills, commissions and the accounts.

It knows nothing of the TWS protocol; `sim/gateway.py` and `sim/paper_broker.py` drive it and
listen to its events (openOrder then orderStatus on every change, execDetails before the status
that a fill causes). Statuses follow IB (the TWS API's orderStatus states; docs/simulator.md):

    place -> PendingSubmit -> Submitted (MKT, resting LMT, MOC/LOC) | PreSubmitted (held: not
    transmitted, waiting for the parent's fill, goodAfterTime not reached, STP/TRAIL not yet
    triggered, MKT outside the session) -> Filled | Cancelled

The order rules, as IB documents them (TWS API "Bracket Orders", "Attaching Orders", "One
Cancels All", order attributes `transmit`, `parentId`, `ocaGroup`/`ocaType`, `goodAfterTime`,
`goodTillDate`, `tif`); one test per rule in tests/sim/engine/test_order_rules.py:

R1  transmit=False holds an order in "TWS" (PreSubmitted, not transmitted); a transmitted child
    releases its held parent and held siblings, parent first (the bracket's last leg transmits).
    A last leg rejected by the server has still made TWS send the group on (`transmit()`).
R2  A child whose parent the engine never accepted (unknown, or rejected) is rejected with
    10006 "Missing parent order"; a child of a parent that ended without a fill is rejected
    (201): children never become standalone orders.
R3  Children wait (PreSubmitted "waiting for parent fill") until the parent is filled, then
    become active as if just transmitted, but never match in the piece of the path that filled
    the parent.
R4  A parent cancelled (by the client, from TWS, a global cancel, a DAY/GTD expiry, an IOC
    remainder) before any fill takes its working children with it. A parent that ends partially
    filled activates its children for the filled quantity, so the exits never exceed the position.
R5  OCA: children of one parent without a group are an implicit group. ocaType 1 (cancel with
    block): any execution of a member cancels the others. ocaType 2/3 (reduce with/without
    block) and the implicit group: a member's full fill cancels the others, a partial fill
    reduces each other member by the filled shares (cancelled when nothing is left). Held members
    (not transmitted, waiting for a parent, before goodAfterTime) count. Block and non-block
    behave alike: the engine matches one order at a time, so a group is never overfilled.
    Cancelling a member does not touch the others (OCA acts on executions).
R6  goodAfterTime: the order is accepted and held (PreSubmitted, why held "goodAfterTime")
    until the replay clock reaches it, then becomes active as if just transmitted (a MKT fills at
    the price of that instant, in the session; outside it waits for the open). A child becomes
    active at the later of its parent's fill and its goodAfterTime.
R7  Time in force: DAY orders are cancelled at the session close (one whose goodAfterTime lies
    after that close belongs to a later session and stays; one that works outside regular hours,
    an outsideRth limit order, at the end of the after-hours session); GTC orders carry into the next
    session; GTD orders are cancelled at their goodTillDate; IOC fills what it can at once and
    cancels the rest; FOK fills completely at once or is cancelled.
R8  Re-sending a working order's id modifies it (price, quantity, type, tif, goodAfterTime);
    re-sending a finished order's id is error 103. Cancelling an unknown id is 10147, a finished
    one 10148.

Matching (against `MarketReplay`'s documented intra-bar path, never past the clock): MKT fills
at the current price slipped `slippage_bps` against the order; LMT fills when the path touches
the limit, at the limit or the better first price; STP triggers at the stop and fills there (or
at a worse gap price), slipped; STP LMT becomes a limit when triggered; TRAIL follows the path's
extremes and fills like a stop; MOC/LOC trade in the closing auction at the session's last
price. Within one piece of the path stops are matched before limits (the stop wins a tie with
its take-profit: the pessimistic reading). Every fill price is on the tick grid.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sim.engine import hours
from sim.engine.accounts import Accounts
from sim.engine.admission import OrderAdmission
from sim.engine.book import OrderBook
from sim.engine.commissions import CommissionModel, IBFixedCommission, IBTieredCommission
from sim.engine.ledger import Ledger
from sim.engine.lifecycle import OrderLifecycle
from sim.engine.matching import MATCH_PRIORITY
from sim.engine.orders import (
    DUPLICATE_ORDER_ID,
    ORDER_CANNOT_BE_CANCELLED,
    ORDER_TO_CANCEL_NOT_FOUND,
    Execution,
    OrderReject,
    SimOrder,
    normalise,
)
from sim.market.replay import MarketReplay
from sim.market.sessions import NY

__all__ = [
    "CommissionModel",
    "Execution",
    "IBFixedCommission",
    "IBTieredCommission",
    "MatchingEngine",
    "OrderReject",
    "SimOrder",
]

OrderMatch = Callable[[SimOrder], bool]


class MatchingEngine(OrderAdmission, OrderLifecycle):
    """Matches working orders against one `MarketReplay` at a time; keeps the paper accounts."""

    def __init__(
        self,
        replay: MarketReplay,
        account_id: str = "DU1234567",
        cash: float = 100_000.0,
        commissions: CommissionModel | None = None,
        slippage_bps: float = 1.0,
        leverage: float = 4.0,
    ) -> None:
        self.replay = replay
        self.account_id = account_id
        self.accounts = Accounts(account_id, cash)
        self.commissions: CommissionModel = commissions or IBTieredCommission()
        self.slippage_bps = slippage_bps
        self.leverage = leverage
        self.book = OrderBook()
        self._children_asked: dict[int, float] = {}  # child id -> its quantity as the client gave it
        self._executions: list[Execution] = []
        self._listeners: list[Any] = []
        self.next_perm_id = 1_000_001
        self.exec_seq = 0
        # IB execution ids are unique for ever; a DB keyed on them (exactly-once recording) must
        # never see a new engine reuse an id, so each engine gets a random instance part.
        self.instance = secrets.randbits(32)
        self._partial_next: tuple[float, OrderMatch | None] | None = None
        self._last = replay.clock.now()
        self._expired = False
        self._after_hours_expired = False

    # ------------------------------------------------------------------ listeners and state

    def add_listener(self, listener: Any) -> None:
        """`listener` has on_order_status(order), on_open_order(order), on_execution(execution)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def ledger(self) -> Ledger:
        """The first account's ledger (the one unaddressed orders trade in)."""
        return self.accounts.ledger()

    @property
    def cash(self) -> float:
        return self.ledger.cash

    def add_account(
        self, account_id: str, cash: float, positions: dict[str, tuple[float, float]] | None = None
    ) -> None:
        """A second account under the same login (see `Accounts.add`)."""
        self.accounts.add(account_id, cash, positions)

    def positions(self, account: str | None = None) -> dict[str, tuple[float, float]]:
        ledger = self.accounts.ledger(account)
        return {s: (q, avg) for s, (q, avg) in ledger.positions.items() if q != 0}

    def open_orders(self) -> list[SimOrder]:
        return self.book.working()

    def orders(self) -> list[SimOrder]:
        return list(self.book.orders.values())

    def order(self, order_id: int) -> SimOrder | None:
        return self.book.get(order_id)

    def executions(self) -> list[Execution]:
        return list(self._executions)

    def next_valid_id(self) -> int:
        return max(self.book.orders, default=0) + 1

    def mark(self, symbol: str) -> float | None:
        return self.replay.price_at(symbol, self.replay.clock.now())

    def account_values(self, account: str | None = None) -> dict[str, float]:
        """IB account tags, positions marked to the price path now (see `Ledger.account_values`)."""
        ledger = self.accounts.ledger(account)
        marks = {symbol: self.mark(symbol) for symbol, (qty, _) in ledger.positions.items() if qty}
        return ledger.account_values(marks, self.leverage)

    def inject_partial_fill_next(self, fraction: float = 0.5, match: OrderMatch | None = None) -> None:
        """The next fill of an order (of one `match` accepts) takes `fraction` of its remaining
        quantity; the rest keeps working (a FOK it hits cannot fill, so it is cancelled)."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction={fraction!r} is invalid: use a value strictly between 0 and 1")
        self._partial_next = (fraction, match)

    def set_replay(self, replay: MarketReplay) -> None:
        """Move to the next session's replay, keeping the accounts and GTC orders (a DAY order
        still working in the after-hours session ends with it)."""
        self._expire_after_hours(hours.after_hours_close(self.replay.day))
        self.replay = replay
        self._expired = False
        self._after_hours_expired = False

    @property
    def last_advance(self) -> datetime:
        """The replay time up to which orders have been matched."""
        return self._last

    def resume(self, last_advance: datetime, executions: list[Execution]) -> None:
        """Continue a saved engine (`sim/engine/snapshot.py`): matched up to `last_advance`,
        with its executions; the session close is treated as done when it has passed."""
        self._last = last_advance
        self._executions = list(executions)
        self._expired = last_advance >= self.replay.session_close
        self._after_hours_expired = last_advance >= hours.after_hours_close(self.replay.day)

    # ------------------------------------------------------------------ requests

    def place(self, order: SimOrder) -> None:
        """Accept a new order, or modify a working one re-sent with the same id (IB semantics)."""
        now = self.replay.clock.now()
        self.advance(now)
        existing = self.book.get(order.order_id)
        if existing is not None:
            if not existing.is_working:
                raise OrderReject(
                    DUPLICATE_ORDER_ID,
                    f"Duplicate order id {order.order_id}: order ids are never reused, use a new id",
                )
            self._modify(existing, order, now)
            return
        normalise(order)
        order.account = order.account or self.account_id
        self._validate(order)
        parent = self._parent_for(order)
        self._check_buying_power(order, now)
        order.perm_id = self.next_perm_id
        self.next_perm_id += 1
        order.status = "PendingSubmit"
        order.filled = 0.0
        order.remaining = float(order.total_qty)
        order.submitted_at = now
        self.book.add(order)
        self._emit_status(order)
        if order.good_till is not None:
            self.book.set_alarm(order.good_till, "expire", order.order_id)
        if not order.transmit:
            order.why_held = "not transmitted"
            self._set_status(order, "PreSubmitted")
            return
        if parent is not None and parent.is_working and not parent.transmit:
            self._transmit_group(parent, now)
            if order.is_working and not self.book.is_active(order):
                self._activate(order, now)
            return
        self._activate(order, now)

    def transmit(self, order_id: int) -> None:
        """Transmit a held (transmit=False) order and its held children, as the `transmit=True`
        of a bracket's last leg does (R1); used when that leg itself is rejected after TWS sent
        the group on."""
        order = self.book.get(order_id)
        if order is not None and order.is_working and not order.transmit:
            self._transmit_group(order, self.replay.clock.now())

    def cancel(self, order_id: int) -> None:
        """Cancel a working order (a bracket parent without fills takes its children along)."""
        order = self.book.get(order_id)
        if order is None:
            raise OrderReject(ORDER_TO_CANCEL_NOT_FOUND, f"OrderId {order_id} that needs to be cancelled is not found.")
        if not order.is_working:
            raise OrderReject(
                ORDER_CANNOT_BE_CANCELLED,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {order.status}.",
            )
        self._cancel(order, "cancelled")

    def cancel_all(self, account: str | None = None) -> None:
        """Global cancel (reqGlobalCancel): every working order (of `account` when given)."""
        for order in sorted(self.open_orders(), key=lambda o: o.order_id):
            if order.is_working and (account is None or order.account == account):
                self._cancel(order, "global cancel")

    def advance(self, now: datetime) -> None:
        """Match working orders against the price path over (last advance, now].

        Held orders whose goodAfterTime (or goodTillDate) falls inside the interval change state at
        that instant: the path is matched up to it, the alarm fires, then matching continues.
        """
        while True:
            due = self.book.next_alarm()
            if due is None or due > now.timestamp():
                break
            at = datetime.fromtimestamp(due, tz=NY)
            self._advance_to(max(at, self._last))
            for alarm in self.book.pop_due(due):
                self._on_alarm(alarm.kind, alarm.order_id, max(at, self._last))
        self._advance_to(now)

    # ------------------------------------------------------------------ internals

    def _advance_to(self, now: datetime) -> None:
        if now <= self._last:
            return
        t0, self._last = self._last, now
        close = self.replay.session_close
        end = min(now, close)
        book = self.book
        if t0 < end and book.active:
            ts0, ts1 = t0.timestamp(), end.timestamp()
            for symbol in sorted(book.active_by_symbol):
                for segment in self.replay.segments_between(symbol, ts0, ts1):
                    working = book.active_by_symbol.get(symbol)
                    if not working:
                        break
                    for order in sorted(working.values(), key=_priority):
                        if book.is_active(order):
                            self._match(order, segment)
        if now >= close and not self._expired:
            self._expired = True
            self._closing_auction()
            for order in sorted(self.open_orders(), key=lambda o: o.order_id):
                if order.tif == "DAY" and order.is_working and not _later_session(order, close) \
                        and not hours.works_outside_rth(order):
                    self._cancel(order, "DAY order expired at the session close")
        if not self._after_hours_expired and now >= hours.after_hours_close(self.replay.day):
            self._expire_after_hours(hours.after_hours_close(self.replay.day))

    def _take_partial(self, order: SimOrder) -> float | None:
        """The armed partial-fill fraction when it applies to `order` (consumed), else None."""
        if self._partial_next is None:
            return None
        fraction, accepts = self._partial_next
        if order.remaining <= 1 or (accepts is not None and not accepts(order)):
            return None
        self._partial_next = None
        return fraction

    def _fill(self, order: SimOrder, price: float, at_ts: float, removes: bool) -> None:
        qty = order.remaining
        fraction = self._take_partial(order)
        if fraction is not None:
            qty = float(max(1, math.floor(qty * fraction)))
        signed = qty if order.is_buy else -qty
        commission = self.commissions.commission(qty, price, order.action, removes)
        realized = self.accounts.ledger(order.account).apply(order.symbol, signed, price, commission)
        order.avg_fill_price = (order.avg_fill_price * order.filled + price * qty) / (order.filled + qty)
        order.filled += qty
        order.remaining = order.total_qty - order.filled
        order.last_fill_price = price
        self.exec_seq += 1
        at = datetime.fromtimestamp(at_ts, tz=NY)
        execution = Execution(
            exec_id=f"{self.instance:08x}.{self.exec_seq:08x}.01.01", order_id=order.order_id,
            client_id=order.client_id, perm_id=order.perm_id, account=order.account,
            symbol=order.symbol, side="BOT" if order.is_buy else "SLD", shares=qty, price=price,
            time=at, cum_qty=order.filled, avg_price=order.avg_fill_price,
            order_ref=order.order_ref, commission=commission, realized_pnl=realized,
        )
        self._executions.append(execution)
        for listener in list(self._listeners):
            _call(listener, "on_execution", execution)
        if order.remaining <= 1e-9:
            order.remaining = 0.0
            order.completed_at = at
            self.book.deactivate(order)
            self._set_status(order, "Filled")
        else:
            self._set_status(order, "Submitted")
        self._settle_oca(order, qty)
        self._after_fill(order, at)

    def _emit_status(self, order: SimOrder) -> None:
        """IB sends openOrder then orderStatus on every change; listeners get both, in order."""
        for listener in list(self._listeners):
            _call(listener, "on_open_order", order)
            _call(listener, "on_order_status", order)

    def _emit_update(self, order: SimOrder) -> None:
        """A working order's details changed without a status change (a TRAIL's stop moved):
        `on_order_update(order)` for listeners that report it (the gateway: openOrder)."""
        for listener in list(self._listeners):
            _call(listener, "on_order_update", order)


def _priority(order: SimOrder) -> tuple[int, int]:
    return MATCH_PRIORITY[order.order_type], order.order_id


def _later_session(order: SimOrder, close: datetime) -> bool:
    """A DAY order whose goodAfterTime lies after this close is for a later session (R7)."""
    return order.good_after is not None and order.good_after >= close


def _call(listener: Any, name: str, arg: Any) -> None:
    handler = getattr(listener, name, None)
    if handler is not None:
        handler(arg)
