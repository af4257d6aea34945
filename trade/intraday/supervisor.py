"""Supervised background tasks: every job the trader starts either completes or is retried.

A reconcile or a gap backfill that dies with `ConnectionError` because a second disconnect hit it
used to vanish as "Task exception was never retrieved", leaving a symbol's bars held forever or a
position unreconciled. Here a job is a coroutine *factory*: when a run fails the failure is logged
in one line and a fresh run starts after a backoff, until one completes or the trader stops the
supervisor at the end of the day. Jobs are keyed, so asking for a job that is already running
(a second reconnect during a reconcile) does not start a duplicate; it asks the running one to run
once more when it finishes, so the latest broker state is always looked at.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

JobFactory = Callable[[], Awaitable[Any]]


class Supervisor:
    def __init__(self, backoff_s: float = 0.2, backoff_max_s: float = 5.0) -> None:
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._stopped = False
        self.failures = 0

    def run(self, key: str, job: JobFactory, *, retry: bool = True) -> None:
        """Start `job` under `key`, or mark the running one to go once more after it ends."""
        if self._stopped:
            return
        running = self._tasks.get(key)
        if running is not None and not running.done():
            self._again.add(key)
            return
        task = asyncio.get_running_loop().create_task(self._supervise(key, job, retry), name=key)
        self._tasks[key] = task

    def running(self, key: str) -> bool:
        task = self._tasks.get(key)
        return task is not None and not task.done()

    async def _supervise(self, key: str, job: JobFactory, retry: bool) -> None:
        delay = self._backoff_s
        while not self._stopped:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is logged and retried
                self.failures += 1
                log.warning("%s failed (%s: %s); %s", key, type(exc).__name__, exc,
                            f"retrying in {delay:.1f}s" if retry else "not retried")
                log.debug("%s failure", key, exc_info=True)
                if not retry:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max_s)
                continue
            if key in self._again:
                self._again.discard(key)
                delay = self._backoff_s
                continue
            return

    async def drain(self, timeout_s: float) -> None:
        """Give running jobs up to `timeout_s` to finish."""
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    async def stop(self) -> None:
        """No new runs; cancel what is still running (end of day)."""
        self._stopped = True
        pending = [t for t in self._tasks.values() if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
