"""The backtester as the nightly cycle's replayer: the fast engine by default (`replayer_for`).

Same protocol as `improvement.replay.EventReplayer` (`available(days)`,
`replay(params, sessions)` -> per-session net P&L and trades), over `sim.backtest`: each session
is prepared once (the analyst's figures, warm-up, the minute grid) and every candidate is then
traded by the compiled kernel, which the parity tests prove makes the event engine's trades (the
live `IntradayTrader` over `PaperBroker`). `engine="event"` replays with that event engine
instead. Sessions start flat with the configured equity; the trader's account is refreshed every
market minute, as live (see sim/backtest/event_engine.py). Runs in the calling process: the
nightly cycle runs inside the day trader's process, which is not forked.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from improvement.replay import ReplayConfig, ReplayDay, ReplayResult
from sim.backtest.bars import BarStore
from sim.backtest.config import BacktestConfig
from sim.backtest.event_engine import run_event_day
from sim.backtest.fast.engine import run_fast_trades
from sim.backtest.prepare import DayBatch, prepare_day
from sim.backtest.runner import symbol_params
from sim.market.grid import on_grid
from sim.market.replay import BarSource
from trade.models import Params


@dataclass
class BacktestReplayer:
    source: BarSource
    symbols: Sequence[str]
    config: ReplayConfig
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    engine: str = "fast"
    _cache: dict[tuple[Any, date], ReplayDay] = field(default_factory=dict, repr=False)
    _batches: dict[date, DayBatch | None] = field(default_factory=dict, repr=False)
    _store: BarStore | None = field(default=None, repr=False)
    _held: set[date] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.engine not in ("fast", "event"):
            raise ValueError(f"engine={self.engine!r} is invalid: use 'fast' or 'event'")
        self.source = on_grid(self.source)  # one snapped, cached copy for every replay

    @property
    def backtest_config(self) -> BacktestConfig:
        return BacktestConfig(allocation=self.config.allocation, equity=self.config.equity,
                              daily_loss_pct=self.config.daily_loss_pct,
                              max_open_positions=self.config.max_open_positions)

    def available(self, days: Sequence[date]) -> list[date]:
        if self._held is None:
            self._held = {d for s in self.symbols for d in self.source.sessions(s)}
        return [d for d in days if d in self._held]

    def sessions(self, until: date, count: int) -> list[date]:
        """The last `count` sessions up to `until` the data holds (not necessarily contiguous:
        the nightly gate uses `available` over the calendar's sessions instead)."""
        days = sorted({d for s in self.symbols for d in self.source.sessions(s) if d <= until})
        return days[-count:] if count > 0 else []

    def replay(self, params: Params, sessions: Sequence[date]) -> ReplayResult:
        key = dataclasses.astuple(params)
        for day in sessions:
            if (key, day) not in self._cache:
                self._cache[(key, day)] = self._replay_day(params, day)
        return ReplayResult(tuple(self._cache[(key, d)] for d in sessions))

    def _replay_day(self, params: Params, day: date) -> ReplayDay:
        own = symbol_params(params, self.overrides)
        if self.engine == "event":
            result = _off_loop(lambda: run_event_day(self.source, day, list(self.symbols), params,
                                                     self.backtest_config, own))
            records = tuple(result.records())
        else:
            batch = self._batch(day)
            if batch is None:
                return ReplayDay(day, 0.0)
            trades = run_fast_trades(batch, params, self.backtest_config, own)
            records = tuple(trades.records())
        return ReplayDay(day, sum(r.net_pnl for r in records), records)

    def _batch(self, day: date) -> DayBatch | None:
        if day not in self._batches:
            if self._store is None:
                self._store = BarStore(on_grid(self.source))
            self._batches[day] = prepare_day(self._store, day, [s.upper() for s in self.symbols])
        return self._batches[day]


def _off_loop(work: Any) -> Any:
    """Run `work()` here, or on a helper thread when this thread runs an event loop (the event
    engine starts its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay") as pool:
        return pool.submit(work).result()
