"""Snapshots of the trader for the status page, taken a few times a second, never per bar.

One poller asks the trader for its snapshot every `interval_s` while at least one page is
listening, and hands the JSON to every listener only when it changed: the trader's cost does not
grow with the number of open pages, and an idle bot with no page open is never asked. A listener
that falls behind only ever gets the newest snapshot (stale ones are dropped, not queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("ui.status")

Snapshot = Callable[[], dict[str, Any]]


class SnapshotHub:
    def __init__(self, snapshot: Snapshot, interval_s: float = 0.5) -> None:
        self._snapshot = snapshot
        self._interval_s = interval_s
        self._listeners: set[asyncio.Queue[str | None]] = set()
        self._latest: str | None = None
        self._taken_at = 0.0
        self._poller: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._failing = False
        self._closed = False

    def current(self) -> str:
        """The newest snapshot as JSON, taken now unless one is younger than the interval."""
        if self._latest is None or time.monotonic() - self._taken_at >= self._interval_s:
            self._take()
        return self._latest or "{}"

    def listen(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=1)
        self._listeners.add(queue)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="status-poll")
        return queue

    def forget(self, queue: asyncio.Queue[str | None]) -> None:
        self._listeners.discard(queue)

    def poke(self) -> None:
        """Take the next snapshot now (after a control action), not at the next interval."""
        self._taken_at = 0.0
        self._wake.set()

    async def close(self) -> None:
        """Tell every listener the stream ends (None) and stop polling."""
        self._closed = True
        for queue in list(self._listeners):
            _replace(queue, None)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def _poll(self) -> None:
        sent: str | None = None
        while self._listeners and not self._closed:
            self._take()
            if self._latest is not None and self._latest != sent:
                sent = self._latest
                for queue in list(self._listeners):
                    _replace(queue, sent)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)

    def _take(self) -> None:
        try:
            self._latest = json.dumps(self._snapshot(), default=str, separators=(",", ":"))
            if self._failing:
                log.info("status page: trader snapshot available again")
            self._failing = False
        except Exception as exc:  # a broken snapshot must never reach the trading loop
            if not self._failing:
                log.warning("status page: trader snapshot failed: %s: %s", type(exc).__name__, exc)
            self._failing = True
        self._taken_at = time.monotonic()


def _replace(queue: asyncio.Queue[str | None], item: str | None) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(item)
