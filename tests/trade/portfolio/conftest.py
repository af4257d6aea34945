"""A weekly market on loopback: the Gateway simulator replaying shared daily data as minute paths
(sim/market/daily_path.py), the real ib_async client through IBBroker, a real history DB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from observability.alerts.notifier import Notifier
from observability.history import HistoryDB
from sim.gateway import GatewaySimulator
from sim.market.daily_path import DailyPathSource
from sim.market.sessions import NY
from tests.paths import DATA
from trade.ib.broker import IBBroker
from trade.ib.connection import IBConnection
from trade.ib.pacing import SlidingWindowPacer
from trade.portfolio.cycle import CycleConfig, WeeklyCycle
from trade.portfolio.universe import PortfolioRules, Universe

MONDAY = date(2019, 2, 11)
SYMBOLS = ("KO", "PEP", "MSFT", "V", "NEE", "COST")
# every name eligible (the filter is tested in test_edge.py; here the cycle's mechanics are)
RULES = PortfolioRules(top_k=6, max_weight=0.2, cash_buffer=0.05, order_timeout_minutes=2.0,
                       min_edge_z=-5.0, hold_edge_z=-5.0)


@dataclass
class WeeklyMarket:
    sim: GatewaySimulator
    broker: IBBroker
    connection: IBConnection
    db: HistoryDB
    tmp: Path

    def cycle(self, *, dry_run: bool = False, rules: PortfolioRules = RULES,
              symbols: Sequence[str] = SYMBOLS, allocation: float = 0.5,
              choose_llm: Callable[[bool], tuple[Any, str]] | None = None,
              fmp: Callable[[], Any] | None = None,
              alerts: Notifier | None = None) -> WeeklyCycle:
        config = CycleConfig(
            universe=Universe(tuple(symbols), rules, "test-universe.json"),
            allocation=allocation, reports_dir=self.tmp / "reports",
            choose_llm=choose_llm or (lambda _open: (None, "no LLM configured")),
            fmp=fmp or (lambda: None), dry_run=dry_run, alerts=alerts or Notifier())
        return WeeklyCycle(self.broker, self.db, config)

    def positions(self) -> dict[str, float]:
        return self.sim.state()["positions"]

    def refs(self) -> list[str]:
        return self.sim.state()["order_refs"]


@pytest.fixture
async def weekly_market(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    made: list[WeeklyMarket] = []

    async def make(day: date = MONDAY, at: time = time(10, 0), speed: float = 600.0,
                   symbols: Sequence[str] = SYMBOLS) -> WeeklyMarket:
        source = DailyPathSource(DATA, symbols, day=day)
        sim = GatewaySimulator.build(source, day, symbols, speed=speed,
                                     start=datetime.combine(day, at, tzinfo=NY), port=0)
        await sim.start()
        connection = IBConnection("127.0.0.1", sim.port, 1, connect_timeout=2)
        await connection.connect()
        # the simulator has no historical-data pacing (unless a test injects a violation)
        connection.history_pacer = SlidingWindowPacer(((1000, 1.0),))
        broker = IBBroker(connection)
        await broker.start()
        market = WeeklyMarket(sim, broker, connection, HistoryDB.open(tmp_path / "h.db"), tmp_path)
        made.append(market)
        return market

    yield make
    for market in made:
        await market.broker.stop()
        await market.connection.close()
        await market.sim.stop()
        market.db.close()
