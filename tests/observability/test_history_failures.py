"""Locked and corrupt files give one clear line and never cost already-committed rows."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from observability.history import HistoryDB, HistoryDBError
from tests.observability.conftest import DAY, make_trade

_HOLD_WRITE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@pytest.fixture
def other_process_writing(db_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the DB's write lock until the test releases it."""
    HistoryDB.open(db_path).close()
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_WRITE_LOCK, str(db_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.communicate("", timeout=5)


def test_write_to_a_locked_db_fails_with_a_clear_line(
    db_path: Path, other_process_writing: subprocess.Popen[str]
) -> None:
    history = HistoryDB.open(db_path, busy_timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(HistoryDBError) as caught:
        history.record_trade(make_trade(1, 5.0))
    message = str(caught.value)
    assert "trading_history.db is locked by another process" in message
    assert message.endswith("stop the other bot or point --db elsewhere")
    assert "\n" not in message
    assert 0.15 < time.monotonic() - started < 2.0
    history.close()


def test_readers_are_not_blocked_by_another_process_writing(
    db_path: Path, other_process_writing: subprocess.Popen[str]
) -> None:
    with HistoryDB.open(db_path, busy_timeout_s=0.2) as history:
        assert history.daily_summary(DAY).trades == 0


def test_committed_rows_survive_a_locked_write(db_path: Path) -> None:
    with HistoryDB.open(db_path) as history:
        history.record_trade(make_trade(1, 5.0))
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_WRITE_LOCK, str(db_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    history = HistoryDB.open(db_path, busy_timeout_s=0.1)
    with pytest.raises(HistoryDBError):
        history.record_trade(make_trade(2, 6.0))
    proc.communicate("", timeout=5)
    history.record_trade(make_trade(3, 7.0))
    history.close()
    with HistoryDB.open(db_path) as reopened:
        assert [t.pnl for t in reopened.trades_on(DAY)] == [5.0, 7.0]


def test_a_file_that_is_not_a_database_gives_a_clear_error_and_is_left_alone(db_path: Path) -> None:
    garbage = b"these are not the bytes you are looking for\n" * 200
    db_path.write_bytes(garbage)
    with pytest.raises(HistoryDBError) as caught:
        HistoryDB.open(db_path)
    message = str(caught.value)
    assert "is not a readable history database" in message
    assert "move the file aside" in message and "\n" not in message
    assert db_path.read_bytes() == garbage


def test_a_damaged_database_page_gives_a_clear_error(db_path: Path) -> None:
    with HistoryDB.open(db_path) as history:
        history.record_trade(make_trade(1, 5.0))
    data = bytearray(db_path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # page 1 after the header: the schema table
    db_path.write_bytes(bytes(data))
    with pytest.raises(HistoryDBError, match="is not a readable history database"):
        HistoryDB.open(db_path)


def test_a_missing_directory_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HistoryDBError, match="check the directory exists"):
        HistoryDB.open(tmp_path / "no" / "such" / "dir" / "trading_history.db")
