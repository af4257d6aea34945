"""One simulator process over three consecutive shared sessions (2019-02-12..14), and a restarted
process keeping its broker state with `--state`."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from ib_async import LimitOrder, MarketOrder, Stock

from sim.market.sessions import NY
from tests.sim.tws.clients import bar_start, connect, qualified, settle

SPY = Stock("SPY", "SMART", "USD")
DAYS = [date(2019, 2, 12), date(2019, 2, 13), date(2019, 2, 14)]


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=NY)


async def test_three_sessions_in_one_process_expire_day_orders_and_carry_gtc_and_positions(gateway_with) -> None:
    gateway = await gateway_with(day=DAYS[0], days=DAYS)
    ib = await connect(gateway)
    try:
        [spy] = await qualified(ib, SPY)
        price = gateway.replay.price_at("SPY", gateway.now())
        ib.placeOrder(spy, MarketOrder("BUY", 10))
        day_order = ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.5, 2)))
        gtc = ib.placeOrder(spy, LimitOrder("SELL", 10, round(price * 1.5, 2), tif="GTC"))
        await settle()
        gateway.step_to(at(DAYS[0], 16, 1))
        await settle()
        assert day_order.orderStatus.status == "Cancelled"
        gateway.step_to(at(DAYS[1], 9, 45))
        await settle()
        assert gateway.replay.day == DAYS[1]
        assert gtc.orderStatus.status == "Submitted"
        assert gateway.engine.positions()["SPY"][0] == 10
        bars = await ib.reqHistoricalDataAsync(spy, "", "2 D", "1 min", "TRADES", True)
        assert [bar_start(b).date() for b in (bars[0], bars[-1])] == DAYS[:2] and len(bars) == 390 + 15
        gateway.step_to(at(DAYS[2], 16, 5))
        await settle()
        assert gateway.replay.day == DAYS[2]
        assert gtc.orderStatus.status == "Submitted"
        daily = await ib.reqHistoricalDataAsync(spy, "", "3 D", "1 day", "TRADES", True)
        assert [b.date for b in daily] == DAYS
        assert gateway.state()["session"]["day"] == "2019-02-14"
    finally:
        ib.disconnect()


async def test_a_running_clock_skips_the_idle_night_when_asked(gateway_with) -> None:
    gateway = await gateway_with(day=DAYS[0], days=DAYS, speed=1.0, skip_nights=True)
    gateway.clock.advance_to(at(DAYS[0], 16, 20))
    gateway.pump()
    assert gateway.now() - at(DAYS[1], 9, 25) < timedelta(seconds=5)
    assert gateway.replay.day == DAYS[1]


async def test_a_restarted_simulator_keeps_positions_gtc_orders_ids_and_executions(gateway_with, tmp_path) -> None:
    path = tmp_path / "sim-state.json"
    first = await gateway_with(day=DAYS[1], state_path=path)
    ib = await connect(first)
    [spy] = await qualified(ib, SPY)
    price = first.replay.price_at("SPY", first.now())
    ib.placeOrder(spy, MarketOrder("BUY", 10, orderRef="keep:1"))
    gtc = ib.placeOrder(spy, LimitOrder("SELL", 10, round(price * 1.5, 2), tif="GTC", orderRef="keep:2"))
    ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.5, 2), orderRef="keep:3"))
    await settle()
    ib.disconnect()
    await first.stop()
    saved = json.loads(path.read_text())
    assert {o["order_ref"] for o in saved["orders"]} == {"keep:1", "keep:2", "keep:3"}

    second = await gateway_with(day=DAYS[2], state_path=path)
    assert second.engine.positions()["SPY"][0] == 10
    ib = await connect(second)
    try:
        [held] = ib.openTrades()
        assert (held.order.orderId, held.order.orderRef) == (gtc.order.orderId, "keep:2")
        assert held.orderStatus.status == "Submitted"
        assert ib.client.getReqId() > gtc.order.orderId  # ids are never handed out twice
        assert [f.execution.orderRef for f in ib.fills()] == ["keep:1"]
        day_order = [o for o in second.engine.orders() if o.order_ref == "keep:3"]
        assert day_order[0].status == "Cancelled"  # the DAY order's session closed meanwhile
    finally:
        ib.disconnect()


async def test_a_restart_mid_session_resumes_the_clock_where_it_stopped(gateway_with, tmp_path) -> None:
    path = tmp_path / "sim-state.json"
    first = await gateway_with(state_path=path)
    first.step(3600)
    ib = await connect(first)
    [spy] = await qualified(ib, SPY)
    ib.placeOrder(spy, MarketOrder("BUY", 3))
    await settle()
    ib.disconnect()
    stopped_at = first.now()
    await first.stop()
    second = await gateway_with(state_path=path)
    assert second.now() == stopped_at
    assert second.engine.positions()["SPY"][0] == 3
