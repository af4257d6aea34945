"""Every execution of the bot applied exactly once: the DB row, the symbol's book, the ledger.

IB may report an execution more than once (live, then again in the executions replayed after a
reconnect or restart). The history DB's unique execution id decides: only a new execution moves
the book and the ledger, and when a round trip closes its trade row and run-log entry are written
once. After a restart the day's executions already in the DB rebuild the ledger, limited to those
the broker still reports (a row it does not know belongs to another broker session).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from observability.history import HistoryDB
from observability.schema import ExecutionRow, IntentState, TradeRow
from trade.intraday.ledger import Ledger, RoundTrip
from trade.intraday.run_log import RunLog, trade_entry
from trade.intraday.symbol_book import SymbolBook
from trade.models import Fill, OrderRef, Side

log = logging.getLogger(__name__)
NY = ZoneInfo("America/New_York")  # the DB stores UTC; run logs and the ledger use NY time


class FillRecorder:
    def __init__(
        self, db: HistoryDB, bot: str, book_name: str, day: date, variant: str, run_log: RunLog,
        books: dict[str, SymbolBook], now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.bot = bot
        self.book_name = book_name
        self.day = day
        self.variant = variant
        self.run_log = run_log
        self.books = books
        self.now = now
        self.ledger = Ledger(bot)
        self.seen: set[str] = set()
        self._daystr = day.strftime("%Y%m%d")

    def is_new(self, fill: Fill) -> OrderRef | None:
        """The fill's ref if it is ours and not yet seen in this run (cheap, before any I/O)."""
        ref = OrderRef.parse(fill.order_ref)
        if ref is None or ref.bot != self.bot or fill.exec_id in self.seen:
            return None
        return ref

    def record(self, fill: Fill, ref: OrderRef) -> bool:
        """Record and apply one execution; False when the DB already had it."""
        self.seen.add(fill.exec_id)
        new = self.db.record_execution(
            fill.exec_id, fill.order_ref, fill.symbol, fill.side.value, fill.qty, fill.price,
            fill.time, fill.commission, self.book_name,
        )
        if new:
            self._apply(fill, ref)
        return new

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
        return sum(trip.pnl for trip in self.ledger.closed)

    def _apply(self, fill: Fill, ref: OrderRef) -> None:
        book = self.books.get(fill.symbol)
        if book is None:
            book = self.books[fill.symbol] = SymbolBook.outside_watchlist(fill.symbol)
        if fill.side is Side.BUY:
            cost = book.avg_cost * book.qty + fill.price * fill.qty
            book.qty += fill.qty
            book.avg_cost = cost / book.qty
            self.db.update_intent_state(str(ref.sibling("ENTRY")), IntentState.OPEN, fill.time)
        else:
            book.qty -= fill.qty
            if book.qty <= 0:
                book.qty, book.avg_cost = max(book.qty, 0), 0.0
        self.db.set_book_position(self.book_name, fill.symbol, book.qty, book.avg_cost, fill.time)
        log.info("fill %s %s %d @ %.2f (%s); %s now %d", fill.side.value, fill.symbol, fill.qty,
                 fill.price, fill.order_ref, fill.symbol, book.qty)
        trip = self.ledger.apply(fill)
        if trip is not None:
            self._record_trip(trip, book)

    def _record_trip(self, trip: RoundTrip, book: SymbolBook) -> None:
        entry_ref = trip.entry_fills[0].order_ref if trip.entry_fills else ""
        snapshot = book.entry_snapshot
        exit_time = trip.exit_time or self.now()
        self.db.record_trade(TradeRow(
            trading_date=self.day, book=self.book_name, symbol=trip.symbol, side="BUY",
            qty=trip.entry_qty, entry_time=trip.entry_time or exit_time,
            entry_price=trip.entry_price, exit_time=exit_time, exit_price=trip.exit_price,
            pnl=trip.pnl + trip.commission, commission=trip.commission, variant=self.variant,
            rsi=snapshot.get("rsi"), vwap=snapshot.get("vwap"), atr=snapshot.get("atr"),
            reason=snapshot.get("reason", ""), exit_reason=trip.exit_reason, order_ref=entry_ref,
        ))
        for leg_fill in trip.entry_fills + trip.exit_fills:
            parsed = OrderRef.parse(leg_fill.order_ref)
            if parsed is not None:
                for leg in ("ENTRY", "PROT", "FLAT"):
                    self.db.update_intent_state(str(parsed.sibling(leg)), IntentState.CLOSED, exit_time)
        book.entry_snapshot = {}
        self.run_log.trades.append(trade_entry(trip))
        log.info("trade closed: %s %d, %s, pnl %.2f", trip.symbol, trip.entry_qty,
                 trip.exit_reason, trip.pnl)
