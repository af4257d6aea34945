"""Every execution of the bot applied exactly once: the symbol's book, the ledger, the DB row.

IB may report an execution more than once (live, then again in the executions replayed after a
reconnect or restart). Within a run, the exec id seen in memory decides, whatever the DB does:
an execution moves the book and the ledger once, and its DB row follows (at once, or later when
the DB was locked: trade now, record later). Across runs the DB decides: an execution the DB
already holds was applied by the previous run and is not applied again. After a restart the
day's executions already in the DB rebuild the ledger, limited to those the broker still reports
(a row it does not know belongs to another broker session).

The lot itself is moved by `Lots` (trade/intraday/lots.py), its only writer.

An execution moves the lot when it is reported (execDetails), not when its commission report
comes: IB sends the report after the execution, at times seconds later with order statuses in
between, and a bot that counted shares only at the report would size the next entry, its exits
and a cover from a book that lags the broker. The commission is attached when its report comes
(`on_commission`): the execution's row is then completed, and a round trip is recorded once every
commission of it is known (or, at the end of the run, with what is known, saying so).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from observability.alerts import events as ev
from observability.schema import ExecutionRow, IntentState, TradeRow
from trade.intraday.context import TraderContext
from trade.intraday.ledger import RoundTrip, TripLedger
from trade.intraday.lots import Lots
from trade.intraday.run_log import trade_entry
from trade.models import Fill, OrderRef, OrderTicket, Side

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
        self.pending: set[str] = set()  # exec ids whose commission report has not come
        self._early: dict[str, float] = {}  # reports that came before their execution was seen
        self._parked: list[RoundTrip] = []  # closed trips waiting for a commission report
        self._executed: dict[str, int] = {}  # order ref -> shares its executions applied
        self._status_filled: dict[str, int] = {}  # order ref -> shares its statuses said filled
        self._final: set[str] = set()  # refs of orders reported done for good
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
        self._executed[fill.order_ref] = self._executed.get(fill.order_ref, 0) + fill.qty
        if fill.commission is None and fill.exec_id in self._early:
            fill = replace(fill, commission=self._early.pop(fill.exec_id))
        new = self.records.write("record_execution", lambda: self.db.record_execution(
            fill.exec_id, fill.order_ref, fill.symbol, fill.side.value, fill.qty, fill.price,
            fill.time, fill.commission, self.book_name, run_id=self.run_log.run_id,
        ), detail={"exec_id": fill.exec_id, "order_ref": fill.order_ref, "symbol": fill.symbol,
                   "side": fill.side.value, "qty": fill.qty, "price": fill.price,
                   "time": fill.time.isoformat(), "commission": fill.commission})
        if new is False:
            # the DB had it: a previous run of today applied it (its report may still be due)
            if fill.commission is not None:
                self._complete(fill.exec_id, fill.commission)
            return False
        if fill.commission is None:
            self.pending.add(fill.exec_id)
        self._apply(fill, ref)  # new, or unknown because the DB is unavailable: memory decides
        return True

    def on_commission(self, exec_id: str, commission: float) -> None:
        """An execution's commission report: its row completed, its trip recorded when whole."""
        if exec_id not in self.seen:
            self._early[exec_id] = commission  # applied with the execution when it is seen
            return
        self._complete(exec_id, commission)

    def note_reported(self, fills: Iterable[Fill]) -> None:
        """Executions the broker reports again (reqExecutions): the commissions that came while
        the bot was away or before a restart complete the rows still waiting for them."""
        for fill in fills:
            if fill.commission is not None and fill.exec_id in self.pending:
                self._complete(fill.exec_id, fill.commission)

    def executed(self, order_ref: str) -> int:
        """Shares the executions of this order applied so far (in this run)."""
        return self._executed.get(order_ref, 0)

    def note_status(self, ticket: OrderTicket) -> None:
        """What an order status says is filled (IB may report Filled before the execution)."""
        if ticket.filled > self._status_filled.get(ticket.order_ref, 0):
            self._status_filled[ticket.order_ref] = ticket.filled
        if ticket.status.is_final:
            self._final.add(ticket.order_ref)

    def is_final(self, order_ref: str) -> bool:
        return order_ref in self._final

    def unsettled(self, symbol: str) -> list[str]:
        """The bot's orders in `symbol` whose statuses report more filled than their executions
        applied: the lot is about to move, so it is no basis for placing or sizing exits."""
        return [ref for ref, filled in self._status_filled.items()
                if filled > self._executed.get(ref, 0)
                and (parsed := OrderRef.parse(ref)) is not None and parsed.symbol == symbol]

    async def catch_up(self) -> list[Fill]:
        """Every execution the broker reports now, applied (once) before a decision that sizes
        from the lot; their commissions too. Returns them."""
        executions = await self.ctx.broker.executions()
        for fill in executions:
            ref = self.is_new(fill)
            if ref is not None:
                self.record(fill, ref)
        self.note_reported(executions)
        return executions

    def flush_trips(self, final: bool = False) -> None:
        """Record the parked trips whose commissions are all in; with `final`, the rest too,
        with the commissions known (the end of a run that waited long enough)."""
        waiting = []
        for trip in self._parked:
            if trip.pending and not final:
                waiting.append(trip)
                continue
            if trip.pending:
                log.warning("%s: trade recorded before %d commission report(s) came; the "
                            "execution rows are completed at the next start", trip.symbol,
                            sum(1 for f in trip.entry_fills + trip.exit_fills
                                if f.commission is None))
            self._record_trip(trip)
        self._parked = waiting

    def _complete(self, exec_id: str, commission: float) -> None:
        if exec_id not in self.pending:
            return
        self.pending.discard(exec_id)
        self.records.write("set_execution_commission",
                           lambda: self.db.set_execution_commission(exec_id, commission))
        self.ledger.set_commission(exec_id, commission)
        if self._parked:
            self.flush_trips()

    def replay(self, rows: Iterable[ExecutionRow], at_broker: set[str]) -> None:
        """Rebuild today's round trips from recorded executions the broker still reports."""
        for row in rows:
            ref = OrderRef.parse(row.order_ref)
            if ref is None or ref.day != self._daystr or row.exec_id not in at_broker:
                continue
            self.seen.add(row.exec_id)
            self._executed[row.order_ref] = self._executed.get(row.order_ref, 0) + int(row.qty)
            commission = None if row.commission_pending else row.commission
            if commission is None:
                self.pending.add(row.exec_id)
            fill = Fill(row.exec_id, 0, row.order_ref, row.symbol, Side(row.side), int(row.qty),
                        row.price, row.time.astimezone(NY), commission)
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
            if trip.pending:
                self._parked.append(trip)  # recorded once its commissions are in
            else:
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
        self.records.write("record_trade", lambda: self.db.record_trade(row), detail={
            "symbol": row.symbol, "qty": row.qty, "entry_price": row.entry_price,
            "exit_price": row.exit_price, "pnl": row.pnl, "commission": row.commission,
            "exit_reason": row.exit_reason, "order_ref": row.order_ref})
        for leg_fill in trip.entry_fills + trip.exit_fills:
            parsed = OrderRef.parse(leg_fill.order_ref)
            if parsed is not None:
                for leg in ("ENTRY", "PROT", "FLAT"):
                    self._write_intent(str(parsed.sibling(leg)), IntentState.CLOSED, exit_time)
        self.run_log.trades.append(trade_entry(trip))
        log.info("trade closed: %s %d, %s, pnl %.2f", trip.symbol, trip.entry_qty,
                 trip.exit_reason, trip.pnl)
        self.ctx.alerts.notify(ev.round_trip(ev.DAY_TRADER, trip.symbol, trip.entry_qty, trip.pnl,
                                             trip.exit_reason, at=exit_time))

    def _write_intent(self, order_ref: str, state: IntentState, when: datetime) -> None:
        self.records.write("update_intent_state",
                           lambda: self.db.update_intent_state(order_ref, state, when))
