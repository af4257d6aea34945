from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from sim.engine.commissions import IBFixedCommission, IBTieredCommission, ZeroCommission
from sim.engine.exchange import Execution, MatchingEngine, OrderReject, SimOrder
from sim.market.bar_sources import CsvBarSource
from sim.market.clock import ReplayClock
from sim.market.replay import MarketReplay
from tests.paths import DATA
from tests.sim.engine.support import FLAT, engine_for, order, step
from tests.sim.handmade_bars import DAY, ListSource, at, replay_of

# ------------------------------------------------------------------------------ order types


def test_market_order_fills_at_placement_with_adverse_slippage():
    engine, rec = engine_for([FLAT] * 5, slippage_bps=10.0)
    engine.place(order(1, "BUY", 10, "MKT"))
    assert rec.executions[0].price == pytest.approx(100.1)
    assert rec.of(1) == ["PendingSubmit", "Submitted", "Filled"]


def test_market_sell_slips_down():
    engine, rec = engine_for([FLAT] * 5, slippage_bps=10.0)
    engine.place(order(1, "SELL", 10, "MKT"))
    assert rec.executions[0].price == pytest.approx(99.9)


def test_limit_order_rests_submitted_then_fills_at_the_limit():
    engine, rec = engine_for([FLAT, (100.0, 100.5, 98.0, 99.0), FLAT])
    engine.place(order(1, "BUY", 10, "LMT", lmt=99.0))
    assert rec.of(1) == ["PendingSubmit", "Submitted"]
    step(engine, 1)
    assert not rec.executions
    step(engine, 1)
    assert rec.executions[0].price == 99.0
    assert engine.order(1).status == "Filled"


def test_limit_fills_at_a_better_gap_open():
    engine, rec = engine_for([FLAT, (97.0, 97.5, 96.0, 97.0)])
    engine.place(order(1, "BUY", 10, "LMT", lmt=99.0))
    step(engine, 2)
    assert rec.executions[0].price == 97.0


def test_stop_waits_presubmitted_then_fills_at_the_stop():
    engine, rec = engine_for([FLAT, (100.0, 100.0, 98.0, 99.0)], slippage_bps=0.0)
    engine.place(order(1, "SELL", 10, "STP", aux=98.5))
    assert rec.of(1) == ["PendingSubmit", "PreSubmitted"]
    step(engine, 2)
    assert rec.executions[0].price == 98.5
    assert rec.of(1)[-1] == "Filled"


def test_stop_gapped_through_fills_at_the_worse_open():
    engine, rec = engine_for([FLAT, (95.0, 96.0, 94.0, 95.5)])
    engine.place(order(1, "SELL", 10, "STP", aux=98.5))
    step(engine, 2)
    assert rec.executions[0].price == 95.0


def test_buy_stop_triggers_on_the_way_up():
    engine, rec = engine_for([FLAT, (100.0, 103.0, 99.5, 102.0)])
    engine.place(order(1, "BUY", 10, "STP", aux=101.0))
    step(engine, 2)
    assert rec.executions[0].price == 101.0


def test_stop_limit_becomes_a_limit_when_triggered():
    engine, rec = engine_for([FLAT, (100.0, 100.0, 98.0, 98.4), (98.4, 99.0, 98.3, 98.8)])
    engine.place(order(1, "SELL", 10, "STP LMT", lmt=98.5, aux=99.0))
    step(engine, 2)
    assert rec.executions[0].price == 99.0


def test_stop_limit_gapped_past_its_limit_rests_unfilled():
    engine, rec = engine_for([FLAT, (95.0, 96.0, 94.0, 95.5), (95.5, 96.0, 95.0, 95.8)])
    engine.place(order(1, "SELL", 10, "STP LMT", lmt=98.0, aux=99.0))
    step(engine, 3)
    assert not rec.executions
    assert engine.order(1).status == "Submitted"


def test_day_order_expires_at_the_session_close():
    engine, rec = engine_for([FLAT] * 390)
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0))
    engine.replay.clock.advance_to(at(DAY, 16, 0))
    engine.advance(engine.replay.clock.now())
    assert engine.order(1).status == "Cancelled"


def test_gtc_order_survives_the_session_close():
    engine, rec = engine_for([FLAT] * 390)
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0, tif="GTC"))
    engine.replay.clock.advance_to(at(DAY, 16, 5))
    engine.advance(engine.replay.clock.now())
    assert engine.order(1).status == "Submitted"
    assert engine.open_orders() == [engine.order(1)]


# ---------------------------------------------------------------------- brackets and OCA


def place_bracket(engine: MatchingEngine, entry: SimOrder, target: float, stop: float) -> None:
    entry.transmit = False
    engine.place(entry)
    engine.place(order(2, "SELL", entry.total_qty, "LMT", lmt=target, parent_id=1,
                       oca_group="B1", transmit=False))
    engine.place(order(3, "SELL", entry.total_qty, "STP", aux=stop, parent_id=1, oca_group="B1"))


def test_bracket_children_wait_presubmitted_until_the_parent_fills():
    engine, rec = engine_for([FLAT, (100.0, 100.0, 98.0, 99.0), (99.0, 99.2, 98.9, 99.1)])
    place_bracket(engine, order(1, "BUY", 10, "LMT", lmt=99.0), target=101.0, stop=97.0)
    assert rec.of(1)[-1] == "Submitted"
    assert rec.of(2)[-1] == "PreSubmitted" and rec.of(3)[-1] == "PreSubmitted"
    step(engine, 2)
    assert engine.order(1).status == "Filled"
    assert engine.order(2).status == "Submitted"
    assert engine.order(3).status == "PreSubmitted"


def test_untransmitted_orders_are_held():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "MKT", transmit=False))
    assert rec.of(1) == ["PendingSubmit", "PreSubmitted"]
    assert not rec.executions


def test_gap_through_the_stop_fills_at_the_open_and_cancels_the_target():
    engine, rec = engine_for([FLAT, FLAT, (95.0, 96.0, 94.0, 95.0)])
    place_bracket(engine, order(1, "BUY", 10, "MKT"), target=101.0, stop=98.0)
    step(engine, 3)
    exits = [e for e in rec.executions if e.order_id != 1]
    assert [(e.order_id, e.price) for e in exits] == [(3, 95.0)]
    assert engine.order(2).status == "Cancelled"
    assert engine.positions() == {}


def test_when_both_exits_could_trigger_in_one_interval_the_stop_wins():
    engine, rec = engine_for([FLAT, FLAT, (100.0, 102.0, 97.0, 100.0)])
    place_bracket(engine, order(1, "BUY", 10, "MKT"), target=101.0, stop=98.0)
    step(engine, 1)
    step(engine, 2)
    assert [e.order_id for e in rec.executions] == [1, 3]
    assert engine.order(2).status == "Cancelled"


def test_target_fills_and_cancels_the_stop():
    engine, rec = engine_for([FLAT, FLAT, (100.0, 101.5, 99.5, 101.2)])
    place_bracket(engine, order(1, "BUY", 10, "MKT"), target=101.0, stop=98.0)
    step(engine, 3)
    assert [(e.order_id, e.price) for e in rec.executions] == [(1, 100.0), (2, 101.0)]
    assert rec.of(3)[-1] == "Cancelled"


def test_children_of_a_bracket_are_an_implicit_oca_group():
    engine, rec = engine_for([FLAT, FLAT, (100.0, 101.5, 99.5, 101.2)])
    engine.place(order(1, "BUY", 10, "MKT", transmit=False))
    engine.place(order(2, "SELL", 10, "LMT", lmt=101.0, parent_id=1, transmit=False))
    engine.place(order(3, "SELL", 10, "STP", aux=98.0, parent_id=1))
    step(engine, 3)
    assert engine.order(3).status == "Cancelled"


def test_partial_fill_of_an_exit_reduces_its_oca_sibling():
    engine, rec = engine_for([FLAT, FLAT, (100.0, 101.5, 99.5, 101.2), FLAT])
    place_bracket(engine, order(1, "BUY", 10, "MKT"), target=101.0, stop=98.0)
    step(engine, 1)
    engine.inject_partial_fill_next(0.4)
    step(engine, 2)
    assert (engine.order(2).filled, engine.order(2).remaining) == (4, 6)
    assert (engine.order(3).total_qty, engine.order(3).remaining) == (6, 6)
    assert engine.order(3).status == "PreSubmitted"


def test_partially_filled_market_order_completes_on_the_next_advance():
    engine, rec = engine_for([FLAT] * 3)
    engine.inject_partial_fill_next(0.5)
    engine.place(order(1, "BUY", 10, "MKT"))
    assert engine.order(1).filled == 5 and engine.order(1).status == "Submitted"
    step(engine, 1)
    assert engine.order(1).status == "Filled"
    assert [e.shares for e in rec.executions] == [5, 5]
    assert rec.executions[1].cum_qty == 10


# ------------------------------------------------------------------ cancel, modify, reject


def test_cancel_reports_cancelled():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0))
    engine.cancel(1)
    assert rec.of(1)[-1] == "Cancelled"
    assert engine.open_orders() == []


def test_cancel_of_an_unknown_id_is_error_10147():
    engine, _ = engine_for([FLAT])
    with pytest.raises(OrderReject) as err:
        engine.cancel(42)
    assert err.value.code == 10147


def test_cancel_of_a_filled_order_is_refused():
    engine, _ = engine_for([FLAT])
    engine.place(order(1, "BUY", 10, "MKT"))
    with pytest.raises(OrderReject) as err:
        engine.cancel(1)
    assert err.value.code == 10148


def test_cancelling_a_bracket_parent_cancels_its_children():
    engine, rec = engine_for([FLAT] * 3)
    place_bracket(engine, order(1, "BUY", 10, "LMT", lmt=90.0), target=101.0, stop=85.0)
    engine.cancel(1)
    assert [engine.order(i).status for i in (1, 2, 3)] == ["Cancelled"] * 3


def test_global_cancel_cancels_every_working_order():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0))
    engine.place(order(2, "SELL", 10, "LMT", lmt=110.0, tif="GTC"))
    engine.cancel_all()
    assert engine.open_orders() == []
    assert {engine.order(1).status, engine.order(2).status} == {"Cancelled"}


def test_replacing_a_working_order_modifies_its_price():
    engine, rec = engine_for([FLAT, (100.0, 100.2, 99.4, 100.0)])
    engine.place(order(1, "BUY", 10, "LMT", lmt=99.0))
    engine.place(order(1, "BUY", 10, "LMT", lmt=99.5))
    step(engine, 2)
    assert rec.executions[0].price == 99.5
    assert len(engine.orders()) == 1


def test_reusing_the_id_of_a_finished_order_is_error_103():
    engine, _ = engine_for([FLAT])
    engine.place(order(1, "BUY", 10, "MKT"))
    with pytest.raises(OrderReject) as err:
        engine.place(order(1, "BUY", 10, "MKT"))
    assert err.value.code == 103


def test_order_beyond_buying_power_is_rejected_with_201():
    engine, rec = engine_for([FLAT], cash=10_000.0)
    with pytest.raises(OrderReject) as err:
        engine.place(order(1, "BUY", 500, "MKT"))
    assert err.value.code == 201
    assert "buying power" in err.value.message
    assert engine.orders() == [] and rec.statuses == []


def test_open_orders_count_against_buying_power():
    engine, _ = engine_for([FLAT], cash=10_000.0)
    engine.place(order(1, "BUY", 300, "LMT", lmt=99.0))
    with pytest.raises(OrderReject):
        engine.place(order(2, "BUY", 200, "LMT", lmt=99.0))


def test_exit_orders_are_not_checked_against_buying_power():
    engine, _ = engine_for([FLAT], cash=10_000.0)
    engine.place(order(1, "BUY", 390, "MKT"))
    engine.place(order(2, "SELL", 390, "STP", aux=90.0))
    assert engine.order(2).status == "PreSubmitted"


def test_unknown_symbol_is_error_200():
    engine, _ = engine_for([FLAT])
    with pytest.raises(OrderReject) as err:
        engine.place(SimOrder(1, 0, "", "NOPE", "BUY", 1, "MKT"))
    assert err.value.code == 200


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (order(1, "BUY", 0, "MKT"), "quantity"),
        (order(1, "BUY", 1, "LMT"), "limit price"),
        (order(1, "SELL", 1, "STP"), "stop price"),
        (order(1, "HOLD", 1, "MKT"), "action"),
        (order(1, "BUY", 1, "MKT", tif="OPG"), "time in force"),
    ],
)
def test_invalid_orders_are_rejected_naming_the_field(bad, field):
    engine, _ = engine_for([FLAT])
    with pytest.raises(OrderReject, match=field) as err:
        engine.place(bad)
    assert err.value.code == 201


# --------------------------------------------------------------- account and bookkeeping


def test_execution_ids_are_ib_style_and_unique():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "MKT"))
    engine.place(order(2, "SELL", 10, "MKT"))
    ids = [e.exec_id for e in rec.executions]
    assert len(set(ids)) == 2
    assert all(re.fullmatch(r"[0-9a-f]{8}\.[0-9a-f]{8}\.01\.01", i) for i in ids)


def test_execution_ids_never_repeat_across_engines():
    """A history DB dedupes fills by exec id: a fresh engine (a new simulator run on the same
    day) must not hand out an id an earlier one used."""
    ids: set[str] = set()
    for _ in range(3):
        engine, rec = engine_for([FLAT] * 3)
        engine.place(order(1, "BUY", 10, "MKT"))
        ids.update(e.exec_id for e in rec.executions)
    assert len(ids) == 3


def test_closing_fill_reports_realized_pnl_net_of_commissions():
    engine, rec = engine_for([FLAT, FLAT, (100.0, 102.0, 100.0, 102.0)],
                             commissions=IBFixedCommission())
    engine.place(order(1, "BUY", 100, "MKT"))
    step(engine, 2)
    engine.place(order(2, "SELL", 100, "MKT"))
    opening, closing = rec.executions
    assert opening.realized_pnl is None
    assert closing.realized_pnl == pytest.approx(100 * (closing.price - 100.0) - 2.0)
    assert engine.account_values()["RealizedPnL"] == pytest.approx(closing.realized_pnl)


def test_short_position_profit_when_price_falls():
    engine, rec = engine_for([FLAT, FLAT, (100.0, 100.0, 95.0, 95.0)])
    engine.place(order(1, "SELL", 10, "MKT"))
    assert engine.positions() == {"XYZ": (-10, 100.0)}
    step(engine, 3)
    engine.place(order(2, "BUY", 10, "MKT"))
    assert rec.executions[-1].realized_pnl == pytest.approx(50.0)


def test_account_values_mark_positions_to_the_path():
    engine, _ = engine_for([FLAT, FLAT, (100.0, 110.0, 100.0, 110.0), (110.0,) * 4])
    engine.place(order(1, "BUY", 10, "MKT"))
    step(engine, 3)
    values = engine.account_values()
    assert values["GrossPositionValue"] == pytest.approx(1100.0)
    assert values["UnrealizedPnL"] == pytest.approx(100.0)
    assert values["NetLiquidation"] == pytest.approx(values["TotalCashValue"] + 1100.0)
    assert values["BuyingPower"] == pytest.approx(4 * values["NetLiquidation"] - 1100.0)


def test_tiered_commission_has_a_minimum_and_a_one_percent_cap():
    tiered = IBTieredCommission()
    assert tiered.commission(10, 100.0, "BUY", False) == pytest.approx(0.35 + 10 * 0.0002 + 0.35 * 0.000175)
    assert tiered.commission(1000, 100.0, "BUY", False) == pytest.approx(3.5 + 0.2 + 3.5 * 0.000175)
    assert tiered.commission(1000, 0.10, "BUY", False) == pytest.approx(1.0 + 0.2 + 0.000175)


def test_tiered_commission_adds_sec_and_taf_fees_on_sales():
    tiered = IBTieredCommission()
    extra = tiered.commission(100, 50.0, "SELL", False) - tiered.commission(100, 50.0, "BUY", False)
    assert extra == pytest.approx(5000 * 27.80 / 1_000_000 + 100 * 0.000166)


def test_fixed_commission_has_a_one_dollar_minimum():
    fixed = IBFixedCommission()
    assert fixed.commission(10, 100.0, "BUY", True) == 1.0
    assert fixed.commission(1000, 100.0, "BUY", True) == 5.0


def assert_reconciled(engine: MatchingEngine, initial_cash: float) -> None:
    """Cash and positions equal what the executions and their commissions imply."""
    fills = engine.executions()
    signed: dict[str, float] = {}
    for f in fills:
        signed[f.symbol] = signed.get(f.symbol, 0.0) + (f.shares if f.side == "BOT" else -f.shares)
    cash = initial_cash - sum(
        (f.shares if f.side == "BOT" else -f.shares) * f.price + f.commission for f in fills
    )
    assert engine.cash == pytest.approx(cash, abs=1e-6)
    assert {s: q for s, q in signed.items() if q} == {
        s: q for s, (q, _) in engine.positions().items()
    }


def test_cash_and_positions_reconcile_with_fills_and_commissions_on_a_real_session():
    day = date(2019, 2, 12)
    symbols = ["SPY", "AAPL", "MSFT"]
    replay = MarketReplay(CsvBarSource(DATA), ReplayClock(at(day, 9, 30)), day, symbols)
    engine = MatchingEngine(replay, cash=250_000.0, slippage_bps=1.0)
    next_id = 1
    for minute in range(1, 385, 7):
        replay.clock.advance_to(at(day, 9, 30) + timedelta(minutes=minute, seconds=13))
        engine.advance(replay.clock.now())
        symbol = symbols[minute % 3]
        price = replay.price_at(symbol, replay.clock.now())
        assert price is not None
        qty = engine.positions().get(symbol, (0.0, 0.0))[0]
        if qty <= 0:
            size = 10 + minute % 13
            engine.place(SimOrder(next_id, 0, "", symbol, "BUY", size, "MKT", transmit=False))
            engine.place(SimOrder(next_id + 1, 0, "", symbol, "SELL", size, "LMT",
                                  round(price * 1.002, 2), parent_id=next_id, transmit=False))
            engine.place(SimOrder(next_id + 2, 0, "", symbol, "SELL", size, "STP",
                                  None, round(price * 0.998, 2), parent_id=next_id))
            next_id += 3
        elif minute % 2:
            engine.inject_partial_fill_next(0.5)
    replay.clock.advance_to(at(day, 15, 58))
    engine.advance(replay.clock.now())
    assert len(engine.executions()) > 40
    assert_reconciled(engine, 250_000.0)

    engine.cancel_all()
    for symbol, (qty, _) in engine.positions().items():
        engine.place(SimOrder(next_id, 0, "", symbol, "SELL" if qty > 0 else "BUY", abs(qty), "MKT"))
        next_id += 1
    replay.clock.advance_to(at(day, 16, 0))
    engine.advance(replay.clock.now())
    assert_reconciled(engine, 250_000.0)
    assert engine.positions() == {}
    realized = sum(f.realized_pnl or 0.0 for f in engine.executions())
    assert engine.cash - 250_000.0 == pytest.approx(realized, abs=1e-6)


# ------------------------------------------------------------------- timing and sessions


def test_market_order_before_the_open_fills_at_the_opening_print():
    replay = replay_of([(101.0, 101.5, 100.5, 101.2)] + [FLAT] * 3, start=at(DAY, 9, 0))
    engine = MatchingEngine(replay, slippage_bps=0.0, commissions=ZeroCommission())
    engine.place(order(1, "BUY", 10, "MKT"))
    placed = engine.order(1)
    assert placed is not None and placed.status == "PreSubmitted"
    step(engine, 31)
    assert engine.executions()[0].price == 101.0
    assert engine.executions()[0].time == at(DAY, 9, 30)


def test_stop_placed_beyond_the_market_triggers_at_once():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "SELL", 10, "STP", aux=101.0))
    assert rec.executions[0].price == 100.0


def test_modifying_a_limit_through_the_market_fills_it_at_once():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "LMT", lmt=99.0))
    engine.place(order(1, "BUY", 10, "LMT", lmt=100.5))
    assert rec.executions[0].price == 100.0
    assert rec.of(1)[-1] == "Filled"


def test_execution_is_reported_before_the_filled_status():
    events: list[str] = []

    class Listener:
        def on_order_status(self, o: SimOrder) -> None:
            events.append(o.status)

        def on_open_order(self, o: SimOrder) -> None:
            pass

        def on_execution(self, e: Execution) -> None:
            events.append("exec")

    engine, _ = engine_for([FLAT])
    engine.add_listener(Listener())
    engine.place(order(1, "BUY", 10, "MKT"))
    assert events == ["PendingSubmit", "Submitted", "exec", "Filled"]


def test_gtc_orders_carry_into_the_next_session():
    engine, rec = engine_for([FLAT] * 390)
    engine.place(order(1, "BUY", 10, "LMT", lmt=95.0, tif="GTC"))
    engine.replay.clock.advance_to(at(DAY, 16, 0))
    engine.advance(engine.replay.clock.now())
    next_day = DAY + timedelta(days=1)
    source = ListSource({"XYZ": {DAY: [FLAT], next_day: [(96.0, 96.0, 94.0, 95.5)] * 3}})
    engine.set_replay(MarketReplay(source, ReplayClock(at(next_day, 9, 30)), next_day, ["XYZ"]))
    step(engine, 2)
    assert rec.executions[0].price == 95.0


def test_open_orders_lists_every_working_order_in_arrival_order_and_no_finished_one() -> None:
    """The book's working-order scan skips finished orders without changing what is listed."""
    from sim.engine.book import OrderBook
    from sim.engine.orders import SimOrder

    book = OrderBook()
    orders = [SimOrder(i, 0, "DU1", "SPY", "BUY", 1.0, "LMT", 1.0, status="Submitted")
              for i in (5, 2, 9, 7)]
    for placed in orders:
        book.add(placed)
    assert book.working() == orders
    orders[1].status = "Filled"
    orders[3].status = "Cancelled"
    assert book.working() == [orders[0], orders[2]]
    book.add(later := SimOrder(1, 0, "DU1", "SPY", "SELL", 1.0, "MKT", status="PreSubmitted"))
    assert book.working() == [orders[0], orders[2], later]
    assert [o.order_id for o in book.orders.values() if o.is_working] == [5, 9, 1]
