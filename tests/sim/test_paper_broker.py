from __future__ import annotations

from datetime import date

import pytest

from sim.engine.commissions import ZeroCommission
from sim.engine.exchange import MatchingEngine
from sim.market.bar_sources import CsvBarSource
from sim.market.clock import ReplayClock
from sim.market.replay import MarketReplay
from sim.market.synthetic import SyntheticMarket
from sim.paper_broker import PaperBroker
from tests.paths import DATA
from tests.sim.handmade_bars import DAY, at, replay_of
from trade.broker import Broker, BrokerError, OrderRejected, UnknownSymbol
from trade.models import Bar, Fill, OrderStatus, OrderTicket, Side

FLAT = (100.0, 100.0, 100.0, 100.0)
REF = "DT-20240305-XYZ-1-ENTRY"


def broker_for(rows, cash: float = 100_000.0) -> PaperBroker:
    engine = MatchingEngine(replay_of(rows), cash=cash, slippage_bps=0.0,
                            commissions=ZeroCommission())
    return PaperBroker(engine)


def test_paper_broker_implements_the_broker_port():
    assert isinstance(broker_for([FLAT]), Broker)


async def test_scripted_bracket_enters_then_exits_at_the_target():
    rows = [FLAT, FLAT, (100.0, 100.6, 99.8, 100.5), (100.5, 101.2, 100.4, 101.1), FLAT]
    broker = broker_for(rows)
    fills: list[Fill] = []
    statuses: list[OrderTicket] = []
    broker.add_fill_handler(fills.append)
    broker.add_order_status_handler(statuses.append)
    await broker.step_to(at(DAY, 9, 31))
    tickets = await broker.place_bracket("XYZ", 10, None, take_profit=101.0, stop_loss=99.0,
                                         order_ref=REF)
    assert [t.order_ref for t in tickets.legs] == [
        REF, "DT-20240305-XYZ-1-TP", "DT-20240305-XYZ-1-SL",
    ]
    assert tickets.take_profit.oca_group == tickets.stop_loss.oca_group != ""
    await broker.run_session()
    assert [(f.order_ref, f.side, f.price) for f in fills] == [
        (REF, Side.BUY, 100.0), ("DT-20240305-XYZ-1-TP", Side.SELL, 101.0),
    ]
    final = {t.order_id: t.status for t in statuses}
    assert final[tickets.stop_loss.order_id] == OrderStatus.CANCELLED
    assert await broker.positions() == []
    assert (await broker.account()).realized_pnl == pytest.approx(10.0)


async def test_bars_arrive_when_complete_and_not_before():
    broker = broker_for([FLAT] * 5)
    seen: list[tuple[Bar, object]] = []
    await broker.subscribe_bars("XYZ", lambda bar: seen.append((bar, broker.now())))
    await broker.step_to(at(DAY, 9, 33, 30))
    assert [b.start for b, _ in seen] == [at(DAY, 9, 30), at(DAY, 9, 31), at(DAY, 9, 32)]
    assert all(now == bar.end for bar, now in seen)


async def test_subscription_starts_with_the_next_completed_bar():
    broker = broker_for([FLAT] * 5)
    await broker.step_to(at(DAY, 9, 32))
    seen: list[Bar] = []
    await broker.subscribe_bars("XYZ", seen.append)
    await broker.step_to(at(DAY, 9, 33))
    assert [b.start for b in seen] == [at(DAY, 9, 32)]


async def test_market_order_fills_at_the_next_bar_open():
    broker = broker_for([FLAT, (101.0, 101.0, 101.0, 101.0), FLAT])
    await broker.step_to(at(DAY, 9, 31))
    ticket = await broker.place_market("XYZ", Side.BUY, 5, "DT-20240305-XYZ-2-ENTRY")
    assert ticket.status == OrderStatus.FILLED
    assert (await broker.executions())[0].price == 101.0
    assert (await broker.positions())[0].qty == 5


async def test_protective_exits_for_an_existing_position_are_oca():
    broker = broker_for([FLAT, FLAT, (100.0, 100.0, 98.0, 98.5), FLAT])
    await broker.place_market("XYZ", Side.BUY, 10, REF)
    exits = await broker.place_exits("XYZ", 10, 102.0, 99.0, REF)
    target, stop = exits.take_profit, exits.stop_loss
    assert (target.status, stop.status) == (OrderStatus.SUBMITTED, OrderStatus.PRE_SUBMITTED)
    await broker.run_session()
    assert await broker.positions() == []
    assert [o.order_id for o in await broker.open_orders()] == []
    assert (await broker.executions())[-1].order_ref == "DT-20240305-XYZ-1-SL"


@pytest.mark.parametrize("price, filled_leg", [(98.0, "SL"), (103.0, "TP")],
                         ids=["through the stop", "through the target"])
async def test_exits_placed_when_a_leg_is_already_marketable_leave_no_leg_alone(price, filled_leg):
    """Chaos seed 147: a repair placed its exits while the price was already through the stop;
    the stop filled before the backstop was sent, and the backstop, alone in a finished group,
    sold again at flatten + 2 min. The held backstop goes first and the marketable leg last."""
    broker = broker_for([FLAT, (price, price, price, price), (price, price, price, price)])
    await broker.place_market("XYZ", Side.BUY, 10, REF)
    await broker.step_to(at(DAY, 9, 31, 30))
    exits = await broker.place_exits("XYZ", 10, 102.0, 99.0, REF, backstop_at=at(DAY, 15, 57))
    assert exits.backstop is not None
    assert await broker.positions() == []
    assert (await broker.executions())[-1].order_ref == f"DT-20240305-XYZ-1-{filled_leg}"
    assert await broker.open_orders() == [], "no exit may rest for a position that is gone"


async def test_rejected_bracket_raises_order_rejected_with_the_ib_code():
    broker = broker_for([FLAT] * 3, cash=1_000.0)
    with pytest.raises(OrderRejected) as err:
        await broker.place_bracket("XYZ", 1000, None, 101.0, 99.0, REF)
    assert err.value.code == 201
    assert await broker.open_orders() == []


async def test_unknown_symbols_are_reported_not_traded():
    broker = broker_for([FLAT])
    assert await broker.qualify(["XYZ", "NOPE"]) == {"XYZ": True, "NOPE": False}
    with pytest.raises(UnknownSymbol):
        await broker.place_market("NOPE", Side.BUY, 1, "x")


async def test_cancel_of_an_unknown_order_is_a_broker_error():
    broker = broker_for([FLAT])
    with pytest.raises(BrokerError) as err:
        await broker.cancel(99)
    assert err.value.code == 10147


async def test_cancel_all_leaves_no_working_orders():
    broker = broker_for([FLAT] * 3)
    await broker.place_bracket("XYZ", 10, 95.0, 101.0, 90.0, REF)
    await broker.cancel_all()
    assert await broker.open_orders() == []


async def test_history_warms_up_on_the_previous_session():
    days = [date(2025, 7, 1), date(2025, 7, 2)]
    market = SyntheticMarket(3, ["AAA"], days)
    replay = MarketReplay(market, ReplayClock(at(days[1], 9, 30)), days[1], ["AAA"])
    broker = PaperBroker(MatchingEngine(replay))
    bars = await broker.history("AAA", "1 D")
    assert len(bars) == 390 and bars[0].start.date() == days[0]


async def test_full_real_session_replays_every_bar_once():
    day = date(2019, 2, 13)
    replay = MarketReplay(CsvBarSource(DATA), ReplayClock(at(day, 9, 30)), day, ["SPY", "AAPL"])
    broker = PaperBroker(MatchingEngine(replay))
    counts = {"SPY": 0, "AAPL": 0}
    for symbol in counts:
        await broker.subscribe_bars(symbol, lambda bar: counts.__setitem__(bar.symbol, counts[bar.symbol] + 1))
    await broker.run_session()
    assert counts == {"SPY": len(replay.bars("SPY")), "AAPL": len(replay.bars("AAPL"))}
