"""The only writer of the bot's own lots: how many shares of each symbol it owns, at what cost.

A lot moves in exactly four ways, each a method here: an execution of the bot's own order
(`apply_fill`), the book recorded by an earlier run (`restore`: today's earlier run, or a
leftover of an earlier day), shares a person assigns to the bot (`adopt`, `--adopt`), and a sale
the bot did not make, once confirmed (`reduce_external`: trade/intraday/ownership.py). Nothing
else: a lot is never set from the broker's position. Every change but the restore is written to
the history DB's `book_positions` (trade now, record later: through SafeRecords).

The lot is never floored at zero: if the bot ever sold more than it held (a second exit filling
after the first), the negative quantity is the truth the trader must see and cover at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from trade.intraday.ownership import Ownership
from trade.intraday.records import SafeRecords
from trade.intraday.symbol_book import SymbolBook
from trade.models import Fill, Side

log = logging.getLogger(__name__)


class Lots:
    def __init__(self, books: dict[str, SymbolBook], records: SafeRecords, book_name: str,
                 now: Callable[[], datetime], ownership: Ownership) -> None:
        self.books = books
        self.records = records
        self.book_name = book_name
        self.now = now
        self.ownership = ownership
        # when this run began: executions from before it (replayed at its start) are no recent
        # ones the position may lag; taken for recent, they kept the start's look from noting
        # the owner's shares, and a person's sale 2 s later was charged to them (seed 551)
        self.began: datetime | None = None

    def book(self, symbol: str) -> SymbolBook:
        """The symbol's book, created for a symbol off the watchlist (managed, never entered)."""
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = SymbolBook.outside_watchlist(symbol)
        return book

    def restore(self, symbol: str, qty: int, avg_cost: float) -> None:
        """What an earlier run recorded as this book's (read at start; nothing to write)."""
        lot = self.book(symbol).lot
        lot.qty, lot.avg_cost = qty, avg_cost

    def apply_fill(self, fill: Fill) -> SymbolBook:
        """One execution of the bot's own order moves its lot (the caller applies it once)."""
        book = self.book(fill.symbol)
        lot = book.lot
        if fill.side is Side.BUY:
            if lot.qty >= 0:
                cost = lot.avg_cost * lot.qty + fill.price * fill.qty
                lot.qty += fill.qty
                lot.avg_cost = cost / lot.qty if lot.qty else 0.0
            else:  # covering an oversold (short) lot
                lot.qty += fill.qty
                if lot.qty >= 0:
                    lot.avg_cost = fill.price if lot.qty else 0.0
        else:
            lot.qty -= fill.qty
            if lot.qty == 0:
                lot.avg_cost = 0.0
            elif lot.qty < 0:
                log.critical("%s: the bot's book is %d after %s: it sold more than it held; "
                             "covering", fill.symbol, lot.qty, fill.order_ref)
        if self.began is None or fill.time >= self.began - timedelta(
                seconds=self.ownership.quiet_s):  # recent enough that the position may lag it
            self.ownership.own_execution(fill.symbol, fill.qty if fill.side is Side.BUY else 0)
        self._record(book, fill.time)
        return book

    def adopt(self, symbol: str, qty: int, price: float) -> None:
        """Shares a person explicitly gave the bot to manage (`--adopt`), at `price`."""
        book = self.book(symbol)
        lot = book.lot
        total = lot.qty + qty
        lot.avg_cost = (lot.avg_cost * lot.qty + price * qty) / total if total else 0.0
        lot.qty = total
        self._record(book, self.now())

    def reduce_external(self, symbol: str, qty: int) -> None:
        """A confirmed sale the bot did not make: its lot is what is left (never raised)."""
        book = self.book(symbol)
        if qty < book.lot.qty:
            book.lot.qty = qty
            if qty == 0:
                book.lot.avg_cost = 0.0
            self._record(book, self.now())

    def coverable(self, symbol: str, broker_qty: int) -> int:
        """What the bot may buy back of an oversold (negative) lot now: never more than the
        account misses below the foreign baseline (`Ownership.missing`).

        A short the account does not show is a gap in the bot's records, not a short: its sales
        sold shares whose purchase it no longer knows (seed 232: yesterday's leftover sold by
        its take-profit, then the DB lost; the restart replayed today's sales onto an empty
        book, read -20 and bought 20 shares nobody owned, held past the close). Once no
        execution of the bot's is recent (the position may lag one), the lot is raised to what
        the account misses, loudly; buying the rest "back" would buy shares nobody owns."""
        book = self.book(symbol)
        lot = book.lot
        if lot.qty >= 0:
            return 0
        missing = self.ownership.missing(symbol, broker_qty)
        if -lot.qty > missing and self.ownership.quiet(symbol):
            log.critical("%s: the bot's book is %d but the account misses only %d share(s) "
                         "(the broker holds %d): its records lack the purchase of what it sold "
                         "(a lost history DB?); its lot is now %d, nothing bought for the rest",
                         symbol, lot.qty, missing, broker_qty, -missing)
            lot.qty = -missing
            if lot.qty == 0:
                lot.avg_cost = 0.0
            self._record(book, self.now())
        return min(-lot.qty, missing)

    def _record(self, book: SymbolBook, when: datetime) -> None:
        db, symbol, qty, cost = self.records.db, book.symbol, book.lot.qty, book.lot.avg_cost
        self.records.write("set_book_position",
                           lambda: db.set_book_position(self.book_name, symbol, qty, cost, when))
