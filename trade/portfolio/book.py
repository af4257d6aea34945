"""The weekly book: what the rebalancer owns, moved only by its own executions.

Both bots may share one account (docs/architecture.md): the day trader's book is "intraday", this one is
"weekly" (`book_positions` rows). This bot recognises its orders and executions by their
`orderRef` (`WK-<YYYYMMDD>-<SYM>-<seq>`; the day trader's `OrderRef.parse` needs a leg suffix,
so the two never mistake each other's refs), applies each execution once (the history DB's
execution id, in the same transaction as the book move), and reconciles by executions, never
by a positions snapshot alone: a snapshot cannot tell whose shares are whose. The positions
snapshot only caps what may be sold (never the day trader's shares, never more than the broker
holds) and raises warnings when the books and the broker disagree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from observability.history import HistoryDB
from observability.schema import IntentState
from trade.broker import Broker
from trade.models import Fill, OrderTicket

log = logging.getLogger(__name__)

BOT = "WK"
BOOK = "weekly"
OTHER_BOOK = "intraday"
_REF = re.compile(r"^WK-(?P<day>\d{8})-(?P<symbol>[A-Z0-9.]+)-(?P<seq>\d+)$")


@dataclass(frozen=True, slots=True)
class WeeklyRef:
    """`WK-20190211-KO-2`: bot, trading date, symbol, sequence (per symbol and day)."""

    day: str  # YYYYMMDD
    symbol: str
    seq: int

    def __str__(self) -> str:
        return f"{BOT}-{self.day}-{self.symbol}-{self.seq}"

    @classmethod
    def parse(cls, text: str) -> WeeklyRef | None:
        match = _REF.match(text or "")
        if match is None:
            return None
        return cls(match["day"], match["symbol"], int(match["seq"]))

    @classmethod
    def first_free(cls, db: HistoryDB, day: date, symbol: str) -> WeeklyRef:
        """The next unused ref for `symbol` today (sequences never reused, also after a restart)."""
        return cls(day.strftime("%Y%m%d"), symbol, db.max_sequence(BOT, day, symbol) + 1)


@dataclass(slots=True)
class BookState:
    """The weekly book after a sync, with the broker's view beside it."""

    held: dict[str, int]  # weekly book, shares
    avg_cost: dict[str, float]
    working: list[OrderTicket]  # our orders still working at the broker
    sellable: dict[str, int]  # weekly shares the broker really holds beyond the intraday book
    warnings: list[str] = field(default_factory=list)

    def working_qty(self, side: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for order in self.working:
            if order.side.value == side:
                out[order.symbol] = out.get(order.symbol, 0) + order.remaining
        return out


class WeeklyBook:
    """Applies the bot's executions to the DB book and reads the broker's side of things.

    `dry_run` never writes: the book is read as it is, and executions the DB has not seen are
    only counted in memory (a dry run must leave no trace)."""

    def __init__(self, db: HistoryDB, broker: Broker, *, dry_run: bool = False) -> None:
        self.db = db
        self.broker = broker
        self.dry_run = dry_run
        self._unrecorded: dict[str, Fill] = {}

    def apply(self, fill: Fill) -> bool:
        """Apply one execution if it is ours and new; True when the book moved."""
        ref = WeeklyRef.parse(fill.order_ref)
        if ref is None:
            return False
        if self.dry_run:
            if any(e.exec_id == fill.exec_id for e in self.db.executions_for(fill.order_ref)):
                return False
            new = fill.exec_id not in self._unrecorded
            self._unrecorded[fill.exec_id] = fill
            return new
        new = self.db.record_book_execution(
            fill.exec_id, fill.order_ref, fill.symbol, fill.side.value, fill.qty, fill.price,
            fill.time, fill.commission, BOOK)
        if new:
            log.info("fill %s %s %d @ %.2f (%s)", fill.side.value, fill.symbol, fill.qty,
                     fill.price, fill.order_ref)
            self._close_if_filled(fill.order_ref, fill.time)
        return new

    def commission(self, exec_id: str, commission: float) -> None:
        """Complete the execution row recorded before its commission report came."""
        if self.dry_run:
            return
        rows = self.db.pending_commissions(BOOK)
        if exec_id in rows:
            self.db.set_execution_commission(exec_id, commission)

    def _close_if_filled(self, order_ref: str, time: datetime) -> None:
        intent = self.db.intent(order_ref)
        if intent is None or intent.state.is_terminal:
            return
        filled = sum(int(e.qty) for e in self.db.executions_for(order_ref))
        if filled >= intent.qty:
            self.db.update_intent_state(order_ref, IntentState.CLOSED, time)

    async def sync(self, day: date) -> BookState:
        """Executions first (missed ones applied once), then our working orders, then intents
        of `day` that are neither working nor filled are closed as cancelled."""
        fills = await self.broker.executions()
        for fill in fills:
            self.apply(fill)
        if not self.dry_run:  # commissions that came while the bot was away or after a restart
            pending = self.db.pending_commissions(BOOK)
            for fill in fills:
                if fill.exec_id in pending and fill.commission is not None:
                    self.db.set_execution_commission(fill.exec_id, fill.commission)
        orders = await self.broker.open_orders()
        working = [o for o in orders if WeeklyRef.parse(o.order_ref) and o.status.is_working]
        if not self.dry_run:
            self._settle_intents(day, {o.order_ref for o in working})
        held, cost = self._held()
        positions = {p.symbol: p.qty for p in await self.broker.positions()}
        intraday = {p.symbol: p.qty for p in self.db.book_positions(OTHER_BOOK)}
        sellable: dict[str, int] = {}
        warnings: list[str] = []
        for symbol, qty in held.items():
            beyond = positions.get(symbol, 0) - max(0, intraday.get(symbol, 0))
            sellable[symbol] = max(0, min(qty, beyond))
            if beyond < qty:
                warnings.append(
                    f"{symbol}: the broker holds {positions.get(symbol, 0)}, the weekly book "
                    f"owns {qty} and the intraday book {intraday.get(symbol, 0)}: the weekly "
                    f"bot sells at most {sellable[symbol]}")
        for warning in warnings:
            log.warning("book: %s", warning)
        return BookState(held, cost, working, sellable, warnings)

    def _held(self) -> tuple[dict[str, int], dict[str, float]]:
        held = {p.symbol: p.qty for p in self.db.book_positions(BOOK)}
        cost = {p.symbol: p.avg_cost for p in self.db.book_positions(BOOK)}
        for fill in self._unrecorded.values():  # dry run only
            signed = fill.qty if fill.side.value == "BUY" else -fill.qty
            held[fill.symbol] = max(0, held.get(fill.symbol, 0) + signed)
        return {s: q for s, q in held.items() if q > 0}, cost

    def _settle_intents(self, day: date, working_refs: Iterable[str]) -> None:
        live = set(working_refs)
        now = self.broker.now()
        for intent in self.db.open_intents(BOOK, day):
            if intent.order_ref in live:
                if intent.state is IntentState.PENDING:
                    self.db.update_intent_state(intent.order_ref, IntentState.WORKING, now)
                continue
            filled = sum(int(e.qty) for e in self.db.executions_for(intent.order_ref))
            state = IntentState.CLOSED if filled >= intent.qty else IntentState.CANCELLED
            self.db.update_intent_state(intent.order_ref, state, now)
