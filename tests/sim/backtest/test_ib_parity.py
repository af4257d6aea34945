"""The event engine's trader makes the same trades over `PaperBroker` as over the live path:
`IBBroker` (the real ib_async client) against the IB Gateway simulator on loopback.

Both runs use the backtest's day sequence (`sim.backtest.event_engine.trade_day`) with the same
trader options; only the broker differs. The Gateway runs a stepping clock, and after each minute
the test waits until the trader has received that minute's bars (rebuilt from 5-second real-time
bars), its entries have come back filled, its jobs (exit repricing) are done and, when anything
was traded, one more request has made the round trip (the Gateway handles a connection's
messages in order, so every order change sent before it has been applied at that minute). The
client estimates the server's clock from real time (`trade.ib.server_clock`); with a stepping
Gateway its monotonic source is the market clock itself, so `broker.now()` is the Gateway's time.

Set so that the two brokers' known differences cannot decide a trade: the account is read once
at the start (`health_interval_s` unbounded: IB pushes account values when it likes), positions
are 5% of net liquidation (the exposure cap, which marks holdings at the last 5-second bar's
close over IB and at the path's price over the paper broker, never binds), no exit repair
(`exit_grace_s` unbounded). Sessions without holes in the data (the simulator streams 5-second
bars through a missing minute, the CSV replay does not) and one half day.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest

from sim.backtest.config import BacktestConfig
from sim.backtest.event_engine import quiet, trade_day, trade_event_day, trader_options
from sim.backtest.result import DayResult
from sim.market.bar_sources import CsvBarSource
from tests.paths import DATA
from trade.ib.broker import IBBroker
from trade.ib.connection import IBConnection
from trade.ib.pacing import SlidingWindowPacer
from trade.ib.server_clock import ServerClock
from trade.intraday.trader import IntradayTrader, TraderOptions
from trade.models import Params

CONFIG = BacktestConfig(allocation=0.5)
SESSIONS = [
    (date(2026, 2, 2), ("IONQ", "SOXL", "COIN"), 0.001),
    (date(2026, 2, 3), ("LCID", "NVDA", "MRNA"), 0.001),
    (date(2025, 7, 3), ("SPY",), 0.0001),  # the half day: flatten at 12:55
]


def _options() -> TraderOptions:
    return trader_options(CONFIG, health_interval_s=1e9, exit_grace_s=math.inf,
                          entry_grace_s=math.inf)


def _params(atr_min: float) -> Params:
    return Params(atr_timeframe="1 min", atr_min_pct=atr_min, position_pct=0.05, rsi_max=65.0)


async def _over_ib(gateway_factory: Callable[..., Any], day: date, symbols: tuple[str, ...],
                   params: Params) -> DayResult:
    sim = await gateway_factory(day=day, symbols=symbols)
    connection = IBConnection("127.0.0.1", sim.port, 2, connect_timeout=2)
    await connection.connect()
    connection.history_pacer = SlidingWindowPacer(((1000, 1.0),))  # no pacing in the simulator
    broker = IBBroker(connection)
    broker._clock = ServerClock(lambda: sim.clock.now().timestamp())  # the market's clock
    await broker.start()
    applied = [-1]

    async def step(t: datetime) -> None:
        sim.step_to(t)

    async def settle(trader: IntradayTrader) -> None:
        now = sim.clock.now()
        expected = {}
        for symbol in trader.books:
            done = sim.replay.completed_bars(symbol, now)
            if done:
                expected[symbol] = done[-1].start

        def reacted() -> bool:
            return (all(trader.books[s].feed.last_bar_start == start for s, start in expected.items())
                    and all(b.entry is None for b in trader.books.values()))

        for _ in range(200_000):
            await asyncio.sleep(0)
            if not reacted():
                continue
            await trader.jobs.drain(5.0)
            if len(trader.fills.seen) == applied[0]:
                return
            applied[0] = len(trader.fills.seen)
            await broker.executions()  # a round trip behind every order change sent so far
        raise AssertionError(f"the trader did not react to the {now:%H:%M} minute")

    try:
        with quiet():
            return await trade_day(broker, day, symbols, dict.fromkeys(symbols, params), params,
                                   CONFIG, step=step, settle=settle, options=_options())
    finally:
        await broker.stop()
        await connection.close()


@pytest.mark.parametrize(("day", "symbols", "atr_min"), SESSIONS, ids=[str(s[0]) for s in SESSIONS])
async def test_same_trades_over_the_paper_broker_and_over_ib_with_the_gateway(
    gateway_factory: Callable[..., Any], day: date, symbols: tuple[str, ...], atr_min: float
) -> None:
    params = _params(atr_min)
    with quiet():
        paper = await trade_event_day(CsvBarSource(DATA, symbols), day, symbols, params, CONFIG,
                                      options=_options())
    over_ib = await _over_ib(gateway_factory, day, symbols, params)
    assert paper.trades, f"{day}: no trade, the comparison proves nothing"
    assert over_ib.trades == paper.trades
    assert paper.flat_at is not None
    assert over_ib.flat_at == paper.flat_at == paper.flat_at.replace(
        hour=12 if day == date(2025, 7, 3) else 15, minute=55)
