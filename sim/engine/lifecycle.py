"""How an order moves between held, live and finished: the rules R1-R8 of `sim/engine/exchange.py`.

A mixin of `MatchingEngine`, kept in its own module so the bracket, OCA and time-in-force rules
read together, apart from the engine's requests, accounting and matching loop.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from sim.engine import hours
from sim.engine.matching import (
    MatchOutcome,
    Segment,
    auction_fill,
    match,
    match_trail,
    trail_offset,
)
from sim.engine.orders import AUCTION_TYPES, STOP_TYPES, OrderReject, SimOrder, validate_fields
from sim.market.ticks import to_tick

if TYPE_CHECKING:
    from sim.engine.book import OrderBook
    from sim.market.replay import MarketReplay

HELD_BY_PARENT = "waiting for parent fill"
HELD_UNTIL_TIME = "goodAfterTime"
NOT_TRANSMITTED = "not transmitted"


class OrderLifecycle:
    """Activation, holding, brackets, OCA groups and expiry (mixed into `MatchingEngine`)."""

    # R3 variant (IB's timing, sim/tws/realism.py): children work while the parent is partly
    # filled, for what it filled so far. False: they wait for the parent to complete (R3 as is).
    children_on_partial_fill: bool = False
    _children_asked: dict[int, float]
    book: OrderBook
    replay: MarketReplay
    slippage_bps: float
    _last: datetime
    _after_hours_expired: bool

    # provided by MatchingEngine
    def _fill(self, order: SimOrder, price: float, at_ts: float, removes: bool) -> None: ...
    def _emit_status(self, order: SimOrder) -> None: ...
    def _emit_update(self, order: SimOrder) -> None: ...
    def _validate(self, order: SimOrder) -> None: ...
    def _take_partial(self, order: SimOrder) -> float | None: ...
    def open_orders(self) -> list[SimOrder]:
        raise NotImplementedError  # MatchingEngine's

    # -- activation (R1, R3, R6) ----------------------------------------------------------------
    def _activate(self, order: SimOrder, now: datetime, match_now: bool = True) -> None:
        """Make a transmitted order live unless its parent or its goodAfterTime still holds it."""
        parent = self.book.get(order.parent_id) if order.parent_id else None
        if parent is not None and not _released_by(parent, self.children_on_partial_fill):
            self._hold(order, HELD_BY_PARENT)
            return
        if parent is not None and self.children_on_partial_fill and parent.is_working:
            self._size_child(order, parent)  # released by a partial fill: for what it bought
        if order.good_after is not None and now < order.good_after:
            if order.why_held != HELD_UNTIL_TIME:
                self.book.set_alarm(order.good_after, "release", order.order_id)
            self._hold(order, HELD_UNTIL_TIME)
            return
        if parent is not None and parent.completed_at is not None and parent.completed_at >= now:
            match_now = False  # R3: not in the piece of the path that filled the parent
        order.why_held = ""
        self.book.activate(order)
        kind = order.order_type
        if kind in STOP_TYPES and not order.triggered:
            if kind == "TRAIL":
                self._seed_trail(order, now)
            self._set_status(order, "PreSubmitted")
        elif kind == "MKT" and not hours.in_regular(self.replay, now) and order.tif not in ("IOC", "FOK"):
            order.why_held = "market closed"
            self._set_status(order, "PreSubmitted")
            return
        else:
            self._set_status(order, "Submitted")
        if order.tif in ("IOC", "FOK"):
            self._immediate(order, now)
        elif match_now:
            self._match_now(order, now)

    def _hold(self, order: SimOrder, reason: str) -> None:
        order.why_held = reason
        if order.status != "PreSubmitted":
            self._set_status(order, "PreSubmitted")

    def _immediate(self, order: SimOrder, now: datetime) -> None:
        """R7: IOC fills what it can now and cancels the rest; FOK fills all now or nothing."""
        if order.tif == "FOK":
            outcome = self._outcome_now(order, now)
            if outcome is not None and outcome.fill and self._take_partial(order) is None:
                self._fill(order, outcome.price, outcome.at, outcome.removes_liquidity)
        else:
            self._match_now(order, now)
        if order.is_working:
            self._cancel(order, f"{order.tif} order not filled at once", now)

    def _seed_trail(self, order: SimOrder, now: datetime) -> None:
        price = self.replay.price_at(order.symbol, now)
        if order.trail_stop is None and price is not None:
            offset = trail_offset(order, price)
            order.trail_stop = to_tick(price + offset if order.is_buy else price - offset)

    def _trail_moved(self, order: SimOrder, before: float | None) -> None:
        """IB reports a TRAIL order's stop in openOrder's trailStopPrice as it moves."""
        if order.is_working and order.trail_stop != before:
            self._emit_update(order)

    def _transmit_group(self, root: SimOrder, now: datetime) -> None:
        """R1: a transmitted child releases its held parent and held siblings, parent first."""
        for order in [root, *self.book.children(root.order_id)]:
            if order.is_working and not order.transmit:
                order.transmit = True
                order.why_held = ""
                self._activate(order, now)

    def _on_alarm(self, kind: str, order_id: int, at: datetime) -> None:
        order = self.book.get(order_id)
        if order is None or not order.is_working:
            return
        if kind == "expire":
            self._cancel(order, "goodTillDate reached", at)
        elif order.why_held == HELD_UNTIL_TIME and order.good_after is not None and at >= order.good_after:
            self._activate(order, at)

    # -- matching one order -------------------------------------------------------------------
    def _outcome_now(self, order: SimOrder, now: datetime) -> MatchOutcome | None:
        """Against the price now: in the session, or in the extended hours for an order that
        works there (`sim/engine/hours.py`)."""
        if not hours.tradable(order, self.replay, now) or order.order_type in AUCTION_TYPES:
            return None
        price = self.replay.price_at(order.symbol, now)
        if price is None:
            return None
        ts = now.timestamp()
        if order.order_type == "TRAIL":
            before = order.trail_stop
            outcome = match_trail(order, [(ts, price)], self.slippage_bps)
            if outcome is None:
                self._trail_moved(order, before)
            return outcome
        return match(order, (ts, ts, price, price, price), self.slippage_bps)

    def _match_now(self, order: SimOrder, now: datetime) -> None:
        """Match against the current price only (placement, modification, activation)."""
        outcome = self._outcome_now(order, now)
        if outcome is not None:
            self._apply(order, outcome)

    def _match(self, order: SimOrder, segment: Segment) -> None:
        if order.order_type == "TRAIL":
            before = order.trail_stop
            points = self.replay.path_points(order.symbol, segment[0], segment[1])
            outcome = match_trail(order, points, self.slippage_bps)
            if outcome is None:
                self._trail_moved(order, before)
        else:
            outcome = match(order, segment, self.slippage_bps)
        if outcome is not None:
            self._apply(order, outcome)

    def _apply(self, order: SimOrder, outcome: MatchOutcome) -> None:
        if outcome.triggered:
            order.triggered = True
        if outcome.fill:
            self._fill(order, outcome.price, outcome.at, outcome.removes_liquidity)
        elif order.status != "Submitted":
            self._set_status(order, "Submitted")

    def _closing_auction(self) -> None:
        """MOC/LOC orders trade at the session's last price; an LOC beyond its limit is cancelled."""
        close = self.replay.session_close
        for order in sorted(self.book.active.values(), key=lambda o: o.order_id):
            if order.order_type not in AUCTION_TYPES or not order.is_working:
                continue
            bars = self.replay.bars(order.symbol)
            price = auction_fill(order, bars[-1].close) if bars else None
            if price is None:
                self._cancel(order, f"{order.order_type} not executed in the closing auction", close)
            else:
                self._fill(order, price, close.timestamp(), True)

    # -- brackets and OCA (R2-R5) ---------------------------------------------------------------
    def _after_fill(self, parent: SimOrder, at: datetime) -> None:
        """After `parent` executed: R3/R4 release its children when it is filled; with
        `children_on_partial_fill` they also work while it is partly filled."""
        if parent.status == "Filled":
            self._release_children(parent, at)
        if self.children_on_partial_fill and parent.filled > 0:
            self._work_children_for_filled(parent, at)

    def _work_children_for_filled(self, parent: SimOrder, at: datetime) -> None:
        """The variant of R3 that the one public report of real IB shows (nautilus_trader issue
        2704: the stop child of a partly filled bracket parent triggered and filled; IB's own
        documents are silent): the children work for what the parent filled, resized as it
        fills. A child that finished (filled, or cancelled by its OCA group) stays finished:
        later parent fills are then unprotected by this bracket, which a client must notice."""
        for child in self.book.children(parent.order_id):
            if not child.is_working or not child.transmit:
                continue
            resized = self._size_child(child, parent)
            if not self.book.is_active(child) and child.why_held != HELD_UNTIL_TIME:
                self._activate(child, at, match_now=False)
            elif resized:
                self._emit_status(child)

    def _size_child(self, child: SimOrder, parent: SimOrder) -> bool:
        """Partial-fill variant: `child` works for the shares its bracket still holds (bought by
        the parent, not yet sold by a child), never above the quantity the client gave it."""
        children = self.book.children(parent.order_id)
        holds = max(parent.filled - sum(c.filled for c in children), 0.0)
        asked = self._children_asked.setdefault(child.order_id, child.total_qty)
        wanted = min(asked, child.filled + holds)
        if wanted <= child.filled or abs(wanted - child.total_qty) <= 1e-9:
            return False
        child.total_qty = wanted
        child.remaining = wanted - child.filled
        return True

    def _release_children(self, parent: SimOrder, at: datetime) -> None:
        """R3/R4: a filled parent (or one that ended partially filled) activates its children,
        sized to what the parent bought or sold."""
        for child in self.book.children(parent.order_id):
            if not child.is_working or not child.transmit or self.book.is_active(child):
                continue
            if child.total_qty > parent.filled and child.filled < parent.filled:
                child.total_qty = parent.filled
                child.remaining = child.total_qty - child.filled
            self._activate(child, at, match_now=False)

    def _settle_oca(self, order: SimOrder, qty: float) -> None:
        """R5: after `order` executed `qty`, cancel or reduce the other members of its group."""
        cancel_all = order.oca_type == 1 or order.status == "Filled"
        for sibling in self.book.oca_siblings(order):
            if not sibling.is_working:
                continue
            if cancel_all or sibling.remaining - qty <= 1e-9:
                self._cancel(sibling, f"OCA group filled by order {order.order_id}")
            else:
                sibling.total_qty -= qty
                sibling.remaining = sibling.total_qty - sibling.filled
                self._emit_status(sibling)

    def _cancel(self, order: SimOrder, reason: str, at: datetime | None = None) -> None:
        """Cancel `order`; R4: its working children go with it unless it has fills."""
        if not order.is_working:
            return
        when = at or self._last
        self.book.deactivate(order)
        order.why_held = reason
        order.completed_at = when
        self._set_status(order, "Cancelled")
        children = [c for c in self.book.children(order.order_id) if c.is_working]
        if not children:
            return
        if order.filled <= 0:
            for child in children:
                self._cancel(child, f"parent order {order.order_id} cancelled", when)
        else:
            self._release_children(order, when)

    def _expire_after_hours(self, at: datetime) -> None:
        """R7: DAY orders working outside regular hours end with the after-hours session."""
        if self._after_hours_expired:
            return
        self._after_hours_expired = True
        for order in sorted(self.open_orders(), key=lambda o: o.order_id):
            placed_before = order.submitted_at is None or order.submitted_at < at
            later = order.good_after is not None and order.good_after >= at  # for a later session
            if order.tif == "DAY" and order.is_working and hours.works_outside_rth(order) \
                    and placed_before and not later:
                self._cancel(order, "DAY order expired at the end of the after-hours session", at)

    # -- modification (R8) --------------------------------------------------------------------
    def _modify(self, order: SimOrder, new: SimOrder, now: datetime) -> None:
        if new.total_qty <= order.filled:
            raise OrderReject(
                201, f"Order rejected - reason: modified quantity {new.total_qty} is not above "
                f"the {order.filled} shares already filled; cancel the order instead"
            )
        probe = dataclasses.replace(
            new, symbol=order.symbol, action=order.action, order_type=new.order_type.upper(),
            tif=(new.tif or order.tif).upper(), account=order.account,
        )
        validate_fields(probe)
        self._validate(probe)
        order.lmt_price, order.aux_price = new.lmt_price, new.aux_price
        order.order_type, order.tif = probe.order_type, probe.tif
        order.total_qty = float(new.total_qty)
        order.remaining = order.total_qty - order.filled
        self._children_asked.pop(order.order_id, None)  # the client's new quantity is what it asks
        order.outside_rth = new.outside_rth
        order.trail_percent = new.trail_percent
        order.good_till = new.good_till
        gat_changed = new.good_after != order.good_after
        order.good_after = new.good_after
        if new.order_ref:
            order.order_ref = new.order_ref
        self._emit_status(order)
        if not order.transmit and new.transmit:
            parent = self.book.get(order.parent_id) if order.parent_id else None
            self._transmit_group(parent if parent is not None and not parent.transmit else order, now)
        elif order.why_held == HELD_UNTIL_TIME and gat_changed:
            order.why_held = ""
            self._activate(order, now)
        elif self.book.is_active(order):
            self._match_now(order, now)

    def _set_status(self, order: SimOrder, status: str) -> None:
        order.status = status
        self._emit_status(order)


def _released_by(parent: SimOrder, partial: bool = False) -> bool:
    """Children may trade once the parent is filled, or ended with a partial fill (R3, R4); in
    the partial-fill variant as soon as it has filled anything."""
    return parent.status == "Filled" or (not parent.is_working or partial) and parent.filled > 0
