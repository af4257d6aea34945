"""PaperBroker.place_limit: the in-process engine takes the same plain limit order as IB."""

from __future__ import annotations

from sim.engine.commissions import ZeroCommission
from sim.engine.exchange import MatchingEngine
from sim.paper_broker import PaperBroker
from tests.sim.handmade_bars import DAY, at, replay_of
from trade.models import Fill, OrderStatus, Side

FLAT = (100.0, 100.0, 100.0, 100.0)


def _broker(rows) -> PaperBroker:
    engine = MatchingEngine(replay_of(rows), slippage_bps=0.0, commissions=ZeroCommission())
    return PaperBroker(engine)


async def test_a_limit_rests_until_the_path_reaches_it_and_fills_at_the_limit():
    broker = _broker([FLAT, FLAT, (100.0, 100.0, 98.5, 98.8), FLAT])
    fills: list[Fill] = []
    broker.add_fill_handler(fills.append)
    await broker.step_to(at(DAY, 9, 31))
    ticket = await broker.place_limit("XYZ", Side.BUY, 10, 99.004, "WK-20240305-XYZ-1")
    assert ticket.limit_price == 99.0  # on the tick grid
    assert ticket.status is OrderStatus.SUBMITTED and fills == []
    await broker.step_to(at(DAY, 9, 32))
    assert fills == []
    await broker.step_to(at(DAY, 9, 33))
    assert [(f.qty, f.price, f.order_ref) for f in fills] == [(10, 99.0, "WK-20240305-XYZ-1")]


async def test_a_day_limit_that_never_trades_expires_at_the_close():
    broker = _broker([FLAT] * 3)
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_limit("XYZ", Side.SELL, 5, 150.0, "WK-20240305-XYZ-2")
    assert len(await broker.open_orders()) == 1
    await broker.run_session()
    assert await broker.open_orders() == []


async def test_a_sub_dollar_limit_keeps_four_decimals():
    rows = [(0.5, 0.5, 0.5, 0.5)] * 3
    broker = PaperBroker(MatchingEngine(replay_of(rows, prev_close=0.5), slippage_bps=0.0,
                                        commissions=ZeroCommission()))
    await broker.step_to(at(DAY, 9, 31))
    ticket = await broker.place_limit("XYZ", Side.BUY, 100, 0.412345, "WK-20240305-XYZ-3")
    assert ticket.limit_price == 0.4123
