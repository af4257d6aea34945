"""Replaying recent sessions with given parameters: what tuning validates a change with.

`Replayer` is the small port the tuning logic needs; `EventReplayer` implements it with the
unchanged `IntradayTrader` over `PaperBroker` (the matching engine, full speed, one session at a
time, an in-memory history DB, tracing and trade logging off), so a candidate is judged by the
exact code that would trade it, including the watchlist analyst, risk sizing and the flatten.
The nightly cycle's default replayer is the backtester's fast engine
(`improvement.fast_replay.BacktestReplayer`, proven to make the event engine's trades); anything
with `sessions` and `replay` fits.

Each session starts flat with the same equity (sessions are independent, as the day trader's
are), and a replayed session is cached per (parameters, session): consecutive nights share most
of their window, and the current params are replayed once per night for all candidates.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar

from evaluation.performance import TradeRecord
from observability.history import HistoryDB
from sim.backtest.event_engine import quiet
from sim.engine.exchange import MatchingEngine
from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import session_bounds
from sim.paper_broker import PaperBroker
from trade.calendar import MarketCalendar
from trade.intraday.run_log import RunLog
from trade.intraday.trader import BOOK, IntradayTrader, TraderOptions
from trade.models import Params
from trade.risk import RiskManager
from trade.watchlist import analyze_watchlist

FLATTEN_TIMEOUT_S = 30.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReplayDay:
    day: date
    net_pnl: float
    trades: tuple[TradeRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplayResult:
    days: tuple[ReplayDay, ...]

    @property
    def daily_pnl(self) -> list[tuple[date, float]]:
        return [(d.day, d.net_pnl) for d in self.days]

    @property
    def trades(self) -> list[TradeRecord]:
        return [t for d in self.days for t in d.trades]

    def only(self, days: Sequence[date]) -> ReplayResult:
        wanted = set(days)
        return ReplayResult(tuple(d for d in self.days if d.day in wanted))


class Replayer(Protocol):
    """What validating a parameter change needs from a backtester."""

    def available(self, days: Sequence[date]) -> list[date]:
        """Those of `days` the replay data holds (for at least one symbol), in order."""

    def replay(self, params: Params, sessions: Sequence[date]) -> ReplayResult:
        """Trade `sessions` with `params` as the defaults (per-symbol overrides stay)."""


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    allocation: float
    equity: float = 100_000.0
    daily_loss_pct: float | None = 0.02
    max_open_positions: int | None = None


@dataclass
class EventReplayer:
    """The live trader, session by session, over the paper matching engine (the reference)."""

    source: BarSource
    symbols: Sequence[str]
    config: ReplayConfig
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    _cache: dict[tuple[Any, date], ReplayDay] = field(default_factory=dict, repr=False)
    _calendar: MarketCalendar = field(default_factory=MarketCalendar, repr=False)

    def available(self, days: Sequence[date]) -> list[date]:
        held = {d for s in self.symbols for d in self.source.sessions(s)}
        return [d for d in days if d in held]

    def replay(self, params: Params, sessions: Sequence[date]) -> ReplayResult:
        key = dataclasses.astuple(params)
        missing = [d for d in sessions if (key, d) not in self._cache]
        if missing:
            with quiet():
                days = _run_to_completion(self._run_days(params, missing))
            for day in days:
                self._cache[(key, day.day)] = day
        return ReplayResult(tuple(self._cache[(key, d)] for d in sessions))

    def params_for(self, params: Params, symbol: str) -> Params:
        return params.with_overrides(dict(self.overrides.get(symbol, {})))

    async def _run_days(self, params: Params, days: Sequence[date]) -> list[ReplayDay]:
        return [await self._run_day(params, day) for day in days]

    async def _run_day(self, params: Params, day: date) -> ReplayDay:
        symbols = [s for s in self.symbols if day in self.source.sessions(s)]
        if not symbols:
            return ReplayDay(day, 0.0)
        opened, _ = session_bounds(day)
        replay = MarketReplay(self.source, ReplayClock(opened), day, symbols)
        broker = PaperBroker(MatchingEngine(replay, cash=self.config.equity))
        db = HistoryDB.open(":memory:")
        try:
            own = {s: self.params_for(params, s) for s in symbols}
            kept = [v for v in await analyze_watchlist(broker, tuple(symbols), params=own)
                    if v.kept]
            if not kept:
                return ReplayDay(day, 0.0)
            session = self._calendar.session(day)
            risk = RiskManager.standard(self.config.allocation, len(kept), params=params,
                                        max_open_positions=self.config.max_open_positions,
                                        daily_loss_pct=self.config.daily_loss_pct)
            options = TraderOptions(allocation=self.config.allocation, tick_s=0.0,
                                    health_interval_s=1e9)
            trader = IntradayTrader(broker, db, session, {v.symbol: own[v.symbol] for v in kept},
                                    risk, options, RunLog(day, self.config.allocation, {}))
            await trader.start(warmup={v.symbol: v.bars for v in kept},
                               daily_atr_pct={v.symbol: v.stats["daily_atr_pct"] for v in kept
                                              if "daily_atr_pct" in v.stats})
            run = asyncio.create_task(trader.run())
            now = broker.now()
            while now < session.flatten_at and not run.done():
                now = min(now + timedelta(minutes=1), session.flatten_at)
                await broker.step_to(now)
                for _ in range(10):  # let the trader's order tasks reach the broker this minute
                    await asyncio.sleep(0)
            await asyncio.wait_for(run, timeout=FLATTEN_TIMEOUT_S)
            trades = tuple(TradeRecord.from_row(r) for r in db.trades_on(day, book=BOOK))
            return ReplayDay(day, sum(t.net_pnl for t in trades), trades)
        finally:
            db.close()


def _run_to_completion(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on a fresh event loop: here, or on a helper thread when this thread already
    runs one (a replay is CPU work; the caller's loop waits for it either way)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay") as pool:
        return pool.submit(asyncio.run, work).result()
