"""Backtests: sessions x one parameter set, on either engine, one session per unit of work.

Every session starts flat with the configured equity and is independent of the others, so the
sessions of a backtest run in any order on any worker and the result is the same; they are put
back in date order before anything is computed from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from evaluation.performance import Metrics
from sim.backtest.bars import BarStore
from sim.backtest.config import BacktestConfig, BacktestInputError
from sim.backtest.event_engine import run_event_day
from sim.backtest.fast.engine import run_fast_day, run_fast_trades
from sim.backtest.prepare import DayBatch, prepare_day
from sim.backtest.progress import Progress
from sim.backtest.result import BacktestResult, DayResult, metrics_of
from sim.backtest.sessions import Sessions
from sim.backtest.workers import SCHEDULER_TIMEOUT_S, connect, run_groups
from trade.models import Params

ENGINES = ("fast", "event")
Overrides = Mapping[str, Mapping[str, Any]]  # symbol -> Params fields that differ for it
_stores: dict[Sessions, BarStore] = {}


def store_for(sessions: Sessions) -> BarStore:
    """This process's column cache of the sessions' market."""
    store = _stores.get(sessions)
    if store is None:
        store = _stores[sessions] = BarStore(sessions.source())
    return store


def symbol_params(params: Params, overrides: Overrides | None) -> dict[str, Params]:
    """Each overridden symbol's params: `params` with its own fields on top (watchlist rule)."""
    try:
        return {s: params.with_overrides(dict(o)) for s, o in (overrides or {}).items() if o}
    except (TypeError, ValueError) as exc:
        raise BacktestInputError(f"symbol override: {exc}") from None


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise BacktestInputError(f"--engine {engine!r} is invalid: use one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class SessionJob:
    """Unit (p, d): parameter set p on session d, straight from the market (either engine;
    the fast engine prepares the session in the worker, cached per process)."""

    sessions: Sessions
    days: tuple[date, ...]
    param_sets: tuple[Params, ...]
    config: BacktestConfig
    engine: str
    overrides: Overrides = field(default_factory=dict)
    rows: bool = False  # reduce a group to its row of metrics (a sweep), else to its one day

    def reduce(self, results: list[Any]) -> Any:
        if self.rows:
            return metrics_of(results, float(self.config.equity), self.config.allocation)
        return results[0]

    def run(self, unit: tuple[int, int]) -> DayResult:
        p, d = unit
        params, day = self.param_sets[p], self.days[d]
        own = symbol_params(params, self.overrides)
        if self.engine == "event":
            return run_event_day(self.sessions.source(), day, self.sessions.symbols, params,
                                 self.config, own)
        batch = prepare_day(store_for(self.sessions), day, self.sessions.symbols)
        return DayResult(day) if batch is None else run_fast_day(batch, params, self.config, own)


@dataclass(frozen=True)
class PrepareJob:
    """Unit d: session d prepared as arrays (shipped back, then to every sweep worker)."""

    sessions: Sessions
    days: tuple[date, ...]

    def run(self, d: int) -> DayBatch | None:
        return prepare_day(store_for(self.sessions), self.days[d], self.sessions.symbols)

    def reduce(self, results: list[Any]) -> Any:
        return results[0]


@dataclass(frozen=True)
class BatchJob:
    """Unit (p, d): parameter set p on the prepared session d (the fast engine only)."""

    batches: tuple[DayBatch | None, ...]
    days: tuple[date, ...]
    param_sets: tuple[Params, ...]
    config: BacktestConfig
    overrides: Overrides = field(default_factory=dict)

    def reduce(self, results: list[Any]) -> Any:
        return metrics_of(results, float(self.config.equity), self.config.allocation)

    def run(self, unit: tuple[int, int]) -> Any:
        p, d = unit
        batch = self.batches[d]
        if batch is None:
            return DayResult(self.days[d])
        params = self.param_sets[p]
        return run_fast_trades(batch, params, self.config, symbol_params(params, self.overrides))


def run_backtest(sessions: Sessions, params: Params, config: BacktestConfig, *,
                 engine: str = "fast", workers: int | None = None, scheduler: str | None = None,
                 overrides: Overrides | None = None, progress: bool = True) -> BacktestResult:
    """Trade every session of `sessions` with `params`; the result in date order."""
    check_engine(engine)
    days = tuple(sessions.days())
    job = SessionJob(sessions, days, (params,), config, engine, dict(overrides or {}))
    bar = Progress(len(days), f"backtest ({engine})") if progress else None
    results = run_groups(job, [[(0, d)] for d in range(len(days))], workers=workers,
                         scheduler=scheduler, progress=bar)
    return BacktestResult(engine, params, float(config.equity), config.allocation, list(results))


def sweep_metrics(engine: str, sessions: Sessions, days: Sequence[date],
                  param_sets: Sequence[Params], config: BacktestConfig, *,
                  workers: int | None = None, scheduler: str | None = None,
                  overrides: Overrides | None = None, progress: Progress | None = None,
                  scheduler_timeout: float = SCHEDULER_TIMEOUT_S) -> list[Metrics]:
    """One `Metrics` per parameter set, over every session (units: parameter set x session)."""
    check_engine(engine)
    if scheduler:
        connect(scheduler, scheduler_timeout).close()  # a wrong address fails before any work
    days = tuple(days)
    groups = [[(p, d) for d in range(len(days))] for p in range(len(param_sets))]
    if engine == "event":
        job: Any = SessionJob(sessions, days, tuple(param_sets), config, engine,
                              dict(overrides or {}), rows=True)
    else:
        # prepared here (local cores), then shipped: cluster workers need no copy of the data
        batches = tuple(run_groups(PrepareJob(sessions, days), [[d] for d in range(len(days))],
                                   workers=workers))
        job = BatchJob(batches, days, tuple(param_sets), config, dict(overrides or {}))
    return run_groups(job, groups, workers=workers, scheduler=scheduler, progress=progress,
                      scheduler_timeout=scheduler_timeout)
