"""An endpoint that hangs and one that answers 500 change nothing in a day's trades: the live
trader's day (sim/backtest/event_engine.py: the trader's own code over the simulator's matching
engine, in lockstep, so two runs of one day trade exactly alike) with its alerts going to both
makes the same round trips, at the same prices and times, as the same day with no alerts."""

from __future__ import annotations

from datetime import date

from observability.alerts.notifier import Notifier, Policy
from sim.backtest.config import BacktestConfig
from sim.backtest.event_engine import quiet, trade_event_day
from sim.market.bar_sources import CsvBarSource
from tests.fakes.alert_servers import FakeWebhook
from tests.observability.alerts.conftest import endpoint, until
from tests.paths import DATA
from trade.models import Params

DAY = date(2025, 7, 3)  # a half day: SPY trades several round trips
SYMBOLS = ("SPY",)
CONFIG = BacktestConfig(allocation=0.5)
PARAMS = Params(atr_timeframe="1 min", atr_min_pct=0.0001, position_pct=0.05, rsi_max=65.0,
                profit_target=0.002, stop_loss=0.002)


async def test_a_hanging_and_a_failing_endpoint_change_nothing_in_the_days_trades(
        servers, notifiers) -> None:
    source = CsvBarSource(DATA, SYMBOLS)
    with quiet():
        without = await trade_event_day(source, DAY, SYMBOLS, PARAMS, CONFIG)
    hanging = await servers(FakeWebhook)
    hanging.hang()
    failing = await servers(FakeWebhook)
    failing.fail(500, times=1000)
    # no batching, a burst as large as the day: every round trip is a send of its own
    notifier = Notifier([endpoint(hanging), endpoint(failing)],
                        policy=Policy(windows={}, burst=100)).start()
    notifiers.append(notifier)
    with quiet():
        alerted = await trade_event_day(source, DAY, SYMBOLS, PARAMS, CONFIG, alerts=notifier)
    assert len(without.trades) >= 2, "too few trades for the comparison to mean anything"
    assert alerted.trades == without.trades
    assert alerted.flat_at == without.flat_at
    # the alerts were raised on the trading path and really met both endpoints
    assert notifier.stats().notified == len(without.trades)
    await until(lambda: hanging.held == 1 and failing.requests_seen >= 1)
    assert notifier.stats().endpoints[1].failures >= 1
    assert failing.received == [] and hanging.received == []
