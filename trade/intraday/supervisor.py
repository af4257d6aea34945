"""Supervised background tasks: every job the trader starts either completes or is retried.

A reconcile or a gap backfill that dies with `ConnectionError` because a second disconnect hit it
used to vanish as "Task exception was never retrieved", leaving a symbol's bars held forever or a
position unreconciled. Here a job is a coroutine *factory*: when a run fails the failure is logged
in one line and a fresh run starts after a backoff, until one completes or the trader stops the
supervisor at the end of the day. Jobs are keyed, so asking for a job that is already running
(a second reconnect during a reconcile) does not start a duplicate; it asks the running one to run
once more when it finishes, so the latest broker state is always looked at.

Every run has a deadline: a job that waits on the broker for longer (a reply that never comes)
is cancelled and started afresh, so a hung request can never hold a position's protection until
the close. Jobs marked `critical` (a repair between "old exits cancelled" and "new group placed",
a cover) are given time to finish when the trader stops, instead of being cancelled half-way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

JobFactory = Callable[[], Awaitable[Any]]
JOB_DEADLINE_S = 60.0  # real seconds one run of a job may take (its broker reads are bounded too)
CRITICAL_FINISH_S = 15.0  # at the end of the day, how long critical jobs get to finish


class Supervisor:
    def __init__(self, backoff_s: float = 0.2, backoff_max_s: float = 5.0) -> None:
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._critical: set[str] = set()
        self._stopped = False
        self.failures = 0
        self.overdue = 0  # runs cancelled at their deadline

    def run(self, key: str, job: JobFactory, *, retry: bool = True, critical: bool = False,
            deadline_s: float = JOB_DEADLINE_S) -> None:
        """Start `job` under `key`, or mark the running one to go once more after it ends."""
        if self._stopped:
            return
        running = self._tasks.get(key)
        if running is not None and not running.done():
            self._again.add(key)
            return
        if critical:
            self._critical.add(key)
        task = asyncio.get_running_loop().create_task(
            self._supervise(key, job, retry, deadline_s), name=key)
        self._tasks[key] = task

    def running(self, key: str) -> bool:
        task = self._tasks.get(key)
        return task is not None and not task.done()

    async def _supervise(self, key: str, job: JobFactory, retry: bool, deadline_s: float) -> None:
        delay = self._backoff_s
        while not self._stopped or key in self._critical:
            try:
                await asyncio.wait_for(job(), deadline_s)
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                self.overdue += 1
                log.error("%s did not finish within %.0f s (a broker reply that never came?); "
                          "cancelled and %s", key, deadline_s,
                          "started again" if retry else "not retried")
                if not retry or self._stopped:
                    return
                continue
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
        """No new runs; critical jobs get `CRITICAL_FINISH_S` to finish (a repair never stops
        between cancelling the old exits and placing the new ones), the rest is cancelled."""
        self._stopped = True
        critical = [t for k, t in self._tasks.items() if k in self._critical and not t.done()]
        if critical:
            await asyncio.wait(critical, timeout=CRITICAL_FINISH_S)
        pending = [t for t in self._tasks.values() if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
