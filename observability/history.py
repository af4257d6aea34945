"""The SQLite history DB (`trading_history.db`): trades, metrics, health, parameter changes,
evaluations, and what restart recovery needs (order intents, executions, each bot's book).

Why SQLite in WAL mode with `synchronous=NORMAL`: writes are called synchronously from the event
loop, so a committed insert must cost microseconds, not an fsync; WAL lets the reporting tools and
the other bot read while one process writes; NORMAL in WAL mode never corrupts the file and at
worst loses the last transactions on a power cut (not on a process crash). Both bots may write
the same file: SQLite serialises them, and `busy_timeout` makes a writer wait briefly instead of
failing. No SQL lives outside this module and the topic modules `HistoryDB` is composed of
(`history_base`: opening and plumbing; `history_metrics`; `history_improvement`;
`history_weekly`); rows are the dataclasses in `observability.schema`. This module keeps the
day trader's records and what restart recovery reads (trades, intents, executions, books).
Secrets never enter the DB: account ids are masked, secret-looking JSON keys are dropped.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from observability.history_errors import HistoryDBError
from observability.history_improvement import ImprovementHistory
from observability.history_metrics import MetricsHistory
from observability.history_weekly import WeeklyHistory
from observability.redaction import mask_account
from observability.schema import (
    EXEC_COLUMNS,
    INTENT_COLUMNS,
    TERMINAL_INTENT_STATES,
    TRADE_COLUMNS,
    BookPosition,
    DailySummary,
    ExecutionRow,
    IntentRow,
    IntentState,
    TradeRow,
    execution_from_db,
    from_db_time,
    intent_from_db,
    intent_state,
    to_db_day,
    to_db_time,
    trade_from_db,
)

__all__ = ["HistoryDB", "HistoryDBError"]

_INSERT_TRADE = f"INSERT INTO trades ({TRADE_COLUMNS}) VALUES ({', '.join('?' * 19)})"


class HistoryDB(MetricsHistory, ImprovementHistory, WeeklyHistory):
    """One connection to the history DB. Thread-safe (one lock); open one per process."""

    # -- trades ------------------------------------------------------------------------------
    def record_trade(self, trade: TradeRow) -> int:
        """Store one round trip (committed on return); returns its row id."""
        row = (
            to_db_day(trade.trading_date), trade.book, trade.symbol, str(trade.side), trade.qty,
            to_db_time(trade.entry_time, "entry_time"), trade.entry_price,
            to_db_time(trade.exit_time, "exit_time"), trade.exit_price, trade.pnl,
            trade.commission, trade.variant, trade.rsi, trade.vwap, trade.atr, trade.reason,
            trade.exit_reason, trade.order_ref, trade.run_id,
        )
        return int(self._write("record_trade", _INSERT_TRADE, row).lastrowid or 0)

    def trades_on(self, day: date, book: str | None = None) -> list[TradeRow]:
        """The day's trades in exit-time order."""
        return self.trades_between(day, day, book)

    def trades_between(self, first: date, last: date, book: str | None = None) -> list[TradeRow]:
        sql = f"SELECT id, {TRADE_COLUMNS} FROM trades WHERE trading_date BETWEEN ? AND ?"
        args: list[Any] = [to_db_day(first), to_db_day(last)]
        if book is not None:
            sql += " AND book = ?"
            args.append(book)
        return [trade_from_db(r) for r in self._query(sql + " ORDER BY exit_time, id", args)]

    def daily_summary(self, day: date, book: str | None = None,
                      run_id: str | None = None) -> DailySummary:
        """The day's trades (of one run when `run_id` is given) summed; P&L net of commission."""
        sql = "SELECT pnl, commission FROM trades WHERE trading_date = ?"
        args: list[Any] = [to_db_day(day)]
        if book is not None:
            sql += " AND book = ?"
            args.append(book)
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        rows = self._query(sql + " ORDER BY exit_time, id", args)
        wins = gross = fees = equity = peak = drawdown = 0.0
        for net, commission in rows:
            wins += net > 0
            gross += net + commission
            fees += commission
            equity += net
            peak = max(peak, equity)
            drawdown = max(drawdown, peak - equity)
        count = len(rows)
        return DailySummary(
            trading_date=day, trades=count, wins=int(wins), losses=count - int(wins),
            win_rate=(wins / count) if count else 0.0, gross_pnl=gross, commissions=fees,
            total_pnl=gross - fees, max_drawdown=drawdown,
        )

    # -- recovery: intents and executions ----------------------------------------------------
    def record_intent(self, intent: IntentRow) -> None:
        """Store a new intent. An `order_ref` already on file is an error: refs are never reused."""
        state = intent_state(intent.state)
        created = to_db_time(intent.created_time, "created_time")
        updated = to_db_time(intent.updated_time, "updated_time") if intent.updated_time else created
        row = (
            intent.order_ref, intent.bot, to_db_day(intent.trading_date), intent.symbol, intent.seq,
            str(intent.side), intent.qty, intent.entry_price, intent.target_price,
            intent.stop_price, intent.variant, intent.book, state.value, created, updated,
            intent.run_id,
        )
        sql = f"INSERT INTO order_intents ({INTENT_COLUMNS}) VALUES ({', '.join('?' * 16)})"
        try:
            self._write("record_intent", sql, row)
        except HistoryDBError as exc:
            if "UNIQUE" in str(exc):
                raise HistoryDBError(
                    f"order_ref {intent.order_ref} is already recorded: take the next sequence "
                    "from max_sequence() + 1"
                ) from None
            raise

    def update_intent_state(self, order_ref: str, state: IntentState | str, time: datetime) -> bool:
        """Move an intent to `state`; False if no intent has this ref."""
        sql = "UPDATE order_intents SET state = ?, updated_time = ? WHERE order_ref = ?"
        args = (intent_state(state).value, to_db_time(time), order_ref)
        return self._write("update_intent_state", sql, args).rowcount == 1

    def intent(self, order_ref: str) -> IntentRow | None:
        rows = self._query(f"SELECT {INTENT_COLUMNS} FROM order_intents WHERE order_ref = ?",
                           (order_ref,))
        return intent_from_db(rows[0]) if rows else None

    def open_intents(self, book: str, day: date | None = None) -> list[IntentRow]:
        """Intents of `book` not yet closed/cancelled/rejected (on `day`, or on any day)."""
        marks = ", ".join("?" * len(TERMINAL_INTENT_STATES))
        sql = (f"SELECT {INTENT_COLUMNS} FROM order_intents WHERE book = ? "
               f"AND state NOT IN ({marks})")
        args: list[Any] = [book, *TERMINAL_INTENT_STATES]
        if day is not None:
            sql += " AND trading_date = ?"
            args.append(to_db_day(day))
        return [intent_from_db(r) for r in self._query(sql + " ORDER BY created_time, seq", args)]

    def intents_on(self, day: date, book: str | None = None) -> list[IntentRow]:
        sql = f"SELECT {INTENT_COLUMNS} FROM order_intents WHERE trading_date = ?"
        args: list[Any] = [to_db_day(day)]
        if book is not None:
            sql += " AND book = ?"
            args.append(book)
        return [intent_from_db(r) for r in self._query(sql + " ORDER BY created_time, seq", args)]

    def max_sequence(self, bot: str, day: date, symbol: str) -> int:
        """Highest sequence used by `bot` for `symbol` on `day` (0 if none): the next is +1."""
        rows = self._query(
            "SELECT MAX(seq) FROM order_intents WHERE bot = ? AND trading_date = ? AND symbol = ?",
            (bot, to_db_day(day), symbol),
        )
        return int(rows[0][0] or 0)

    def record_execution(self, exec_id: str, order_ref: str, symbol: str, side: str, qty: float,
                         price: float, time: datetime, commission: float | None, book: str,
                         account: str = "", run_id: str = "") -> bool:
        """Record a fill exactly once: True if `exec_id` is new, False if it was seen before.
        `commission` None: its report has not come yet (`set_execution_commission` adds it)."""
        sql = (f"INSERT INTO executions ({EXEC_COLUMNS}) VALUES ({', '.join('?' * 12)}) "
               "ON CONFLICT (exec_id) DO NOTHING")
        args = (exec_id, order_ref, symbol, str(side), qty, price, to_db_time(time),
                commission or 0.0, book, mask_account(account), run_id, int(commission is None))
        return self._write("record_execution", sql, args).rowcount == 1

    def pending_commissions(self, book: str) -> set[str]:
        """Exec ids of `book` recorded before their commission report came."""
        rows = self._query("SELECT exec_id FROM executions WHERE commission_pending = 1 AND "
                           "book = ?", (book,))
        return {r[0] for r in rows}

    def set_execution_commission(self, exec_id: str, commission: float) -> None:
        """The commission report of an execution recorded before it came."""
        self._write("set_execution_commission", "UPDATE executions SET commission = ?, "
                    "commission_pending = 0 WHERE exec_id = ?", (commission, exec_id))

    def executions_since(self, since: datetime, book: str | None = None) -> list[ExecutionRow]:
        """Executions at or after `since`, oldest first (>=: the caller dedupes by exec id)."""
        sql = f"SELECT {EXEC_COLUMNS} FROM executions WHERE time >= ?"
        args: list[Any] = [to_db_time(since, "since")]
        if book is not None:
            sql += " AND book = ?"
            args.append(book)
        return [execution_from_db(r) for r in self._query(sql + " ORDER BY time, exec_id", args)]

    def executions_for(self, order_ref: str) -> list[ExecutionRow]:
        sql = f"SELECT {EXEC_COLUMNS} FROM executions WHERE order_ref = ? ORDER BY time, exec_id"
        return [execution_from_db(r) for r in self._query(sql, (order_ref,))]

    def last_execution_time(self, book: str | None = None) -> datetime | None:
        sql = "SELECT MAX(time) FROM executions"
        args: tuple[str, ...] = ()
        if book is not None:
            sql, args = sql + " WHERE book = ?", (book,)
        value = self._query(sql, args)[0][0]
        return from_db_time(value) if value else None

    # -- books (the weekly bot and the day trader share one account) --------------------------
    def set_book_position(self, book: str, symbol: str, qty: int, avg_cost: float,
                          time: datetime) -> None:
        """Set what `book` owns of `symbol`; qty 0 removes the row."""
        if qty == 0:
            self._write("set_book_position", "DELETE FROM book_positions WHERE book = ? AND "
                        "symbol = ?", (book, symbol))
            return
        sql = ("INSERT INTO book_positions (book, symbol, qty, avg_cost, updated_time) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (book, symbol) DO UPDATE SET qty = excluded.qty, "
               "avg_cost = excluded.avg_cost, updated_time = excluded.updated_time")
        self._write("set_book_position", sql, (book, symbol, qty, avg_cost, to_db_time(time)))

    def book_qty(self, book: str, symbol: str) -> int:
        rows = self._query("SELECT qty FROM book_positions WHERE book = ? AND symbol = ?",
                           (book, symbol))
        return int(rows[0][0]) if rows else 0

    def set_foreign_baseline(self, book: str, day: date, symbol: str, qty: int,
                             time: datetime) -> None:
        """The shares of `symbol` that `book` found were not its own on `day`."""
        sql = ("INSERT INTO foreign_baselines (book, trading_date, symbol, qty, noted_time) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (book, trading_date, symbol) DO UPDATE SET "
               "qty = excluded.qty, noted_time = excluded.noted_time")
        self._write("set_foreign_baseline", sql,
                    (book, day.isoformat(), symbol, int(qty), to_db_time(time)))

    def foreign_baselines(self, book: str, day: date) -> dict[str, int]:
        rows = self._query("SELECT symbol, qty FROM foreign_baselines WHERE book = ? AND "
                           "trading_date = ?", (book, day.isoformat()))
        return {symbol: int(qty) for symbol, qty in rows}

    def book_positions(self, book: str) -> list[BookPosition]:
        rows = self._query("SELECT book, symbol, qty, avg_cost FROM book_positions WHERE book = ? "
                           "ORDER BY symbol", (book,))
        return [BookPosition(*r) for r in rows]
