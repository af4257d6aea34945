"""The plumbing every part of `HistoryDB` shares: opening the file (WAL, pragmas, migrations),
the one connection behind one lock, SQLite failures turned into a `HistoryDBError` that names the
fix, and a `db.<op>` span per write.

Why a base class of its own: `HistoryDB` is composed of one mixin per topic (the day trader's
records in `history.py`, metrics and reports in `history_metrics.py`, the nightly cycle in
`history_improvement.py`, the weekly rebalancer in `history_weekly.py`) so that each module stays
well under the project's ~400-line limit. Each mixin inherits this class, so the `_write`,
`_query` and `_transaction` it calls are inherited, typed methods rather than attributes it
assumes, and there is still exactly one connection and one lock per `HistoryDB`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Self

from opentelemetry.trace import Tracer

from observability.history_errors import HistoryDBError, translate_sqlite_error
from observability.migrations import CURRENT_VERSION, NewerSchemaError, migrate
from observability.redaction import redact_json

DEFAULT_BUSY_TIMEOUT_S = 2.0


class HistoryConnection:
    """The connection, its lock and the write/query plumbing; `HistoryDB` adds the typed API."""

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
             tracer: Tracer | None = None) -> Self:
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

    def __enter__(self) -> Self:
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

    # -- plumbing ----------------------------------------------------------------------------
    def _span(self, op: str) -> AbstractContextManager[Any]:
        if self._tracer is None:
            return nullcontext()
        return self._tracer.start_as_current_span(
            f"db.{op}", attributes={"db.system": "sqlite", "db.operation": op})

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


def _json(value: Any) -> str:
    return json.dumps(redact_json(value), default=str, separators=(",", ":"))
