"""The history DB's failures as one clear line each: what is wrong and what to do about it.

SQLite's own messages ("database is locked", "file is not a database") do not say which file or
what the operator should do; the bot prints these instead and stops cleanly.
"""

from __future__ import annotations

import sqlite3


class HistoryDBError(Exception):
    """One clear line: what is wrong with the history DB and what to do about it.

    `transient` is True when the same write may succeed later (the file is locked or busy, a
    disk I/O hiccup), False when it never will (a constraint, a corrupt file)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def translate_sqlite_error(exc: sqlite3.Error, path: str, busy_timeout_s: float) -> HistoryDBError:
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return HistoryDBError(
            f"{path} is locked by another process (busy for more than {busy_timeout_s:g}s: {text}): "
            "stop the other bot or point --db elsewhere",
            transient=True,
        )
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return HistoryDBError(
            f"{path} is not a readable history database ({text}): move the file aside "
            "(it is left untouched) and restart, or point --db elsewhere"
        )
    if "unable to open" in lowered or "readonly" in lowered or "disk i/o" in lowered:
        return HistoryDBError(
            f"cannot write {path} ({text}): check the directory exists and is writable, "
            "or point --db elsewhere",
            transient=True,
        )
    if "full" in lowered:
        return HistoryDBError(f"cannot write {path} ({text}): free disk space", transient=True)
    if isinstance(exc, sqlite3.IntegrityError):
        return HistoryDBError(f"{path}: row rejected by the schema ({text}): fix the value named")
    return HistoryDBError(f"{path}: {type(exc).__name__}: {text}",
                          transient=isinstance(exc, sqlite3.OperationalError))
