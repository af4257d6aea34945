"""How a run ends when the close comes before the bot saw itself flat (trade/intraday/day_end.py).

Found by the chaos campaign (seed 40 of the 200-seed run): the Gateway went down at 15:54 and
stayed down past the close; the broker-held backstop sold at 15:57, but the bot ended its run at
the close without it, so that execution never reached the DB (IB reports only the current day's
executions) and the run log said the position was still held.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sim.paper_broker import PaperBroker
from tests.sim.handmade_bars import at
from tests.trade.intraday.paper_day import PaperDay, zigzag
from trade.broker import ConnectionState, NotConnected
from trade.intraday.trader import TraderOptions

SPY_ZIGZAG = {"SPY": zigzag(390)}  # enters on the 09:31 bar; never reaches target or stop
OPTIONS = TraderOptions(allocation=0.25, tick_s=0.0, guard_interval_s=0.0, exit_grace_s=0.0,
                        entry_grace_s=5.0, flush_interval_s=0.0, settle_poll_s=0.01)


class DroppingBroker(PaperBroker):
    """A client whose Gateway can go away: while down every request fails and the broker's
    pushes (fills, order states) are lost, as they are for a disconnected API client."""

    down = False

    def drop(self) -> None:
        self.down = True
        for handler in list(self._connection_handlers):
            handler(ConnectionState.LOST)

    def restore(self) -> None:
        self.down = False
        for handler in list(self._connection_handlers):
            handler(ConnectionState.RESTORED)

    def _require_up(self) -> None:
        if self.down:
            raise NotConnected("not connected to IB Gateway/TWS")

    async def positions(self) -> Any:
        self._require_up()
        return await super().positions()

    async def open_orders(self) -> Any:
        self._require_up()
        return await super().open_orders()

    async def executions(self, since: Any = None) -> Any:
        self._require_up()
        return await super().executions(since)

    async def account(self) -> Any:
        self._require_up()
        return await super().account()

    async def cancel(self, order_id: int) -> None:
        self._require_up()
        await super().cancel(order_id)

    async def place_market(self, *args: Any) -> Any:
        self._require_up()
        return await super().place_market(*args)

    def on_execution(self, execution: Any) -> None:
        if not self.down:
            super().on_execution(execution)

    def on_order_status(self, order: Any) -> None:
        if not self.down:
            super().on_order_status(order)


async def _until_settling(day: PaperDay, caplog: pytest.LogCaptureFixture) -> None:
    """Wait (real time, bounded) until the run has reached its after-close settle."""
    for _ in range(400):
        if "the close came with" in caplog.text:
            break
        assert day.task is not None and not day.task.done(), "the run ended at the close"
        await asyncio.sleep(0.05)
    assert day.task is not None and not day.task.done()


async def test_a_gateway_down_over_the_close_still_records_the_backstops_sale(tmp_path, caplog):
    day = PaperDay(tmp_path, SPY_ZIGZAG, options=OPTIONS, broker_cls=DroppingBroker)
    broker = day.broker
    assert isinstance(broker, DroppingBroker)
    trader = await day.start()
    await day.step_to(11, 0)
    held = day.held()["SPY"]
    (backstop,) = day.working("SPY", "MKT")
    await day.step_to(15, 54)
    broker.drop()
    await day.step_to(16, 1)  # the bot's flatten fails until the close; the backstop sells 15:57
    assert day.held() == {}
    await _until_settling(day, caplog)  # the run waits for the broker's word
    broker.restore()
    assert day.task is not None
    log = await asyncio.wait_for(day.task, 20)

    assert trader.books["SPY"].qty == 0 and log.extra["left_open"] == {}
    sold = [e for e in day.db.executions_since(at(day.day, 0, 0), book="intraday")
            if e.order_ref == backstop.order_ref]
    assert [(e.qty, e.commission is not None) for e in sold] == [(held, True)]
    assert not any("still held" in w for w in log.warnings)
    day.close()


async def test_a_position_really_left_open_ends_the_run_once_the_broker_confirms_it(tmp_path):
    """No backstop sold (here: none was placed): after one reconcile past the backstop time the
    run ends at once and says what is held, instead of waiting out its settle time."""
    options = TraderOptions(allocation=0.25, tick_s=0.0, guard_interval_s=0.0, exit_grace_s=0.0,
                            entry_grace_s=5.0, flush_interval_s=0.0, broker_backstop=False,
                            settle_after_close_s=600.0)
    day = PaperDay(tmp_path, SPY_ZIGZAG, options=options, broker_cls=DroppingBroker)
    broker = day.broker
    assert isinstance(broker, DroppingBroker)
    await day.start()
    await day.step_to(15, 54)
    held = day.held()["SPY"]
    broker.drop()
    await day.step_to(16, 1)
    broker.restore()
    assert day.task is not None
    log = await asyncio.wait_for(day.task, 20)
    assert log.extra["left_open"] == {"SPY": held} == day.held()
    day.close()
