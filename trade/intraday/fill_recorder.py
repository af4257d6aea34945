"""Every execution of the bot applied exactly once: the symbol's book, the ledger, the DB row.

IB may report an execution more than once (live, then again in the executions replayed after a
reconnect or restart). Within a run, the exec id seen in memory decides, whatever the DB does:
an execution moves the book and the ledger once, and its DB row follows (at once, or later when
the DB was locked: trade now, record later). Across runs the DB decides: an execution the DB
already holds was applied by the previous run and is not applied again. After a restart the
day's executions already in the DB rebuild the ledger, limited to those the broker still reports
(a row it does not know belongs to another broker session).

The lot itself is moved by `Lots` (trade/intraday/lots.py), its only writer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from observability.schema import ExecutionRow, IntentState, TradeRow
from trade.intraday.context import TraderContext
from trade.intraday.ledger import RoundTrip, TripLedger
from trade.intraday.lots import Lots
from trade.intraday.run_log import trade_entry
from trade.models import Fill, OrderRef, Side

log = logging.getLogger(__name__)
NY = ZoneInfo("America/New_York")  # the DB stores UTC; run logs and the ledger use NY time


class FillRecorder:
    def __init__(self, ctx: TraderContext, lots: Lots) -> None:
        self.ctx = ctx
        self.lots = lots
        self.records = ctx.records
        self.db = ctx.records.db
        self.bot = ctx.bot
        self.book_name = ctx.book_name
        self.day = ctx.day
        self.variant = ctx.variant
        self.run_log = ctx.run_log
        self.now = ctx.broker.now
        self.ledger = TripLedger(ctx.bot)
        self.seen: set[str] = set()
        self._daystr = ctx.day.strftime("%Y%m%d")

    def is_new(self, fill: Fill) -> OrderRef | None:
        """The fill's ref if it is ours and not yet seen in this run (cheap, before any I/O)."""
        ref = OrderRef.parse(fill.order_ref)
        if ref is None or ref.bot != self.bot or fill.exec_id in self.seen:
            return None
        return ref

    def record(self, fill: Fill, ref: OrderRef) -> bool:
        """Apply one execution (once per exec id) and record it; False when a previous run had
        already recorded (and so applied) it."""
        if fill.exec_id in self.seen:
            return False
        self.seen.add(fill.exec_id)
        new = self.records.write("record_execution", lambda: self.db.record_execution(
            fill.exec_id, fill.order_ref, fill.symbol, fill.side.value, fill.qty, fill.price,
            fill.time, fill.commission, self.book_name, run_id=self.run_log.run_id,
        ))
        if new is False:
            return False  # the DB had it: a previous run of today applied it
        self._apply(fill, ref)  # new, or unknown because the DB is unavailable: memory decides
        return True

    def replay(self, rows: Iterable[ExecutionRow], at_broker: set[str]) -> None:
        """Rebuild today's round trips from recorded executions the broker still reports."""
        for row in rows:
            ref = OrderRef.parse(row.order_ref)
            if ref is None or ref.day != self._daystr or row.exec_id not in at_broker:
                continue
            self.seen.add(row.exec_id)
            fill = Fill(row.exec_id, 0, row.order_ref, row.symbol, Side(row.side), int(row.qty),
                        row.price, row.time.astimezone(NY), row.commission)
            trip = self.ledger.apply(fill)
            if trip is not None:
                self.run_log.trades.append(trade_entry(trip))

    @property
    def realized_pnl(self) -> float:
        return self.ledger.realized_pnl

    def _apply(self, fill: Fill, ref: OrderRef) -> None:
        book = self.lots.apply_fill(fill)
        if fill.side is Side.BUY and ref.leg == "ENTRY":
            self._write_intent(str(ref), IntentState.OPEN, fill.time)
        log.info("fill %s %s %d @ %.2f (%s); %s now %d", fill.side.value, fill.symbol, fill.qty,
                 fill.price, fill.order_ref, fill.symbol, book.qty)
        trip = self.ledger.apply(fill)
        if trip is not None:
            self._record_trip(trip)

    def _record_trip(self, trip: RoundTrip) -> None:
        entry_ref = trip.entry_fills[0].order_ref if trip.entry_fills else ""
        snapshot = self.ctx.signals.get(entry_ref, {})
        exit_time = trip.exit_time or self.now()
        row = TradeRow(
            trading_date=self.day, book=self.book_name, symbol=trip.symbol, side=trip.side.value,
            qty=trip.entry_qty, entry_time=trip.entry_time or exit_time,
            entry_price=trip.entry_price, exit_time=exit_time, exit_price=trip.exit_price,
            pnl=trip.pnl, commission=trip.commission, variant=self.variant,
            rsi=snapshot.get("rsi"), vwap=snapshot.get("vwap"), atr=snapshot.get("atr"),
            reason=snapshot.get("reason", ""), exit_reason=trip.exit_reason, order_ref=entry_ref,
            run_id=self.run_log.run_id,
        )
        self.records.write("record_trade", lambda: self.db.record_trade(row))
        for leg_fill in trip.entry_fills + trip.exit_fills:
            parsed = OrderRef.parse(leg_fill.order_ref)
            if parsed is not None:
                for leg in ("ENTRY", "PROT", "FLAT"):
                    self._write_intent(str(parsed.sibling(leg)), IntentState.CLOSED, exit_time)
        self.run_log.trades.append(trade_entry(trip))
        log.info("trade closed: %s %d, %s, pnl %.2f", trip.symbol, trip.entry_qty,
                 trip.exit_reason, trip.pnl)

    def _write_intent(self, order_ref: str, state: IntentState, when: datetime) -> None:
        self.records.write("update_intent_state",
                           lambda: self.db.update_intent_state(order_ref, state, when))
