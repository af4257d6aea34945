"""The weekly rebalancer's part of the history DB: its cycles, their target portfolios, and
executions applied to its book.

A mixin of `HistoryDB` (see `history_base` for why the DB is composed of topic modules). A cycle
and its targets are written in one transaction, and so is an execution together with the book
move it causes: a weekly bot killed between two statements must restart from either both or
neither, never from a recorded fill that never moved the book.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from observability.history_base import HistoryConnection, _json
from observability.redaction import mask_account, scrub_text
from observability.schema import (
    EXEC_COLUMNS,
    WEEKLY_CYCLE_STATUSES,
    WeeklyCycleRow,
    WeeklyTargetRow,
    check_choice,
    from_db_time,
    to_db_day,
    to_db_time,
)


class WeeklyHistory(HistoryConnection):
    """Weekly cycles, their targets, and executions applied to the weekly book."""

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
                              qty: int, price: float, time: datetime, commission: float | None,
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
                f"INSERT INTO executions ({EXEC_COLUMNS}) VALUES ({', '.join('?' * 12)}) "
                "ON CONFLICT (exec_id) DO NOTHING",
                (exec_id, order_ref, symbol, side, qty, price, at, commission or 0.0, book,
                 mask_account(account), "", int(commission is None)),
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
