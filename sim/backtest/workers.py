"""Running units of work on this machine's cores or on a Dask cluster, results in group order.

A `Job` holds what every unit needs (the prepared sessions, the parameter sets, the config),
runs one unit and reduces a group of unit results to one value (a sweep's group is one
parameter set's sessions, reduced to its row of metrics). Locally the job reaches each worker
process once (the pool's initializer) and a group is one task, so a sweep's thousands of
sub-millisecond units do not each pay a round trip; on Dask (`scheduler="tcp://HOST:8786"`) the
job is scattered to every worker once, each unit is one task and each group's reduction one more
task on its units' results. Results come back in the order of `groups`, whatever finished
first, so the output does not depend on the worker count or the scheduler.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from sim.backtest.config import BacktestInputError
from sim.backtest.progress import Progress

SCHEDULER_TIMEOUT_S = 10.0


class Job(Protocol):
    def run(self, unit: Any) -> Any: ...

    def reduce(self, results: list[Any]) -> Any: ...


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def run_groups(job: Job, groups: Sequence[Sequence[Any]], *, workers: int | None = None,
               scheduler: str | None = None, progress: Progress | None = None,
               scheduler_timeout: float = SCHEDULER_TIMEOUT_S) -> list[Any]:
    """`[job.reduce([job.run(u) for u in group]) for group in groups]`, on `workers` local
    processes or a Dask scheduler."""
    if scheduler:
        return _run_dask(job, groups, scheduler, progress, scheduler_timeout)
    count = min(workers or default_workers(), len(groups))
    if count <= 1:
        out = []
        for group in groups:
            out.append(_run_group(job, group))
            if progress is not None:
                progress.advance(len(group))
        return out
    return _run_pool(job, groups, count, progress)


def _run_group(job: Job, group: Sequence[Any]) -> Any:
    return job.reduce([job.run(unit) for unit in group])


# -- local processes -----------------------------------------------------------------------
_JOB: Job | None = None


def _install(job: Job) -> None:
    global _JOB
    _JOB = job


def _run_installed(group: Sequence[Any]) -> Any:
    assert _JOB is not None, "the worker's job was not installed"
    return _run_group(_JOB, group)


def _run_pool(job: Job, groups: Sequence[Sequence[Any]], workers: int,
              progress: Progress | None) -> list[Any]:
    results: list[Any] = [None] * len(groups)
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_install,
                             initargs=(job,)) as pool:
        pending = {pool.submit(_run_installed, list(group)): i for i, group in enumerate(groups)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                results[i] = future.result()
                if progress is not None:
                    progress.advance(len(groups[i]))
    return results


# -- Dask ----------------------------------------------------------------------------------
def _run_with(job: Job, unit: Any) -> Any:
    return job.run(unit)


def _reduce_with(job: Job, *results: Any) -> Any:
    return job.reduce(list(results))


def connect(scheduler: str, timeout: float = SCHEDULER_TIMEOUT_S) -> Any:
    """A client of the Dask scheduler at `scheduler`, or a one-line `BacktestInputError`."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BacktestInputError(f"--scheduler {scheduler}: no Dask scheduler answers there "
                                 f"({type(exc).__name__}): start one (dask scheduler) or fix "
                                 "the address") from None


def _run_dask(job: Job, groups: Sequence[Sequence[Any]], scheduler: str,
              progress: Progress | None, timeout: float) -> list[Any]:
    from distributed import as_completed

    client = connect(scheduler, timeout)
    try:
        shared = client.scatter(job, broadcast=True, hash=False)
        units = [[client.submit(_run_with, shared, unit, pure=False) for unit in group]
                 for group in groups]
        reduced = [client.submit(_reduce_with, shared, *futures, pure=False)
                   for futures in units]
        if progress is not None:
            for _ in as_completed([f for futures in units for f in futures]):
                progress.advance()
        results: list[Any] = client.gather(reduced)
        return results
    finally:
        client.close()
