"""The SQLite history DB (`trading_history.db`): trades, metrics, health, parameter changes,
evaluations, and what restart recovery needs (order intents, executions, each bot's book).

Why SQLite in WAL mode with `synchronous=NORMAL`: writes are called synchronously from the event
loop, so a committed insert must cost microseconds, not an fsync; WAL lets the reporting tools and
the other bot read while one process writes; NORMAL in WAL mode never corrupts the file and at
worst loses the last transactions on a power cut (not on a process crash). Both bots may write
the same file: SQLite serialises them, and `busy_timeout` makes a writer wait briefly instead of
failing. No SQL lives outside this module; rows are the dataclasses in `observability.schema`.
Secrets never enter the DB: account ids are masked, secret-looking JSON keys are dropped.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from opentelemetry.trace import Tracer

from observability.history_errors import HistoryDBError, translate_sqlite_error
from observability.migrations import CURRENT_VERSION, NewerSchemaError, migrate
from observability.redaction import mask_account, redact_json, scrub_text
from observability.schema import (
    AB_TEST_STATUSES,
    EVALUATION_KINDS,
    EXEC_COLUMNS,
    HEALTH_STATUSES,
    INTENT_COLUMNS,
    PARAMETER_CHANGE_STATUSES,
    TERMINAL_INTENT_STATES,
    TRADE_COLUMNS,
    WEEKLY_CYCLE_STATUSES,
    ABTestRow,
    BookPosition,
    DailyMetricsRow,
    DailySummary,
    EvaluationRow,
    ExecutionRow,
    HealthRow,
    ImprovementCycleCommit,
    IntentRow,
    IntentState,
    MinuteBarLike,
    MinuteBarRow,
    ParameterChangeRow,
    ParamsScheduleRow,
    TradeRow,
    TuningTrialRow,
    WeeklyCycleRow,
    WeeklyTargetRow,
    check_choice,
    execution_from_db,
    from_db_time,
    intent_from_db,
    intent_state,
    to_db_day,
    to_db_time,
    trade_from_db,
)

__all__ = ["HistoryDB", "HistoryDBError"]

DEFAULT_BUSY_TIMEOUT_S = 2.0
_NEW_YORK = ZoneInfo("America/New_York")

_INSERT_TRADE = f"INSERT INTO trades ({TRADE_COLUMNS}) VALUES ({', '.join('?' * 19)})"


class HistoryDB:
    """One connection to the history DB. Thread-safe (one lock); open one per process."""

    def __init__(self, conn: sqlite3.Connection, path: str, busy_timeout_s: float,
                 tracer: Tracer | None) -> None:
        self._conn = conn
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._tracer = tracer
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
             tracer: Tracer | None = None) -> HistoryDB:
        """Open (creating or migrating) the DB at `path`. `tracer` adds a `db.<op>` span per write."""
        name = str(path)
        try:
            conn = sqlite3.connect(name, timeout=busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, name, busy_timeout_s) from None
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal" and name != ":memory:":
                raise HistoryDBError(
                    f"{name} could not be switched to WAL mode (journal_mode={mode}): "
                    "put the DB on a local filesystem or point --db elsewhere"
                )
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            migrate(conn)
        except NewerSchemaError as exc:
            conn.close()
            raise HistoryDBError(
                f"{name} has schema version {exc.found}, newer than this code's {CURRENT_VERSION}: "
                "update the code or point --db elsewhere"
            ) from None
        except sqlite3.Error as exc:
            conn.close()
            raise translate_sqlite_error(exc, name, busy_timeout_s) from None
        except HistoryDBError:
            conn.close()
            raise
        return cls(conn, name, busy_timeout_s, tracer)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> HistoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> str:
        return self._path

    def set_busy_timeout(self, seconds: float) -> None:
        """How long a write waits for another process's lock before failing. The trading path
        uses a short wait (its writes are retried later) so a locked file never stalls the
        event loop for long."""
        with self._lock:
            self._conn.execute(f"PRAGMA busy_timeout={max(0, int(seconds * 1000))}")
            self._busy_timeout_s = seconds

    @property
    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

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
                         price: float, time: datetime, commission: float, book: str,
                         account: str = "", run_id: str = "") -> bool:
        """Record a fill exactly once: True if `exec_id` is new, False if it was seen before."""
        sql = (f"INSERT INTO executions ({EXEC_COLUMNS}) VALUES ({', '.join('?' * 11)}) "
               "ON CONFLICT (exec_id) DO NOTHING")
        args = (exec_id, order_ref, symbol, str(side), qty, price, to_db_time(time), commission,
                book, mask_account(account), run_id)
        return self._write("record_execution", sql, args).rowcount == 1

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
        sql, args = "SELECT MAX(time) FROM executions", ()
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

    def book_positions(self, book: str) -> list[BookPosition]:
        rows = self._query("SELECT book, symbol, qty, avg_cost FROM book_positions WHERE book = ? "
                           "ORDER BY symbol", (book,))
        return [BookPosition(*r) for r in rows]

    # -- metrics, health, parameter changes, evaluations -------------------------------------
    def record_daily_metrics(self, m: DailyMetricsRow) -> None:
        """Store a bot's metrics for a day (run id "" = the whole day, else one run's);
        recording the same (day, bot, run) again replaces them."""
        cols = ("trading_date, bot, run_id, trades, wins, win_rate, total_pnl, commissions, "
                "max_drawdown, sharpe, profit_factor, variant, extra")
        updates = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in cols.split(",")[3:])
        sql = (f"INSERT INTO daily_metrics ({cols}) VALUES ({', '.join('?' * 13)}) "
               f"ON CONFLICT (trading_date, bot, run_id) DO UPDATE SET {updates}")
        args = (to_db_day(m.trading_date), m.bot, m.run_id, m.trades, m.wins, m.win_rate,
                m.total_pnl, m.commissions, m.max_drawdown, m.sharpe, m.profit_factor, m.variant,
                _json(m.extra))
        self._write("record_daily_metrics", sql, args)

    def daily_metrics(self, bot: str, first: date, last: date,
                      run_id: str | None = "") -> list[DailyMetricsRow]:
        """The day rows (run id "", the default), one run's rows, or every row (`None`)."""
        sql = ("SELECT trading_date, bot, trades, wins, win_rate, total_pnl, max_drawdown, "
               "commissions, sharpe, profit_factor, variant, extra, run_id FROM daily_metrics "
               "WHERE bot = ? AND trading_date BETWEEN ? AND ?")
        args: list[Any] = [bot, to_db_day(first), to_db_day(last)]
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        rows = self._query(sql + " ORDER BY trading_date, id", args)
        return [DailyMetricsRow(date.fromisoformat(r[0]), *r[1:11], json.loads(r[11]),
                                run_id=r[12]) for r in rows]

    def record_health(self, h: HealthRow) -> int:
        check_choice("status", h.status, HEALTH_STATUSES)
        sql = ("INSERT INTO agent_health (time, agent, status, cpu_pct, memory_mb, connected, "
               "connection_status, event_loop_lag_ms, data_staleness_s, actions, detail, run_id) "
               f"VALUES ({', '.join('?' * 12)})")
        args = (to_db_time(h.time), h.agent, h.status, h.cpu_pct, h.memory_mb, int(h.connected),
                h.connection_status, h.event_loop_lag_ms, h.data_staleness_s,
                _json(list(h.actions)), scrub_text(h.detail), h.run_id)
        return int(self._write("record_health", sql, args).lastrowid or 0)

    def health_since(self, since: datetime, agent: str | None = None) -> list[HealthRow]:
        sql = ("SELECT time, agent, status, cpu_pct, memory_mb, connected, event_loop_lag_ms, "
               "data_staleness_s, connection_status, actions, detail FROM agent_health "
               "WHERE time >= ?")
        args: list[Any] = [to_db_time(since, "since")]
        if agent is not None:
            sql += " AND agent = ?"
            args.append(agent)
        return [
            HealthRow(from_db_time(r[0]), r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8],
                      json.loads(r[9]), r[10])
            for r in self._query(sql + " ORDER BY time, id", args)
        ]

    def record_parameter_change(self, c: ParameterChangeRow) -> int:
        check_choice("status", c.status, PARAMETER_CHANGE_STATUSES)
        sql = ("INSERT INTO parameter_changes (time, parameter, old_value, new_value, reason, "
               "source, status, variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        args = (to_db_time(c.time), c.parameter, _json(c.old_value), _json(c.new_value),
                scrub_text(c.reason), c.source, c.status, c.variant)
        return int(self._write("record_parameter_change", sql, args).lastrowid or 0)

    def parameter_changes_since(self, since: datetime) -> list[ParameterChangeRow]:
        rows = self._query(
            "SELECT time, parameter, old_value, new_value, reason, source, status, variant "
            "FROM parameter_changes WHERE time >= ? ORDER BY time, id", (to_db_time(since),))
        return [ParameterChangeRow(from_db_time(r[0]), r[1], json.loads(r[2]), json.loads(r[3]),
                                   *r[4:]) for r in rows]

    def record_evaluation(self, e: EvaluationRow) -> int:
        check_choice("kind", e.kind, EVALUATION_KINDS)
        sql = "INSERT INTO evaluations (time, kind, content, status) VALUES (?, ?, ?, ?)"
        args = (to_db_time(e.time), e.kind, _json(e.content), e.status)
        return int(self._write("record_evaluation", sql, args).lastrowid or 0)

    def evaluations(self, kind: str | None = None, limit: int = 20) -> list[EvaluationRow]:
        """The latest `limit` evaluations (of `kind`), newest first."""
        sql, args = "SELECT id, time, kind, content, status FROM evaluations", []
        if kind is not None:
            sql, args = sql + " WHERE kind = ?", [kind]
        rows = self._query(sql + " ORDER BY time DESC, id DESC LIMIT ?", [*args, limit])
        return [EvaluationRow(from_db_time(r[1]), r[2], json.loads(r[3]), r[4], id=r[0])
                for r in rows]

    # -- minute bars (the daily report's price charts) --------------------------------------
    def record_minute_bars(self, day: date, bars: Sequence[MinuteBarLike]) -> None:
        """Store completed 1-minute bars of the NY session `day` in one transaction.

        Idempotent on (symbol, start): a bar recorded again (a gap backfill, a restart that
        replays the morning) replaces the stored one instead of adding a second row, so the
        report's chart never shows a minute twice. Times are stored as UTC ISO like every row.
        """
        if not bars:
            return
        rows = [(to_db_day(day), b.symbol, to_db_time(b.start, "bar start"), b.open, b.high,
                 b.low, b.close, b.volume) for b in bars]
        sql = ("INSERT INTO minute_bars (trading_date, symbol, start, open, high, low, close, "
               "volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (symbol, start) DO UPDATE SET "
               "trading_date = excluded.trading_date, open = excluded.open, high = excluded.high, "
               "low = excluded.low, close = excluded.close, volume = excluded.volume")
        if self._tracer is None:
            self._write_rows(sql, rows)
            return
        with self._tracer.start_as_current_span(
            "db.record_minute_bars",
            attributes={"db.system": "sqlite", "db.operation": "record_minute_bars"},
        ):
            self._write_rows(sql, rows)

    def minute_bars(self, day: date, symbol: str) -> list[MinuteBarRow]:
        """`symbol`'s stored bars of session `day` in start order, with NY start times."""
        rows = self._query(
            "SELECT symbol, start, open, high, low, close, volume FROM minute_bars "
            "WHERE trading_date = ? AND symbol = ? ORDER BY start", (to_db_day(day), symbol))
        return [MinuteBarRow(r[0], from_db_time(r[1]).astimezone(_NEW_YORK), *r[2:]) for r in rows]

    def _write_rows(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Many rows, one commit (autocommit mode would commit each row on its own)."""
        with self._guard():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(sql, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
    # -- the nightly improvement cycle (improvement/) -------------------------------------------
    def commit_improvement_cycle(self, c: ImprovementCycleCommit) -> None:
        """Write one night's decisions in one transaction (trials, parameter changes, the LLM
        evaluation, the next session's params, the A/B test, the cycle row). A cycle already on
        file for the date is an error: callers check `improvement_cycle_report` first."""
        for change in c.changes:
            check_choice("status", change.status, PARAMETER_CHANGE_STATUSES)
        if c.evaluation is not None:
            check_choice("kind", c.evaluation.kind, EVALUATION_KINDS)
        for status in ([c.ab_start.status] if c.ab_start else []) + (
                [c.ab_update.status] if c.ab_update else []):
            check_choice("ab test status", status, AB_TEST_STATUSES)
        when = to_db_time(c.time)
        with self._span("commit_improvement_cycle"), self._guard():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for t in c.trials:
                    conn.execute(
                        "INSERT INTO tuning_trials (cycle_date, candidate, parameter, source, "
                        "sessions, sharpe, oos_pnl, current_oos_pnl, dsr, verdict, detail, time) "
                        f"VALUES ({', '.join('?' * 12)})",
                        (to_db_day(t.cycle_date), _canonical(t.candidate), t.parameter, t.source,
                         t.sessions, t.sharpe, t.oos_pnl, t.current_oos_pnl, t.dsr,
                         scrub_text(t.verdict), _json(t.detail), to_db_time(t.time)))
                for ch in c.changes:
                    conn.execute(
                        "INSERT INTO parameter_changes (time, parameter, old_value, new_value, "
                        "reason, source, status, variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (to_db_time(ch.time), ch.parameter, _json(ch.old_value),
                         _json(ch.new_value), scrub_text(ch.reason), ch.source, ch.status,
                         ch.variant))
                if c.evaluation is not None:
                    e = c.evaluation
                    conn.execute("INSERT INTO evaluations (time, kind, content, status) "
                                 "VALUES (?, ?, ?, ?)",
                                 (to_db_time(e.time), e.kind, _json(e.content), scrub_text(e.status)))
                ab_id = None
                if c.ab_start is not None:
                    a = c.ab_start
                    ab_id = conn.execute(
                        "INSERT INTO ab_tests (started, parameter, a_values, b_values, status, "
                        "looks, ended, reason, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (to_db_day(a.started), a.parameter, _canonical(a.a_values),
                         _canonical(a.b_values), a.status, a.looks,
                         to_db_day(a.ended) if a.ended else None, scrub_text(a.reason),
                         to_db_time(a.time))).lastrowid
                if c.ab_update is not None:
                    u = c.ab_update
                    conn.execute("UPDATE ab_tests SET status = ?, looks = ?, ended = ?, "
                                 "reason = ? WHERE id = ?",
                                 (u.status, u.looks, to_db_day(u.ended) if u.ended else None,
                                  scrub_text(u.reason), u.id))
                if c.schedule is not None:
                    s = c.schedule
                    conn.execute(
                        "INSERT INTO params_schedule (trading_date, variant, overrides, current, "
                        "regime, ab_test_id, cycle_date, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (trading_date) DO UPDATE SET variant = excluded.variant, "
                        "overrides = excluded.overrides, current = excluded.current, "
                        "regime = excluded.regime, ab_test_id = excluded.ab_test_id, "
                        "cycle_date = excluded.cycle_date, time = excluded.time",
                        (to_db_day(s.trading_date), s.variant, _canonical(s.overrides),
                         _canonical(s.current), s.regime,
                         ab_id if ab_id is not None else s.ab_test_id,
                         to_db_day(s.cycle_date), to_db_time(s.time)))
                conn.execute("INSERT INTO improvement_cycles (cycle_date, time, report) "
                             "VALUES (?, ?, ?)", (to_db_day(c.cycle_date), when, _json(c.report)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def improvement_cycle_report(self, day: date) -> dict[str, Any] | None:
        """The report of the cycle that ran after `day`'s close, or None if none completed."""
        rows = self._query("SELECT report FROM improvement_cycles WHERE cycle_date = ?",
                           (to_db_day(day),))
        return json.loads(rows[0][0]) if rows else None

    def tuning_trials(self) -> list[TuningTrialRow]:
        """Every candidate ever replayed, oldest first (the DSR's trial count and variance)."""
        rows = self._query(
            "SELECT id, cycle_date, candidate, parameter, source, sessions, sharpe, oos_pnl, "
            "current_oos_pnl, dsr, verdict, detail, time FROM tuning_trials ORDER BY id")
        return [TuningTrialRow(date.fromisoformat(r[1]), json.loads(r[2]), r[3], r[4], r[5], r[6],
                               r[7], r[8], r[9], r[10], from_db_time(r[12]), json.loads(r[11]),
                               id=r[0]) for r in rows]

    def params_schedule(self, day: date) -> ParamsScheduleRow | None:
        """The params row for session `day`, if a cycle scheduled one."""
        rows = self._query(f"SELECT {_SCHEDULE_COLUMNS} FROM params_schedule "
                           "WHERE trading_date = ?", (to_db_day(day),))
        return _schedule_from_db(rows[0]) if rows else None

    def params_schedule_before(self, day: date) -> ParamsScheduleRow | None:
        """The latest params row for a session before `day` (the params in force carry over)."""
        rows = self._query(f"SELECT {_SCHEDULE_COLUMNS} FROM params_schedule WHERE "
                           "trading_date < ? ORDER BY trading_date DESC LIMIT 1", (to_db_day(day),))
        return _schedule_from_db(rows[0]) if rows else None

    def ab_tests(self, status: str | None = None) -> list[ABTestRow]:
        """A/B tests (with `status`), oldest first."""
        sql, args = ("SELECT id, started, parameter, a_values, b_values, status, looks, ended, "
                     "reason, time FROM ab_tests"), []
        if status is not None:
            sql, args = sql + " WHERE status = ?", [status]
        return [ABTestRow(date.fromisoformat(r[1]), r[2], json.loads(r[3]), json.loads(r[4]),
                          from_db_time(r[9]), r[5], r[6],
                          date.fromisoformat(r[7]) if r[7] else None, r[8], id=r[0])
                for r in self._query(sql + " ORDER BY started, id", args)]

    def _span(self, op: str) -> AbstractContextManager[Any]:
        if self._tracer is None:
            return nullcontext()
        return self._tracer.start_as_current_span(
            f"db.{op}", attributes={"db.system": "sqlite", "db.operation": op})
    # -- the weekly rebalancer: cycles, target portfolios, executions applied to a book --------
    def record_weekly_cycle(self, cycle: WeeklyCycleRow, targets: Sequence[WeeklyTargetRow]) -> None:
        """Store a cycle (status `trading`) and its targets in one transaction, replacing a
        failed attempt of the same day: a restart finds either both or neither."""
        check_choice("status", cycle.status, WEEKLY_CYCLE_STATUSES)
        day = to_db_day(cycle.cycle_date)
        started = to_db_time(cycle.started_time, "started_time")
        updated = to_db_time(cycle.updated_time, "updated_time") if cycle.updated_time else started
        cycle_sql = (
            "INSERT INTO weekly_cycles (cycle_date, status, allocation, budget, llm, llm_status, "
            "analysis, book_before, report_path, started_time, updated_time) "
            f"VALUES ({', '.join('?' * 11)}) ON CONFLICT (cycle_date) DO UPDATE SET "
            "status = excluded.status, allocation = excluded.allocation, budget = excluded.budget, "
            "llm = excluded.llm, llm_status = excluded.llm_status, analysis = excluded.analysis, "
            "book_before = excluded.book_before, report_path = excluded.report_path, "
            "started_time = excluded.started_time, updated_time = excluded.updated_time"
        )
        statements: list[tuple[str, Sequence[Any]]] = [
            (cycle_sql, (day, cycle.status, cycle.allocation, cycle.budget, cycle.llm,
                         scrub_text(cycle.llm_status), _json(cycle.analysis),
                         _json(cycle.book_before), cycle.report_path, started, updated)),
            ("DELETE FROM weekly_targets WHERE cycle_date = ?", (day,)),
        ]
        for t in targets:
            check_choice("planned", t.planned, ("", "BUY", "SELL"))
            statements.append((
                "INSERT INTO weekly_targets (cycle_date, symbol, weight, qty, ref_price, planned, "
                "reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (day, t.symbol, t.weight, t.qty, t.ref_price, t.planned, scrub_text(t.reason)),
            ))
        def write(conn: sqlite3.Connection) -> None:
            for sql, args in statements:
                conn.execute(sql, args)

        self._transaction("record_weekly_cycle", write)

    def set_weekly_cycle_status(self, day: date, status: str, time: datetime,
                                report_path: str | None = None) -> bool:
        """Move a cycle to `status` (and note its report); False when no cycle has that day."""
        check_choice("status", status, WEEKLY_CYCLE_STATUSES)
        sql = "UPDATE weekly_cycles SET status = ?, updated_time = ?"
        args: list[Any] = [status, to_db_time(time)]
        if report_path is not None:
            sql += ", report_path = ?"
            args.append(report_path)
        args.append(to_db_day(day))
        return self._write("set_weekly_cycle_status", sql + " WHERE cycle_date = ?",
                           args).rowcount == 1

    def weekly_cycle(self, day: date) -> WeeklyCycleRow | None:
        rows = self._query(
            "SELECT cycle_date, status, allocation, budget, started_time, llm, llm_status, "
            "analysis, book_before, report_path, updated_time FROM weekly_cycles "
            "WHERE cycle_date = ?", (to_db_day(day),))
        if not rows:
            return None
        r = rows[0]
        return WeeklyCycleRow(date.fromisoformat(r[0]), r[1], r[2], r[3], from_db_time(r[4]),
                              r[5], r[6], json.loads(r[7]), json.loads(r[8]), r[9],
                              from_db_time(r[10]))

    def weekly_targets(self, day: date) -> list[WeeklyTargetRow]:
        rows = self._query(
            "SELECT cycle_date, symbol, weight, qty, ref_price, planned, reason FROM "
            "weekly_targets WHERE cycle_date = ? ORDER BY symbol", (to_db_day(day),))
        return [WeeklyTargetRow(date.fromisoformat(r[0]), *r[1:]) for r in rows]

    def update_weekly_target(self, target: WeeklyTargetRow) -> bool:
        """Re-plan one name of a cycle (a re-check found it outside the band)."""
        check_choice("planned", target.planned, ("", "BUY", "SELL"))
        sql = ("UPDATE weekly_targets SET weight = ?, qty = ?, ref_price = ?, planned = ?, "
               "reason = ? WHERE cycle_date = ? AND symbol = ?")
        args = (target.weight, target.qty, target.ref_price, target.planned,
                scrub_text(target.reason), to_db_day(target.cycle_date), target.symbol)
        return self._write("update_weekly_target", sql, args).rowcount == 1

    def record_book_execution(self, exec_id: str, order_ref: str, symbol: str, side: str,
                              qty: int, price: float, time: datetime, commission: float,
                              book: str, account: str = "") -> bool:
        """Record an execution and apply it to `book` in ONE transaction; True if it was new.

        Two steps would leave a window: killed between them, the execution is on file (so never
        applied again) but the book never moved. Buys move the average cost; sells keep it; a
        book row at zero is removed. The book never goes below zero: a sell beyond it is a
        broker-side fact recorded in `executions`, not a short the book invents."""
        side = str(side)
        check_choice("side", side, ("BUY", "SELL"))
        at = to_db_time(time)
        inserted = False

        def apply(conn: sqlite3.Connection) -> None:
            nonlocal inserted
            inserted = conn.execute(
                f"INSERT INTO executions ({EXEC_COLUMNS}) VALUES ({', '.join('?' * 11)}) "
                "ON CONFLICT (exec_id) DO NOTHING",
                (exec_id, order_ref, symbol, side, qty, price, at, commission, book,
                 mask_account(account), ""),
            ).rowcount == 1
            if not inserted:
                return
            row = conn.execute("SELECT qty, avg_cost FROM book_positions WHERE book = ? AND "
                               "symbol = ?", (book, symbol)).fetchone()
            held, cost = (int(row[0]), float(row[1])) if row else (0, 0.0)
            if side == "BUY":
                new_qty = held + qty
                cost = (held * cost + qty * price) / new_qty
            else:
                new_qty = max(0, held - qty)
            if new_qty == 0:
                conn.execute("DELETE FROM book_positions WHERE book = ? AND symbol = ?",
                             (book, symbol))
            else:
                conn.execute(
                    "INSERT INTO book_positions (book, symbol, qty, avg_cost, updated_time) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (book, symbol) DO UPDATE SET "
                    "qty = excluded.qty, avg_cost = excluded.avg_cost, "
                    "updated_time = excluded.updated_time", (book, symbol, new_qty, cost, at))

        self._transaction("record_book_execution", apply)
        return inserted

    def _transaction(self, op: str, work: Callable[[sqlite3.Connection], None]) -> None:
        """Run `work` atomically (all of it or none), in one `db.<op>` span."""
        def run() -> None:
            with self._guard():
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    work(self._conn)
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise

        if self._tracer is None:
            run()
            return
        with self._tracer.start_as_current_span(
            f"db.{op}", attributes={"db.system": "sqlite", "db.operation": op}
        ):
            run()

    # -- plumbing ----------------------------------------------------------------------------
    def _write(self, op: str, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        if self._tracer is None:
            return self._execute(sql, args)
        with self._tracer.start_as_current_span(
            f"db.{op}", attributes={"db.system": "sqlite", "db.operation": op}
        ):
            return self._execute(sql, args)

    def _execute(self, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        with self._guard():
            return self._conn.execute(sql, args)

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._guard():
            return self._conn.execute(sql, args).fetchall()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise translate_sqlite_error(exc, self._path, self._busy_timeout_s) from None


def _json(value: Any) -> str:
    return json.dumps(redact_json(value), default=str, separators=(",", ":"))


def _canonical(values: dict[str, Any]) -> str:
    """Parameter values as one canonical JSON text (sorted keys): equal sets compare equal."""
    return json.dumps(redact_json(values), sort_keys=True, separators=(",", ":"))


_SCHEDULE_COLUMNS = ("trading_date, overrides, current, cycle_date, time, variant, regime, "
                     "ab_test_id")


def _schedule_from_db(r: Sequence[Any]) -> ParamsScheduleRow:
    return ParamsScheduleRow(date.fromisoformat(r[0]), json.loads(r[1]), json.loads(r[2]),
                             date.fromisoformat(r[3]), from_db_time(r[4]), r[5], r[6], r[7])
