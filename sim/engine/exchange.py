"""The paper matching engine: orders, brackets/OCA, fills, commissions and the account.

It knows nothing of the TWS protocol; `sim/gateway.py` and `sim/paper_broker.py` drive it and
listen to its events. Status sequences follow IB (see shared/notes/tws-protocol.md §4.9):

    place -> PendingSubmit -> Submitted (MKT, resting LMT) | PreSubmitted (STP until triggered,
    bracket children until the parent fills, orders sent with transmit=False)
          -> Filled | Cancelled (cancel, OCA sibling filled, DAY expiry at the session close)

Matching rules (all against `MarketReplay.segments`, i.e. the documented intra-bar path, and
never past the clock: no look-ahead):
- MKT fills at placement at `price_at(now)` moved `slippage_bps` against the order (before the
  open: at the first segment's price, i.e. the opening print).
- LMT fills when the path touches the limit, at the limit or better (the segment's first price
  when that is already through the limit); no slippage.
- STP triggers when the path touches the stop and fills at the stop, or at the segment's first
  price when that is already beyond it (a gap through the stop fills at the worse bar open),
  plus slippage. STP LMT turns into a limit when triggered.
- Within one segment stops are matched before limits, so when both exits of an OCA group (or a
  bracket) could trigger in the same interval the stop wins: the pessimistic choice, because
  the path inside a bar is a convention, not a record.
- An order activated by a fill in a segment (a bracket child) is matched from the next segment
  on. A full fill of an OCA member cancels its siblings; a partial fill reduces each sibling's
  quantity by the filled shares, so the exits never exceed the position (bracket children are
  an implicit OCA group, as at IB).
- DAY orders are cancelled at the session close; GTC orders stay working (`set_replay` carries
  them into the next session).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import secrets
from datetime import datetime
from typing import Any

from sim.engine.commissions import CommissionModel, IBFixedCommission, IBTieredCommission
from sim.engine.ledger import Ledger
from sim.engine.margin import check_buying_power
from sim.engine.matching import MATCH_PRIORITY, Segment, match
from sim.engine.orders import (
    Execution,
    OrderReject,
    SimOrder,
    normalise,
    validate_fields,
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

class MatchingEngine:
    """Matches working orders against one `MarketReplay`; keeps the paper account."""

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
        self.commissions: CommissionModel = commissions or IBTieredCommission()
        self.slippage_bps = slippage_bps
        self.leverage = leverage
        self.ledger = Ledger(initial_cash=cash)
        self._orders: dict[int, SimOrder] = {}
        # matchable now (transmitted, parent filled), by symbol: advance() stays O(working orders)
        self._active: dict[int, SimOrder] = {}
        self._active_by_symbol: dict[str, dict[int, SimOrder]] = {}
        self._executions: list[Execution] = []
        self._listeners: list[Any] = []
        self._perm_ids = itertools.count(1_000_001)
        self.exec_seq = 0
        # IB execution ids are unique for ever; a DB keyed on them (exactly-once recording) must
        # never see a new engine reuse an id, so each engine gets a random instance part.
        self._instance = secrets.randbits(32)
        self._partial_next: float | None = None
        self._last = replay.clock.now()
        self._expired = False

    # ------------------------------------------------------------------ listeners and state

    def add_listener(self, listener: Any) -> None:
        """`listener` has on_order_status(order), on_open_order(order), on_execution(execution)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def cash(self) -> float:
        return self.ledger.cash

    def positions(self) -> dict[str, tuple[float, float]]:
        return {s: (q, avg) for s, (q, avg) in self.ledger.positions.items() if q != 0}

    def open_orders(self) -> list[SimOrder]:
        return [o for o in self._orders.values() if o.is_working]

    def orders(self) -> list[SimOrder]:
        return list(self._orders.values())

    def order(self, order_id: int) -> SimOrder | None:
        return self._orders.get(order_id)

    def executions(self) -> list[Execution]:
        return list(self._executions)

    def next_valid_id(self) -> int:
        return max(self._orders, default=0) + 1

    def mark(self, symbol: str) -> float | None:
        return self.replay.price_at(symbol, self.replay.clock.now())

    def account_values(self) -> dict[str, float]:
        """IB account tags, positions marked to the price path now (see `Ledger.account_values`)."""
        marks = {symbol: self.mark(symbol) for symbol in self.positions()}
        return self.ledger.account_values(marks, self.leverage)

    def inject_partial_fill_next(self, fraction: float = 0.5) -> None:
        """The next fill of any order takes only `fraction` of its remaining quantity."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction={fraction!r} is invalid: use a value strictly between 0 and 1")
        self._partial_next = fraction

    def set_replay(self, replay: MarketReplay) -> None:
        """Move to the next session's replay, keeping the account and GTC orders."""
        self.replay = replay
        self._last = replay.clock.now()
        self._expired = False

    # ------------------------------------------------------------------ requests

    def place(self, order: SimOrder) -> None:
        """Accept a new order, or modify a working one re-sent with the same id (IB semantics)."""
        now = self.replay.clock.now()
        self.advance(now)
        existing = self._orders.get(order.order_id)
        if existing is not None:
            if not existing.is_working:
                raise OrderReject(
                    103, f"Duplicate order id {order.order_id}: order ids are never reused, use a new id"
                )
            self._modify(existing, order, now)
            return
        normalise(order)
        self._validate(order)
        self._check_buying_power(order, now)
        order.account = order.account or self.account_id
        order.perm_id = next(self._perm_ids)
        order.status = "PendingSubmit"
        order.filled = 0.0
        order.remaining = float(order.total_qty)
        order.submitted_at = now
        self._orders[order.order_id] = order
        self._emit_status(order)
        if not order.transmit:
            order.why_held = "not transmitted"
            self._set_status(order, "PreSubmitted")
            return
        parent = self._orders.get(order.parent_id) if order.parent_id else None
        if parent is not None and parent.is_working and not parent.transmit:
            self._transmit_group(parent, now)
            if order.is_working and order.order_id not in self._active:
                self._activate(order, now)
            return
        self._activate(order, now)

    def cancel(self, order_id: int) -> None:
        """Cancel a working order (and, for a bracket parent, its children)."""
        order = self._orders.get(order_id)
        if order is None:
            raise OrderReject(10147, f"OrderId {order_id} that needs to be cancelled is not found.")
        if not order.is_working:
            raise OrderReject(
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {order.status}.",
            )
        self._cancel(order)
        for child in self._children(order_id):
            if child.is_working:
                self._cancel(child)

    def cancel_all(self) -> None:
        """Global cancel (reqGlobalCancel): every working order of the account."""
        for order in sorted(self.open_orders(), key=lambda o: o.order_id):
            if order.is_working:
                self._cancel(order)

    def advance(self, now: datetime) -> None:
        """Match working orders against the price path over (last advance, now]."""
        if now <= self._last:
            return
        t0, self._last = self._last, now
        end = min(now, self.replay.session_close)
        if t0 < end and self._active:
            ts0, ts1 = t0.timestamp(), end.timestamp()
            for symbol in sorted(self._active_by_symbol):
                for segment in self.replay.segments_between(symbol, ts0, ts1):
                    working = self._active_by_symbol.get(symbol)
                    if not working:
                        break
                    candidates = sorted(
                        working.values(), key=lambda o: (MATCH_PRIORITY[o.order_type], o.order_id)
                    )
                    for order in candidates:
                        if order.order_id in self._active:
                            self._match(order, segment)
        if now >= self.replay.session_close and not self._expired:
            self._expired = True
            for order in sorted(self.open_orders(), key=lambda o: o.order_id):
                if order.tif == "DAY" and order.is_working:
                    order.why_held = "DAY order expired at the session close"
                    self._cancel(order)

    # ------------------------------------------------------------------ internals

    def _validate(self, order: SimOrder) -> None:
        validate_fields(order)
        if order.symbol not in self.replay.known_symbols():
            raise OrderReject(
                200, f"No security definition has been found for the request: {order.symbol}"
            )

    def _check_buying_power(self, order: SimOrder, now: datetime) -> None:
        check_buying_power(
            order,
            self.open_orders(),
            self.account_values()["BuyingPower"],
            position_of=lambda symbol: self.ledger.positions.get(symbol, [0.0, 0.0])[0],
            market_of=lambda symbol: self.replay.price_at(symbol, now),
        )

    def _modify(self, order: SimOrder, new: SimOrder, now: datetime) -> None:
        if new.total_qty <= order.filled:
            raise OrderReject(
                201, f"Order rejected - reason: modified quantity {new.total_qty} is not above "
                f"the {order.filled} shares already filled; cancel the order instead"
            )
        probe = dataclasses.replace(
            new, symbol=order.symbol, action=order.action, order_type=new.order_type.upper(),
            tif=(new.tif or order.tif).upper(),
        )
        self._validate(probe)
        order.lmt_price, order.aux_price = new.lmt_price, new.aux_price
        order.order_type, order.tif = probe.order_type, probe.tif
        order.total_qty = float(new.total_qty)
        order.remaining = order.total_qty - order.filled
        order.outside_rth = new.outside_rth
        if new.order_ref:
            order.order_ref = new.order_ref
        self._emit_status(order)
        if not order.transmit and new.transmit:
            parent = self._orders.get(order.parent_id) if order.parent_id else None
            self._transmit_group(parent if parent is not None and not parent.transmit else order, now)
        elif order.order_id in self._active:
            self._match_now(order, now)

    def _transmit_group(self, root: SimOrder, now: datetime) -> None:
        """A transmitted child releases its held parent and held siblings, parent first."""
        for order in [root, *self._children(root.order_id)]:
            if order.is_working and not order.transmit:
                order.transmit = True
                order.why_held = ""
                self._activate(order, now)

    def _children(self, parent_id: int) -> list[SimOrder]:
        return sorted(
            (o for o in self._orders.values() if o.parent_id == parent_id),
            key=lambda o: o.order_id,
        )

    def _activate(self, order: SimOrder, now: datetime) -> None:
        parent = self._orders.get(order.parent_id) if order.parent_id else None
        if parent is not None and parent.status != "Filled":
            order.why_held = "waiting for parent fill"
            self._set_status(order, "PreSubmitted")
            return
        order.why_held = ""
        self._add_active(order)
        if order.order_type in ("STP", "STP LMT") and not order.triggered:
            self._set_status(order, "PreSubmitted")
        elif order.order_type == "MKT" and not self._in_session(now):
            order.why_held = "market closed"
            self._set_status(order, "PreSubmitted")
            return
        else:
            self._set_status(order, "Submitted")
        self._match_now(order, now)

    def _in_session(self, now: datetime) -> bool:
        return self.replay.session_open <= now < self.replay.session_close

    def _match_now(self, order: SimOrder, now: datetime) -> None:
        """Match against the current price only (placement, modification, activation)."""
        if not self._in_session(now):
            return
        price = self.replay.price_at(order.symbol, now)
        if price is None:
            return
        ts = now.timestamp()
        self._match(order, (ts, ts, price, price, price))

    def _match(self, order: SimOrder, segment: Segment) -> None:
        outcome = match(order, segment, self.slippage_bps)
        if outcome is None:
            return
        if outcome.triggered:
            order.triggered = True
        if outcome.fill:
            self._fill(order, outcome.price, outcome.at, outcome.removes_liquidity)
        elif order.status != "Submitted":
            self._set_status(order, "Submitted")

    def _fill(self, order: SimOrder, price: float, at_ts: float, removes: bool) -> None:
        qty = order.remaining
        if self._partial_next is not None and qty > 1:
            qty = float(max(1, math.floor(qty * self._partial_next)))
            self._partial_next = None
        signed = qty if order.is_buy else -qty
        commission = self.commissions.commission(qty, price, order.action, removes)
        realized = self.ledger.apply(order.symbol, signed, price, commission)
        order.avg_fill_price = (order.avg_fill_price * order.filled + price * qty) / (order.filled + qty)
        order.filled += qty
        order.remaining = order.total_qty - order.filled
        order.last_fill_price = price
        self.exec_seq += 1
        execution = Execution(
            exec_id=f"{self._instance:08x}.{self.exec_seq:08x}.01.01",
            order_id=order.order_id,
            client_id=order.client_id,
            perm_id=order.perm_id,
            account=order.account,
            symbol=order.symbol,
            side="BOT" if order.is_buy else "SLD",
            shares=qty,
            price=price,
            time=datetime.fromtimestamp(at_ts, tz=NY),
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            order_ref=order.order_ref,
            commission=commission,
            realized_pnl=realized,
        )
        self._executions.append(execution)
        for listener in list(self._listeners):
            _call(listener, "on_execution", execution)
        if order.remaining <= 1e-9:
            order.remaining = 0.0
            self._drop_active(order)
            self._set_status(order, "Filled")
        else:
            self._set_status(order, "Submitted")
        self._settle_oca(order, qty)
        if order.status == "Filled":
            now = datetime.fromtimestamp(at_ts, tz=NY)
            for child in self._children(order.order_id):
                if child.is_working and child.transmit:
                    self._activate_later(child, now)

    def _activate_later(self, child: SimOrder, now: datetime) -> None:
        """Activate a bracket child without matching it in the segment that filled its parent."""
        child.why_held = ""
        self._add_active(child)
        kind = child.order_type
        self._set_status(child, "PreSubmitted" if kind in ("STP", "STP LMT") else "Submitted")

    def _oca_siblings(self, order: SimOrder) -> list[SimOrder]:
        if order.oca_group:
            same = [o for o in self._orders.values() if o.oca_group == order.oca_group
                    and o.account == order.account]
        elif order.parent_id:
            same = self._children(order.parent_id)
        else:
            return []
        return [o for o in same if o is not order and o.is_working]

    def _settle_oca(self, order: SimOrder, qty: float) -> None:
        for sibling in sorted(self._oca_siblings(order), key=lambda o: o.order_id):
            if order.status == "Filled" or sibling.remaining - qty <= 1e-9:
                sibling.why_held = f"OCA group filled by order {order.order_id}"
                self._cancel(sibling)
            else:
                sibling.total_qty -= qty
                sibling.remaining = sibling.total_qty - sibling.filled
                self._emit_status(sibling)

    def _add_active(self, order: SimOrder) -> None:
        self._active[order.order_id] = order
        self._active_by_symbol.setdefault(order.symbol, {})[order.order_id] = order

    def _drop_active(self, order: SimOrder) -> None:
        self._active.pop(order.order_id, None)
        working = self._active_by_symbol.get(order.symbol)
        if working is not None:
            working.pop(order.order_id, None)
            if not working:
                del self._active_by_symbol[order.symbol]

    def _cancel(self, order: SimOrder) -> None:
        self._drop_active(order)
        self._set_status(order, "Cancelled")

    def _set_status(self, order: SimOrder, status: str) -> None:
        order.status = status
        self._emit_status(order)

    def _emit_status(self, order: SimOrder) -> None:
        """IB sends openOrder then orderStatus on every change; listeners get both, in order."""
        for listener in list(self._listeners):
            _call(listener, "on_open_order", order)
            _call(listener, "on_order_status", order)


def _call(listener: Any, name: str, arg: Any) -> None:
    handler = getattr(listener, name, None)
    if handler is not None:
        handler(arg)
