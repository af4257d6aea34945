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
import time
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
    detail: dict[str, Any] | None = None


TRADING_PATH_BUSY_TIMEOUT_S = 0.1  # the longest a write may hold the event loop on a locked file
RETRY_BACKOFF_MAX_S = 2.0  # real seconds between flush attempts while the DB stays unavailable


class SafeRecords:
    """`HistoryDB` writes that never raise into the trading path; failed ones retried in order.

    While writes are queued, new writes join the queue without touching the DB, and `flush`
    (called about once a second) tries only until the first failure, so a locked file costs
    the event loop at most one short busy wait per flush."""

    def __init__(self, db: HistoryDB) -> None:
        self.db = db
        db.set_busy_timeout(TRADING_PATH_BUSY_TIMEOUT_S)
        self._queue: deque[_Deferred] = deque()
        self._failing_since_logged = False
        self._retry_at = 0.0  # monotonic time of the next flush attempt while failing
        self._backoff = TRADING_PATH_BUSY_TIMEOUT_S
        self.failures = 0  # writes that failed at least once (for the run log and health)
        self.lost: list[dict[str, Any]] = []  # writes the DB will never accept, described
        # told once each time writes start failing (the owner's alert); never raises
        self.on_failing: Callable[[str, int], None] | None = None

    @property
    def pending(self) -> int:
        """Writes waiting for the DB."""
        return len(self._queue)

    def write(self, op: str, write: Callable[[], T],
              detail: dict[str, Any] | None = None) -> T | None:
        """Run `write` now, or queue it behind earlier failed writes; its result or None.

        Writes keep their order: while older writes wait, a new one waits behind them, so the
        DB never sees an execution's trade row before the execution. `detail` describes the
        record (JSON-ready): if it never lands, the run log carries it instead."""
        if self._queue:
            self._defer(op, write, detail)
            return None
        try:
            return write()
        except HistoryDBError as exc:
            self._note_failure(op, exc)
            if exc.transient:
                self._defer(op, write, detail)
            else:
                self.lost.append({"op": op, "error": str(exc), **(detail or {})})
            return None

    def unrecorded(self) -> list[dict[str, Any]]:
        """Every record that is not in the DB: dropped for good, or still waiting at the end."""
        waiting = [{"op": d.op, "error": "still waiting for the DB", **(d.detail or {})}
                   for d in self._queue]
        return [*self.lost, *waiting]

    def read(self, op: str, read: Callable[[], T], fallback: T) -> T:
        """Run `read`; on a DB failure, `fallback` (the caller's in-memory knowledge)."""
        try:
            return read()
        except HistoryDBError as exc:
            self._note_failure(op, exc)
            return fallback

    def flush(self, force: bool = False) -> int:
        """Retry queued writes in order until one fails again; returns how many landed. While
        the DB keeps failing, attempts back off (up to `RETRY_BACKOFF_MAX_S`) unless `force`."""
        landed = 0
        if not self._queue or (not force and time.monotonic() < self._retry_at):
            return landed
        while self._queue:
            item = self._queue[0]
            try:
                item.write()
            except HistoryDBError as exc:
                if exc.transient:
                    self._retry_at = time.monotonic() + self._backoff
                    self._backoff = min(self._backoff * 2, RETRY_BACKOFF_MAX_S)
                    return landed
                log.error("history DB write %s dropped: %s", item.op, exc)  # will never land
                self.lost.append({"op": item.op, "error": str(exc), **(item.detail or {})})
            self._queue.popleft()
            landed += 1
        self._backoff = TRADING_PATH_BUSY_TIMEOUT_S
        if landed and self._failing_since_logged:
            log.warning("history DB writable again: %d delayed write(s) recorded", landed)
            self._failing_since_logged = False
        return landed

    def _defer(self, op: str, write: Callable[[], Any],
               detail: dict[str, Any] | None = None) -> None:
        self._queue.append(_Deferred(op, write, detail))

    def _note_failure(self, op: str, exc: HistoryDBError) -> None:
        self.failures += 1
        if not self._failing_since_logged:
            log.error("history DB write %s failed (%s): trading goes on, records follow later",
                      op, exc)
            self._failing_since_logged = True
            if self.on_failing is not None:
                try:
                    self.on_failing(str(exc), len(self._queue) + 1)
                except Exception:  # an alert never stops the trading path
                    log.debug("history DB alert failed", exc_info=True)
