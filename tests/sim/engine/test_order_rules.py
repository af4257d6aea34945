"""One test per order rule R1-R8 of sim/engine/exchange.py (IB's bracket, OCA, goodAfterTime and
time-in-force semantics), plus the backstop flatten the day trader builds from them: a market
SELL child in the exits' OCA group with goodAfterTime = flatten time + 2 minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sim.engine.exchange import OrderReject
from tests.sim.engine.support import FLAT, engine_for, go_to, order, step
from tests.sim.handmade_bars import DAY, at

UP = (100.0, 101.5, 99.9, 101.2)  # touches a 101 target
DOWN = (100.0, 100.1, 97.5, 98.0)  # touches a 98 stop
FULL_DAY = [FLAT] * 390


def bracket(engine, qty=10, entry="MKT", lmt=None, target=101.0, stop=98.0, oca="B1", flat_at=None):
    """Parent 1 (held), TP 2, SL 3 (+ backstop MKT 4 with goodAfterTime), all in OCA `oca`."""
    engine.place(order(1, "BUY", qty, entry, lmt=lmt, transmit=False))
    engine.place(order(2, "SELL", qty, "LMT", lmt=target, parent_id=1, oca_group=oca,
                       oca_type=2, transmit=False))
    last = flat_at is None
    engine.place(order(3, "SELL", qty, "STP", aux=stop, parent_id=1, oca_group=oca, oca_type=2,
                       transmit=last))
    if not last:
        engine.place(order(4, "SELL", qty, "MKT", parent_id=1, oca_group=oca, oca_type=2,
                           good_after=flat_at, tif="GTC"))


# -- R1 transmit ---------------------------------------------------------------------------------


def test_r1_untransmitted_parent_is_held_until_its_last_child_transmits():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "MKT", transmit=False))
    engine.place(order(2, "SELL", 10, "LMT", lmt=101.0, parent_id=1, transmit=False))
    assert rec.executions == [] and engine.order(1).why_held == "not transmitted"
    engine.place(order(3, "SELL", 10, "STP", aux=98.0, parent_id=1))
    assert engine.order(1).status == "Filled"
    assert (engine.order(2).status, engine.order(3).status) == ("Submitted", "PreSubmitted")


# -- R2 children never stand alone ----------------------------------------------------------------


def test_r2_child_of_an_unknown_parent_is_rejected_with_10006():
    engine, rec = engine_for([FLAT] * 3)
    with pytest.raises(OrderReject) as err:
        engine.place(order(2, "SELL", 10, "STP", aux=98.0, parent_id=1))
    assert err.value.code == 10006
    assert engine.orders() == [] and rec.executions == []


def test_r2_child_of_a_parent_cancelled_unfilled_is_rejected():
    engine, _ = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0))
    engine.cancel(1)
    with pytest.raises(OrderReject) as err:
        engine.place(order(2, "SELL", 10, "STP", aux=85.0, parent_id=1))
    assert err.value.code == 201 and "parent order 1" in err.value.message
    assert engine.positions() == {}


def test_r2_rejected_parent_leaves_no_working_child_and_no_short():
    engine, rec = engine_for([FLAT, DOWN, DOWN], cash=1_000.0)
    with pytest.raises(OrderReject):  # 201: beyond buying power
        engine.place(order(1, "BUY", 100, "MKT", transmit=False))
    for child in (order(2, "SELL", 100, "LMT", lmt=101.0, parent_id=1, transmit=False),
                  order(3, "SELL", 100, "STP", aux=98.0, parent_id=1)):
        with pytest.raises(OrderReject):
            engine.place(child)
    step(engine, 3)
    assert engine.open_orders() == [] and rec.executions == [] and engine.positions() == {}


# -- R3 children wait for the parent ---------------------------------------------------------------


def test_r3_children_wait_and_never_match_in_the_piece_that_filled_the_parent():
    # the parent LMT fills at 99 inside a bar that also trades down to 97.5: the stop at 98 must
    # not fill in that same piece of the path, only from the next one
    engine, rec = engine_for([FLAT, (100.0, 100.0, 97.5, 99.0), (99.0, 99.2, 98.9, 99.1), DOWN])
    bracket(engine, entry="LMT", lmt=99.0)
    assert engine.order(3).why_held == "waiting for parent fill"
    step(engine, 3)
    assert engine.order(1).status == "Filled"
    assert engine.order(3).status == "PreSubmitted" and engine.order(3).why_held == ""
    step(engine, 1)
    assert engine.order(3).status == "Filled" and engine.positions() == {}


# -- R4 cancelled parents ----------------------------------------------------------------------


def test_r4_cancelling_an_unfilled_parent_cancels_its_children():
    engine, _ = engine_for([FLAT] * 3)
    bracket(engine, entry="LMT", lmt=90.0)
    engine.cancel(1)
    assert [engine.order(i).status for i in (1, 2, 3)] == ["Cancelled"] * 3


def test_r4_day_parent_expiring_unfilled_takes_gtc_children_along():
    engine, _ = engine_for(FULL_DAY)
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0, transmit=False))
    engine.place(order(2, "SELL", 10, "STP", aux=85.0, parent_id=1, tif="GTC"))
    go_to(engine, at(DAY, 16, 0))
    assert (engine.order(1).status, engine.order(2).status) == ("Cancelled", "Cancelled")


def test_r4_parent_cancelled_after_a_partial_fill_activates_children_for_the_filled_shares():
    engine, _ = engine_for([FLAT, (100.0, 100.0, 98.5, 99.0), FLAT, DOWN])
    bracket(engine, entry="LMT", lmt=99.0)
    engine.inject_partial_fill_next(0.4)
    step(engine, 2)
    assert engine.order(1).filled == 4 and engine.order(3).why_held == "waiting for parent fill"
    engine.cancel(1)
    assert engine.order(2).total_qty == 4 and engine.order(3).total_qty == 4
    assert engine.order(2).status == "Submitted" and engine.order(3).status == "PreSubmitted"
    step(engine, 2)
    assert engine.positions() == {}  # the stop sold exactly the 4 bought, never more


def test_r4_ioc_parent_partially_filled_activates_children_for_what_it_bought():
    engine, _ = engine_for([FLAT] * 3)
    engine.inject_partial_fill_next(0.5)
    engine.place(order(1, "BUY", 10, "MKT", tif="IOC", transmit=False))
    engine.place(order(2, "SELL", 10, "STP", aux=98.0, parent_id=1))
    assert (engine.order(1).status, engine.order(1).filled) == ("Cancelled", 5)
    assert (engine.order(2).status, engine.order(2).total_qty) == ("PreSubmitted", 5)


# -- R5 OCA groups -------------------------------------------------------------------------------


def test_r5_oca_type_1_any_execution_cancels_the_others():
    engine, _ = engine_for([FLAT, FLAT, UP])
    engine.place(order(1, "SELL", 10, "LMT", lmt=101.0, oca_group="G", oca_type=1, tif="GTC"))
    engine.place(order(2, "SELL", 10, "STP", aux=95.0, oca_group="G", oca_type=1, tif="GTC"))
    engine.inject_partial_fill_next(0.3)
    step(engine, 3)
    assert engine.order(1).filled == 3
    assert engine.order(2).status == "Cancelled"


def test_r5_oca_type_2_partial_fill_reduces_the_others_by_the_filled_shares():
    engine, _ = engine_for([FLAT, FLAT, UP, FLAT])
    engine.place(order(1, "SELL", 10, "LMT", lmt=101.0, oca_group="G", oca_type=2))
    engine.place(order(2, "SELL", 10, "STP", aux=95.0, oca_group="G", oca_type=2))
    engine.inject_partial_fill_next(0.3)
    step(engine, 3)
    assert (engine.order(1).filled, engine.order(1).remaining) == (3, 7)
    assert (engine.order(2).status, engine.order(2).total_qty) == ("PreSubmitted", 7)


def test_r5_bracket_children_without_a_group_are_an_implicit_oca_group():
    engine, _ = engine_for([FLAT, FLAT, UP])
    engine.place(order(1, "BUY", 10, "MKT", transmit=False))
    engine.place(order(2, "SELL", 10, "LMT", lmt=101.0, parent_id=1, transmit=False))
    engine.place(order(3, "SELL", 10, "STP", aux=98.0, parent_id=1))
    step(engine, 3)
    assert (engine.order(2).status, engine.order(3).status) == ("Filled", "Cancelled")


def test_r5_cancelling_one_member_leaves_the_others_working():
    engine, _ = engine_for([FLAT] * 3)
    engine.place(order(1, "SELL", 10, "LMT", lmt=101.0, oca_group="G", oca_type=2))
    engine.place(order(2, "SELL", 10, "STP", aux=95.0, oca_group="G", oca_type=2))
    engine.cancel(1)
    assert engine.order(2).status == "PreSubmitted"


def test_r5_oca_groups_are_per_account():
    engine, _ = engine_for([FLAT, FLAT, UP])
    engine.add_account("DU2", 100_000.0)
    engine.place(order(1, "SELL", 10, "LMT", lmt=101.0, oca_group="G", oca_type=1))
    engine.place(order(2, "SELL", 10, "STP", aux=95.0, oca_group="G", oca_type=1, account="DU2"))
    step(engine, 3)
    assert (engine.order(1).status, engine.order(2).status) == ("Filled", "PreSubmitted")


# -- R6 goodAfterTime ----------------------------------------------------------------------------


def test_r6_good_after_time_holds_a_market_order_then_fills_at_that_instant():
    rows = [FLAT] * 387 + [(100.0, 100.0, 100.0, 100.0), (103.0, 103.0, 103.0, 103.0), FLAT]
    engine, rec = engine_for(rows)
    engine.place(order(1, "BUY", 10, "MKT", good_after=at(DAY, 15, 57)))
    assert (engine.order(1).status, engine.order(1).why_held) == ("PreSubmitted", "goodAfterTime")
    go_to(engine, at(DAY, 15, 56, 59))
    assert rec.executions == []
    go_to(engine, at(DAY, 15, 59, 30))  # one advance across 15:57
    assert [(e.price, e.time) for e in rec.executions] == [(100.0, at(DAY, 15, 57))]
    assert rec.of(1) == ["PendingSubmit", "PreSubmitted", "Submitted", "Filled"]


def test_r6_good_after_time_outside_the_session_waits_for_the_open():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "MKT", good_after=at(DAY, 8, 0)))  # already passed: active now
    assert rec.executions[0].time == at(DAY, 9, 30)


def test_r6_child_activates_at_its_good_after_time_when_the_parent_filled_earlier():
    engine, rec = engine_for(FULL_DAY)
    bracket(engine, flat_at=at(DAY, 15, 57))
    assert engine.order(1).status == "Filled"
    assert (engine.order(4).status, engine.order(4).why_held) == ("PreSubmitted", "goodAfterTime")
    go_to(engine, at(DAY, 15, 58))
    sells = [e for e in rec.executions if e.order_id == 4]
    assert [(e.shares, e.time) for e in sells] == [(10, at(DAY, 15, 57))]
    assert (engine.order(2).status, engine.order(3).status) == ("Cancelled", "Cancelled")
    assert engine.positions() == {}


def test_r6_child_activates_at_the_parent_fill_when_its_time_passed_first():
    rows = [FLAT] * 10
    engine, rec = engine_for(rows)
    engine.place(order(1, "BUY", 10, "LMT", lmt=99.0, transmit=False))
    engine.place(order(4, "SELL", 10, "MKT", parent_id=1, good_after=at(DAY, 9, 31)))
    go_to(engine, at(DAY, 9, 33))
    assert engine.order(4).why_held == "waiting for parent fill" and rec.executions == []
    engine.place(order(1, "BUY", 10, "LMT", lmt=100.0))  # modify: now marketable, fills
    assert engine.order(1).status == "Filled"
    step(engine, 1)
    assert engine.order(4).status == "Filled" and engine.positions() == {}


def test_r6_backstop_is_cancelled_when_the_take_profit_fills_first():
    engine, _ = engine_for([FLAT, FLAT, UP] + [FLAT] * 387)
    bracket(engine, flat_at=at(DAY, 15, 57))
    go_to(engine, at(DAY, 16, 0))
    assert [engine.order(i).status for i in (2, 3, 4)] == ["Filled", "Cancelled", "Cancelled"]
    assert engine.positions() == {}


def test_r6_backstop_is_reduced_by_a_partial_take_profit_and_sells_only_the_rest():
    engine, rec = engine_for([FLAT, FLAT, UP] + [FLAT] * 387)
    bracket(engine, flat_at=at(DAY, 15, 57))
    engine.inject_partial_fill_next(0.3)
    go_to(engine, at(DAY, 9, 33))
    assert engine.order(2).filled == 3 and engine.order(4).total_qty == 7
    go_to(engine, at(DAY, 15, 58))
    assert [e.shares for e in rec.executions if e.order_id == 4] == [7]
    assert engine.positions() == {} and engine.open_orders() == []


def test_r6_backstop_survives_no_client_and_flattens_at_its_time():
    """Nobody touches the engine between the entry and the close: the broker-held flatten alone
    leaves the account flat, which is what protects a crashed bot."""
    engine, _ = engine_for(FULL_DAY)
    bracket(engine, flat_at=at(DAY, 15, 57), target=120.0, stop=80.0)
    go_to(engine, at(DAY, 16, 30))
    assert engine.positions() == {}


# -- R7 time in force ----------------------------------------------------------------------------


def test_r7_gtd_order_is_cancelled_at_its_good_till_date():
    engine, _ = engine_for(FULL_DAY)
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0, tif="GTD", good_till=at(DAY, 11, 0)))
    go_to(engine, at(DAY, 10, 59))
    assert engine.order(1).status == "Submitted"
    go_to(engine, at(DAY, 11, 1))
    assert engine.order(1).status == "Cancelled" and engine.order(1).why_held == "goodTillDate reached"


def test_r7_ioc_fills_what_it_can_and_cancels_the_rest():
    engine, rec = engine_for([FLAT] * 3)
    engine.place(order(1, "BUY", 10, "LMT", lmt=99.0, tif="IOC"))
    assert engine.order(1).status == "Cancelled" and rec.executions == []
    engine.inject_partial_fill_next(0.5)
    engine.place(order(2, "BUY", 10, "LMT", lmt=100.0, tif="IOC"))
    assert (engine.order(2).filled, engine.order(2).status) == (5, "Cancelled")


def test_r7_fok_fills_completely_or_not_at_all():
    engine, rec = engine_for([FLAT] * 3)
    engine.inject_partial_fill_next(0.5)
    engine.place(order(1, "BUY", 10, "MKT", tif="FOK"))
    assert engine.order(1).status == "Cancelled" and rec.executions == []
    engine.place(order(2, "BUY", 10, "MKT", tif="FOK"))
    assert engine.order(2).filled == 10


def test_r7_day_order_for_a_later_session_survives_todays_close():
    engine, _ = engine_for(FULL_DAY)
    tomorrow = at(DAY, 9, 45) + timedelta(days=1)
    engine.place(order(1, "BUY", 10, "MKT", good_after=tomorrow))
    go_to(engine, at(DAY, 16, 5))
    assert engine.order(1).status == "PreSubmitted"


# -- R8 modify -----------------------------------------------------------------------------------


def test_r8_modifying_good_after_time_to_now_releases_the_order():
    engine, rec = engine_for([FLAT] * 5)
    engine.place(order(1, "BUY", 10, "MKT", good_after=at(DAY, 15, 0)))
    engine.place(order(1, "BUY", 10, "MKT"))
    assert engine.order(1).status == "Filled" and len(rec.executions) == 1


# -- order types beyond MKT/LMT/STP ------------------------------------------------------------


def test_trailing_stop_follows_the_high_and_fills_when_the_path_falls_back():
    rows = [FLAT, (100.0, 102.0, 100.0, 102.0), (102.0, 102.0, 100.5, 100.8), FLAT]
    engine, rec = engine_for(rows)
    engine.place(order(1, "SELL", 10, "TRAIL", aux=1.0))
    assert (engine.order(1).status, engine.order(1).trail_stop) == ("PreSubmitted", 99.0)
    step(engine, 2)
    assert engine.order(1).trail_stop == 101.0 and rec.executions == []
    step(engine, 1)
    [fill] = rec.executions  # the path falls from 102 (at +20 s) to 100.5 (at +40 s): 101 at +33.3 s
    assert fill.price == 101.0 and at(DAY, 9, 32, 33) < fill.time < at(DAY, 9, 32, 34)
    assert rec.of(1) == ["PendingSubmit", "PreSubmitted", "Filled"]


def test_trailing_stop_by_percent():
    rows = [FLAT, (100.0, 102.0, 100.0, 102.0), (102.0, 102.0, 100.5, 100.8), FLAT]
    engine, rec = engine_for(rows)
    engine.place(order(1, "SELL", 10, "TRAIL", trail_percent=1.0))
    step(engine, 3)
    assert rec.executions[0].price == 100.98  # 102 - 1%, on the grid


def test_market_on_close_fills_at_the_sessions_last_price_at_the_close():
    rows = [FLAT] * 389 + [(100.0, 100.4, 99.9, 100.25)]
    engine, rec = engine_for(rows)
    engine.place(order(1, "BUY", 10, "MOC"))
    engine.place(order(2, "BUY", 10, "LOC", lmt=100.0))
    engine.place(order(3, "SELL", 10, "LOC", lmt=100.0))
    assert [engine.order(i).status for i in (1, 2, 3)] == ["Submitted"] * 3
    go_to(engine, at(DAY, 16, 0))
    assert [(e.order_id, e.price, e.time) for e in rec.executions] == [
        (1, 100.25, at(DAY, 16, 0)), (3, 100.25, at(DAY, 16, 0))]
    assert engine.order(2).status == "Cancelled"  # the close was above its limit


def test_market_on_close_after_the_auction_cutoff_is_rejected():
    engine, _ = engine_for(FULL_DAY)
    go_to(engine, at(DAY, 15, 51))
    with pytest.raises(OrderReject, match="before 15:50"):
        engine.place(order(1, "BUY", 10, "MOC"))
