"""A trading day in-process: IntradayTrader over PaperBroker on hand-built or real bars.

The trader's `run()` loop runs as a task while the test moves the replay clock minute by minute
(`step`), so every fault a test injects (a cancelled order, a rejected child, a locked DB, a
slow history request) meets the real trader code, the real matching engine and a real SQLite
file. `positions_seen` records the account's position after every step: an invariant check
("never short") needs the whole path, not the end state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from observability.history import HistoryDB
from sim.engine.commissions import ZeroCommission
from sim.engine.exchange import MatchingEngine
from sim.market.clock import ReplayClock
from sim.market.replay import MarketReplay
from sim.paper_broker import PaperBroker
from tests.sim.handmade_bars import DAY, PREV, ListSource, at
from trade.calendar import MarketCalendar
from trade.intraday.run_log import RunLog
from trade.intraday.trader import IntradayTrader, TraderOptions
from trade.models import Params
from trade.risk import RiskManager

Rows = list[tuple[float, float, float, float]]


def ramp(n: int, start: float = 100.0, step: float = 0.05, wick: float = 0.02) -> Rows:
    """A steady up-drift: close above VWAP, RSI high."""
    rows, price = [], start
    for _ in range(n):
        close = price + step
        rows.append((price, close + wick, price - wick, close))
        price = close
    return rows


def zigzag(n: int, base: float = 100.0, amp: float = 0.3) -> Rows:
    """Closes alternating around `base`, ending up: RSI near 50 with closes above VWAP."""
    rows = []
    for i in range(n):
        close = base + (amp if i % 2 else -amp)
        rows.append((base, max(base, close) + 0.05, min(base, close) - 0.05, close))
    return rows


def flat(n: int, price: float) -> Rows:
    return [(price, price + 0.01, price - 0.01, price)] * n


@dataclass
class PaperDay:
    """One simulated day of the trader. `bars`: symbol -> rows from 09:30 of DAY."""

    tmp: Path
    bars: Mapping[str, Rows]
    params: Params = field(default_factory=lambda: Params(atr_min_pct=0.0, atr_timeframe="1 min"))
    options: TraderOptions = field(default_factory=lambda: TraderOptions(
        allocation=0.25, tick_s=0.0, guard_interval_s=0.0, exit_grace_s=0.0, entry_grace_s=5.0,
        flush_interval_s=0.0))
    cash: float = 100_000.0
    day: date = DAY
    warmup: Mapping[str, Rows] | None = None  # PREV's bars (default: a zigzag at the first open)
    broker_cls: type[PaperBroker] = PaperBroker
    symbol_params: Mapping[str, Params] | None = None
    drain_s: float = 2.0  # how long `settle` waits for the trader's jobs
    watchlist: list[str] | None = None  # the symbols the trader trades (default: every one)

    def __post_init__(self) -> None:
        source = ListSource({s: {PREV: list((self.warmup or {}).get(s) or zigzag(30, rows[0][0])),
                                 self.day: list(rows)} for s, rows in self.bars.items()})
        self.replay = MarketReplay(source, ReplayClock(at(self.day, 9, 30)), self.day, list(self.bars))
        self.engine = MatchingEngine(self.replay, cash=self.cash, slippage_bps=0.0,
                                     commissions=ZeroCommission())
        self.broker = self.broker_cls(self.engine)
        self.db = HistoryDB.open(self.tmp / "history.db")
        self.session = MarketCalendar().session(self.day)
        self.run_log = RunLog(self.day, self.options.allocation, {})
        self.trader: IntradayTrader | None = None
        self.task: asyncio.Task[RunLog] | None = None
        self.positions_seen: list[dict[str, int]] = []

    def make_trader(self) -> IntradayTrader:
        symbols = self.watchlist if self.watchlist is not None else list(self.bars)
        params = {s: (self.symbol_params or {}).get(s, self.params) for s in symbols}
        risk = RiskManager.standard(self.options.allocation, len(params))
        return IntradayTrader(self.broker, self.db, self.session, params, risk, self.options,
                              self.run_log)

    async def start(self, **start_kwargs: Any) -> IntradayTrader:
        self.trader = self.make_trader()
        await self.trader.start(**start_kwargs)
        self.task = asyncio.create_task(self.trader.run())
        await self.settle()
        return self.trader

    async def settle(self) -> None:
        """Let the trader's loop and jobs react to what just happened."""
        assert self.trader is not None
        for _ in range(3):
            for _ in range(20):
                await asyncio.sleep(0)
            await self.trader.jobs.drain(self.drain_s)
        self.positions_seen.append(self.held())

    async def step(self, minutes: int = 1) -> None:
        for _ in range(minutes):
            await self.broker.step_to(self.broker.now() + timedelta(minutes=1))
            await self.settle()

    async def step_to(self, hh: int, mm: int) -> None:
        target = at(self.day, hh, mm)
        while self.broker.now() < target:
            await self.step()

    async def finish(self) -> RunLog:
        """Run to the flatten time and let the trader end its day."""
        assert self.task is not None
        while not self.task.done() and self.broker.now() < self.session.close:
            await self.step()
        return await asyncio.wait_for(self.task, timeout=20)

    def held(self) -> dict[str, int]:
        return {s: int(q) for s, (q, _) in self.engine.positions().items() if q}

    def working(self, symbol: str, kind: str | None = None) -> list[Any]:
        return [o for o in self.engine.open_orders() if o.symbol == symbol
                and o.order_ref.startswith("DT-") and (kind is None or o.order_type == kind)]

    def close(self) -> None:
        self.db.close()

