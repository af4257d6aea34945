"""Schema creation, forward migration of an older file, WAL mode and how times are stored."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from observability.history import HistoryDB, HistoryDBError
from observability.migrations import CURRENT_VERSION, MIGRATIONS, migrate
from observability.schema import SchemaValueError
from tests.observability.conftest import DAY, make_trade

ALL_TABLES = {
    "trades", "daily_metrics", "agent_health", "parameter_changes", "evaluations",
    "order_intents", "executions", "book_positions",
}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def test_open_creates_every_table_at_the_current_version(db: HistoryDB, db_path: Path) -> None:
    assert db.schema_version == CURRENT_VERSION == len(MIGRATIONS)
    assert ALL_TABLES <= _tables(db_path)
    assert {"trades_by_day", "executions_by_time", "order_intents_by_sequence"} <= _indexes(db_path)


def test_v1_file_is_migrated_and_keeps_its_rows(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO trades (trading_date, book, symbol, side, qty, entry_time, entry_price, "
        "exit_time, exit_price, pnl) VALUES ('2025-07-03', 'intraday', 'AAPL', 'BUY', 5, "
        "'2025-07-03T13:35:00.000000+00:00', 200.0, '2025-07-03T13:50:00.000000+00:00', 202.0, 10.0)"
    )
    conn.close()
    assert "executions" not in _tables(db_path)

    with HistoryDB.open(db_path) as history:
        assert history.schema_version == CURRENT_VERSION
        [trade] = history.trades_on(DAY)
        assert (trade.symbol, trade.qty, trade.pnl) == ("AAPL", 5, 10.0)
        assert history.record_execution("e1", "DT-20250703-AAPL-1-ENTRY", "AAPL", "BOT", 5, 200.0,
                                        trade.entry_time, 1.0, "intraday")
    assert {"order_intents", "executions", "book_positions"} <= _tables(db_path)
    assert {"trades_by_symbol", "trades_by_order_ref"} <= _indexes(db_path)


def test_reopening_a_current_file_changes_nothing(db_path: Path) -> None:
    with HistoryDB.open(db_path) as history:
        history.record_trade(make_trade(1, 5.0))
    with HistoryDB.open(db_path) as history:
        assert history.schema_version == CURRENT_VERSION
        assert len(history.trades_on(DAY)) == 1


def test_file_from_newer_code_is_refused_with_a_clear_error(db_path: Path) -> None:
    HistoryDB.open(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {CURRENT_VERSION + 1}")
    with pytest.raises(HistoryDBError, match="newer than this code"):
        HistoryDB.open(db_path)


def test_wal_mode_is_on_and_a_wal_file_appears(db: HistoryDB, db_path: Path) -> None:
    db.record_trade(make_trade(1, 5.0))
    with sqlite3.connect(db_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert Path(f"{db_path}-wal").exists()


def test_connection_pragmas_are_normal_sync_foreign_keys_and_busy_timeout(db: HistoryDB) -> None:
    conn = db._conn  # the pragmas are per connection: read them on ours
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2000


def test_times_are_stored_as_sortable_utc_text(db: HistoryDB, db_path: Path) -> None:
    ny = timezone(timedelta(hours=-4))
    trade = make_trade(1, 5.0)
    trade.entry_time = datetime(2025, 7, 3, 9, 31, tzinfo=ny)
    db.record_trade(trade)
    with sqlite3.connect(db_path) as conn:
        stored = conn.execute("SELECT entry_time FROM trades").fetchone()[0]
    assert stored == "2025-07-03T13:31:00.000000+00:00"
    assert db.trades_on(DAY)[0].entry_time == trade.entry_time


def test_naive_datetime_is_rejected_naming_the_field(db: HistoryDB) -> None:
    trade = make_trade(1, 5.0)
    trade.exit_time = datetime(2025, 7, 3, 10, 0)
    with pytest.raises(SchemaValueError, match="exit_time=.* is naive"):
        db.record_trade(trade)
