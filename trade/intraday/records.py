"""The trading path's view of the history DB: trade safely now, record later.

The DB is the bot's memory, not its lifeline. A write that fails (locked by another process past
the busy timeout, disk full, a broken file) must never stop the bot from protecting and
flattening positions, so every write from the trading path goes through here: it is tried at
once, and on `HistoryDBError` it is queued, in order, and retried by `flush()` (the trader calls
it every second) until it lands. Reads that fail return the caller's in-memory fallback. A write the DB will never accept (a
constraint) is logged and dropped instead of blocking the queue.

What this changes for the invariants: an execution is applied to the bot's book exactly once by
exec id in memory (FillRecorder), whatever the DB does; the DB row follows when it can. Order refs
stay unique because `RefBook` keeps the sequences it handed out in memory as well.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from observability.history import HistoryDB, HistoryDBError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class _Deferred:
    op: str
    write: Callable[[], Any]


class SafeRecords:
    """`HistoryDB` writes that never raise into the trading path; failed ones retried in order."""

    def __init__(self, db: HistoryDB) -> None:
        self.db = db
        self._queue: deque[_Deferred] = deque()
        self._failing_since_logged = False
        self.failures = 0  # writes that failed at least once (for the run log and health)

    @property
    def pending(self) -> int:
        """Writes waiting for the DB."""
        return len(self._queue)

    def write(self, op: str, write: Callable[[], T]) -> T | None:
        """Run `write` now, or queue it behind earlier failed writes; its result or None.

        Writes keep their order: while older writes wait, a new one waits behind them, so the
        DB never sees an execution's trade row before the execution."""
        if self._queue:
            self._defer(op, write)
            self.flush()
            return None
        try:
            return write()
        except HistoryDBError as exc:
            self._note_failure(op, exc)
            if exc.transient:
                self._defer(op, write)
            return None

    def read(self, op: str, read: Callable[[], T], fallback: T) -> T:
        """Run `read`; on a DB failure, `fallback` (the caller's in-memory knowledge)."""
        try:
            return read()
        except HistoryDBError as exc:
            self._note_failure(op, exc)
            return fallback

    def flush(self) -> int:
        """Retry queued writes in order until one fails again; returns how many landed."""
        landed = 0
        while self._queue:
            item = self._queue[0]
            try:
                item.write()
            except HistoryDBError as exc:
                if exc.transient:
                    return landed
                log.error("history DB write %s dropped: %s", item.op, exc)  # will never land
            self._queue.popleft()
            landed += 1
        if landed and self._failing_since_logged:
            log.warning("history DB writable again: %d delayed write(s) recorded", landed)
            self._failing_since_logged = False
        return landed

    def _defer(self, op: str, write: Callable[[], Any]) -> None:
        self._queue.append(_Deferred(op, write))

    def _note_failure(self, op: str, exc: HistoryDBError) -> None:
        self.failures += 1
        if not self._failing_since_logged:
            log.error("history DB write %s failed (%s): trading goes on, records follow later",
                      op, exc)
            self._failing_since_logged = True
