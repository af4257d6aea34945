"""A trading day over the real IB path: IntradayTrader -> IBBroker -> ib_async -> the Gateway
simulator on loopback, with IB's timing (sim/tws/realism.py) switched on.

Where `PaperDay` (paper_day.py) proves the trader's logic over the engine in-process, this harness
puts every IB ordering the bot must not rely on between them: replies that take tens to hundreds
of milliseconds, commission reports trailing their executions, order statuses missing or late,
positions lagging. The simulator runs on the test's own event loop with a running clock (its
delays are real seconds, as IB's are); the test holds and releases the clock as it needs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from observability.history import HistoryDB
from sim.gateway import GatewaySimulator
from sim.market.bar_sources import CsvBarSource
from sim.market.sessions import session_bounds
from sim.tws.realism import Realism
from tests.paths import DATA
from trade.calendar import MarketCalendar
from trade.ib.broker import IBBroker
from trade.ib.connection import IBConnection
from trade.ib.pacing import SlidingWindowPacer
from trade.intraday.run_log import RunLog
from trade.intraday.trader import IntradayTrader, TraderOptions
from trade.models import Params
from trade.risk import RiskManager

FAST_OPTIONS = {"exit_grace_s": 0.5, "positions_check_s": 0.2, "ownership_confirm_s": 0.3,
                "ownership_quiet_s": 1.0, "health_interval_s": 1e9, "progress_every_s": 0.0}


@dataclass
class IBDay:
    """One day of the trader over IB against a simulator with IB's timing."""

    tmp: Path
    day: date
    symbols: Sequence[str]
    realism: Realism = field(default_factory=Realism.default)
    speed: float = 60.0  # market seconds per real second once the clock runs
    start_at: datetime | None = None  # default: 5 minutes before the open
    watchlist: Sequence[str] | None = None
    params: Params = field(default_factory=lambda: Params(atr_min_pct=0.0, atr_timeframe="1 min"))
    options: dict[str, Any] = field(default_factory=dict)
    client_id: int = 2

    def __post_init__(self) -> None:
        opened = session_bounds(self.day)[0]
        self.sim = GatewaySimulator.build(
            CsvBarSource(DATA, self.symbols), self.day, self.symbols, speed=None,
            start=self.start_at or opened - timedelta(minutes=5), port=0, realism=self.realism)
        self.db = HistoryDB.open(self.tmp / "history.db")
        self.session = MarketCalendar().session(self.day)
        self.connection: IBConnection | None = None
        self.broker: IBBroker | None = None
        self.trader: IntradayTrader | None = None
        self.task: asyncio.Task[RunLog] | None = None
        self.run_log = RunLog(self.day, 0.25, {})
        self._started = False
        self._opened: list[tuple[IBConnection, IBBroker]] = []

    async def connect(self, client_id: int | None = None) -> IBBroker:
        if not self._started:
            await self.sim.start()
            self._started = True
        connection = IBConnection("127.0.0.1", self.sim.port, client_id or self.client_id,
                                  connect_timeout=5, backoff_initial=0.1)
        await connection.connect()
        connection.history_pacer = SlidingWindowPacer(((1000, 1.0),))  # no pacing here
        broker = IBBroker(connection)
        await broker.start()
        self.connection, self.broker = connection, broker
        self._opened.append((connection, broker))
        return broker

    def make_trader(self, broker: IBBroker) -> IntradayTrader:
        symbols = list(self.watchlist if self.watchlist is not None else self.symbols)
        options = TraderOptions(allocation=0.25, **{**FAST_OPTIONS, **self.options})
        risk = RiskManager.standard(0.25, len(symbols))
        return IntradayTrader(broker, self.db, self.session, dict.fromkeys(symbols, self.params),
                              risk, options, self.run_log)

    async def start(self) -> IntradayTrader:
        broker = self.broker or await self.connect()
        symbols = list(self.watchlist if self.watchlist is not None else self.symbols)
        await broker.qualify(symbols)
        self.trader = self.make_trader(broker)
        await self.trader.start()
        self.task = asyncio.get_running_loop().create_task(self.trader.run())
        return self.trader

    def run_clock(self, speed: float | None = None) -> None:
        self.sim.set_speed(speed if speed is not None else self.speed)

    def hold_clock(self) -> None:
        self.sim.set_speed(None)

    async def until(self, predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
        """Wait (real time) until `predicate()` holds; False at the timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.02)
        return predicate()

    def truth(self) -> dict[str, Any]:
        """The simulator's ground truth (positions, every order, every execution)."""
        return self.sim.state()

    def held(self, account: str = "DU1234567") -> dict[str, int]:
        positions = self.truth()["accounts"][account]["positions"]
        return {s: int(p[0] if isinstance(p, list | tuple) else p["qty"])
                for s, p in positions.items() if (p[0] if isinstance(p, list | tuple) else p["qty"])}

    def bot_orders(self, symbol: str | None = None, working: bool = True) -> list[dict[str, Any]]:
        return [o for o in self.truth()["orders"] if o["ref"].startswith("DT-")
                and (symbol is None or o["symbol"] == symbol)
                and (not working or o["status"] in ("PreSubmitted", "Submitted", "PendingSubmit"))]

    async def close(self) -> None:
        if self.task is not None and not self.task.done():
            assert self.trader is not None
            self.trader.stop("test over")
            try:
                await asyncio.wait_for(self.task, 30)
            except (TimeoutError, asyncio.CancelledError):
                self.task.cancel()
        for connection, broker in self._opened:
            await broker.stop()
            await connection.close()
        await asyncio.sleep(0.1)  # let the connections' own tasks see the close
        await self.sim.stop()
        self.db.close()
