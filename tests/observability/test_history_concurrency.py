"""One writer and readers with their own connections: WAL lets both proceed."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from observability.history import HistoryDB
from tests.observability.conftest import DAY, make_trade


def test_reader_on_its_own_connection_reads_while_the_writer_writes(db_path: Path) -> None:
    writer = HistoryDB.open(db_path)
    reader = HistoryDB.open(db_path)
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read_until_done() -> None:
        try:
            while not done.is_set():
                seen.append(reader.daily_summary(DAY).trades)
            seen.append(reader.daily_summary(DAY).trades)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    thread = threading.Thread(target=read_until_done)
    thread.start()
    for minute in range(300):
        writer.record_trade(make_trade(minute, 1.0))
    done.set()
    thread.join(timeout=10)
    writer.close()
    reader.close()

    assert errors == []
    assert seen == sorted(seen)  # committed rows only ever appear, never vanish
    assert seen[-1] == 300
    assert len(seen) > 1


def test_an_open_read_snapshot_does_not_block_commits(db: HistoryDB, db_path: Path) -> None:
    db.record_trade(make_trade(1, 1.0))
    reader = sqlite3.connect(db_path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM trades").fetchone()[0] == 1
    db.record_trade(make_trade(2, 1.0))  # commits although a read transaction is open
    assert reader.execute("SELECT COUNT(*) FROM trades").fetchone()[0] == 1
    reader.execute("COMMIT")
    assert reader.execute("SELECT COUNT(*) FROM trades").fetchone()[0] == 2
    reader.close()
