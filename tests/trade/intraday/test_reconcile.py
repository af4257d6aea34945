"""plan_reconcile and the protection rule: the bot's own lots only (never an adoption), one exact
OCA group of exits per lot (anything else is cancelled and replaced, never added to), orphaned
exits, oversold lots, foreign shares."""

from __future__ import annotations

from trade.intraday.protection import assess
from trade.intraday.reconcile import plan_reconcile
from trade.models import OrderStatus, OrderTicket, OrderType, Position, Side

_ids = iter(range(100, 100_000))
OCA = "OCA-DT-20250703-SPY-1-X"


def stop(symbol: str, qty: int, *, seq: int = 1, bot: str = "DT", filled: int = 0,
         parent: int = 0, status: OrderStatus = OrderStatus.SUBMITTED, oca: str = OCA) -> OrderTicket:
    return OrderTicket(next(_ids), f"{bot}-20250703-{symbol}-{seq}-SL", symbol, Side.SELL, qty,
                       OrderType.STOP, status, stop_price=99.0, parent_id=parent, filled=filled,
                       oca_group=oca)


def target(symbol: str, qty: int, *, seq: int = 1, parent: int = 0, filled: int = 0,
           oca: str = OCA) -> OrderTicket:
    return OrderTicket(next(_ids), f"DT-20250703-{symbol}-{seq}-TP", symbol, Side.SELL, qty,
                       OrderType.LIMIT, OrderStatus.SUBMITTED, limit_price=101.0, parent_id=parent,
                       filled=filled, oca_group=oca)


def backstop(symbol: str, qty: int, *, seq: int = 1, oca: str = OCA) -> OrderTicket:
    return OrderTicket(next(_ids), f"DT-20250703-{symbol}-{seq}-BKS", symbol, Side.SELL, qty,
                       OrderType.MARKET, OrderStatus.PRE_SUBMITTED, oca_group=oca)


def entry(symbol: str, qty: int, *, seq: int = 1) -> OrderTicket:
    return OrderTicket(next(_ids), f"DT-20250703-{symbol}-{seq}-ENTRY", symbol, Side.BUY, qty,
                       OrderType.MARKET, OrderStatus.SUBMITTED)


def plan(positions, orders=(), own=None, **kwargs):
    return plan_reconcile("DT", positions, list(orders), own or {}, **kwargs)


def ids(orders) -> set[int]:
    return {o.order_id for o in orders}


def repaired(result) -> dict[str, set[int]]:
    """symbol -> ids of the exits the plan cancels before placing one fresh group."""
    return {r.symbol: {o.order_id for o in r.protection.cancel} for r in result.repairs}


# -- the protection rule ---------------------------------------------------------------------------

def test_one_group_of_target_and_stop_for_the_held_qty_is_protection():
    assert assess(10, [stop("SPY", 10), target("SPY", 10)], need_backstop=False).ok


def test_the_backstop_is_part_of_the_group_while_it_is_required():
    group = [stop("SPY", 10), target("SPY", 10)]
    assert not assess(10, group, need_backstop=True).ok
    assert assess(10, [*group, backstop("SPY", 10)], need_backstop=True).ok


def test_a_target_alone_is_not_protection_and_is_replaced():
    tp = target("SPY", 10)
    verdict = assess(10, [tp], need_backstop=False)
    assert not verdict.ok and verdict.cancel == (tp,)


def test_two_groups_for_the_same_shares_are_replaced_not_kept():
    """Issue 16 item 1: two resting take-profits for the full size is how a bot goes short."""
    first = [stop("SPY", 10), target("SPY", 10)]
    second = [stop("SPY", 10, seq=2, oca="OCA-2"), target("SPY", 10, seq=2, oca="OCA-2")]
    verdict = assess(10, [*first, *second], need_backstop=False)
    assert not verdict.ok and "2 OCA groups" in verdict.reason
    assert ids(verdict.cancel) == ids([*first, *second])


def test_a_leg_for_the_wrong_quantity_is_replaced():
    verdict = assess(10, [stop("SPY", 6), target("SPY", 10)], need_backstop=False)
    assert not verdict.ok and "wrong quantity" in verdict.reason


def test_a_complete_group_above_what_is_held_is_shrunk_in_place_never_raised():
    oversized = assess(6, [stop("SPY", 10), target("SPY", 10)], need_backstop=False)
    assert not oversized.ok and oversized.shrink
    assert not assess(10, [stop("SPY", 6), target("SPY", 10)], need_backstop=False).shrink
    two_groups = [stop("SPY", 10), target("SPY", 10), stop("SPY", 10, seq=2, oca="other")]
    assert not assess(6, two_groups, need_backstop=False).shrink


def test_after_a_partial_target_fill_the_reduced_group_still_protects_what_is_left():
    # IB "reduce with block": the take-profit filled 4 of 10, the stop was cut to 6
    assert assess(6, [target("SPY", 10, filled=4), stop("SPY", 6)], need_backstop=False).ok


def test_exits_with_nothing_held_are_cancelled():
    legs = [stop("SPY", 10), target("SPY", 10)]
    verdict = assess(0, legs, need_backstop=False)
    assert not verdict.ok and ids(verdict.cancel) == ids(legs)


# -- the plan ------------------------------------------------------------------------------------

def test_owned_position_with_its_group_needs_nothing():
    result = plan([Position("SPY", 10, 100.0)], [stop("SPY", 10), target("SPY", 10)], own={"SPY": 10})
    assert result.held == {"SPY": 10}
    assert result.repairs == [] and result.stale_orders == []


def test_owned_position_without_exits_is_repaired():
    result = plan([Position("SPY", 10, 100.0)], own={"SPY": 10})
    assert repaired(result) == {"SPY": set()}


def test_a_position_with_only_its_take_profit_left_gets_it_replaced():
    """The stop was rejected or cancelled by hand: the old target must go before a new group."""
    tp = target("SPY", 10)
    result = plan([Position("SPY", 10, 100.0)], [tp], own={"SPY": 10})
    assert repaired(result) == {"SPY": {tp.order_id}}


def test_another_bots_stop_does_not_protect_our_shares():
    result = plan([Position("SPY", 10, 100.0)], [stop("SPY", 10, bot="WK")], own={"SPY": 10})
    assert repaired(result) == {"SPY": set()}


def test_shares_no_execution_of_the_bot_bought_are_never_adopted():
    """Issue 20 defect 3 (before: every watchlist share no book recorded was adopted,
    protected with a stop 0.8% away and sold by the close: the owner's holdings)."""
    result = plan([Position("SPY", 10, 100.0)])
    assert result.held == {} and result.repairs == []
    assert result.foreign == {"SPY": 10}


def test_the_bot_protects_its_own_lot_beside_the_owners_shares():
    result = plan([Position("SPY", 30, 100.0)], own={"SPY": 10})
    assert result.held == {"SPY": 10} and result.foreign == {"SPY": 20}
    assert [r.qty for r in result.repairs] == [10]


def test_exits_are_sized_to_the_lot_not_to_the_broker_position():
    result = plan([Position("SPY", 30, 100.0)], [stop("SPY", 30), target("SPY", 30)], own={"SPY": 10})
    (repair,) = result.repairs
    assert repair.qty == 10 and "wrong quantity" in repair.protection.reason


def test_a_lot_off_the_watchlist_is_managed():
    result = plan([Position("TSLA", 7, 250.0)], own={"TSLA": 7})
    assert result.held == {"TSLA": 7} and repaired(result) == {"TSLA": set()}


def test_a_short_that_is_not_ours_is_left_alone_with_a_warning():
    result = plan([Position("SPY", -10, 100.0)])
    assert result.held == {} and result.repairs == [] and result.covers == {}
    assert any("short" in w for w in result.warnings)


def test_an_oversold_lot_is_covered():
    result = plan([Position("SPY", -10, 100.0)], own={"SPY": -10})
    assert result.covers == {"SPY": 10}


def test_an_oversold_lot_beside_the_owners_shares_is_covered_too():
    """The owner holds 100, the bot sold 10 more than it had: the account shows 90, not a short;
    the bot still owes the owner 10 shares."""
    result = plan([Position("SPY", 90, 100.0)], own={"SPY": -10})
    assert result.covers == {"SPY": 10}


def test_standalone_exits_for_a_symbol_no_longer_held_are_stale():
    orphan_stop, orphan_target = stop("SPY", 10), target("SPY", 10)
    result = plan([], [orphan_stop, orphan_target])
    assert {o.order_id for o in result.stale_orders} == {orphan_stop.order_id, orphan_target.order_id}


def test_children_of_a_working_entry_are_left_to_it():
    working_entry = entry("SPY", 10)
    children = [stop("SPY", 10, parent=working_entry.order_id),
                target("SPY", 10, parent=working_entry.order_id)]
    result = plan([], [working_entry, *children], entries_in_flight={"SPY"})
    assert result.stale_orders == [] and result.repairs == []


def test_children_of_a_dead_entry_are_stale():
    """Issue 16 item 10: a rejected entry's legs stayed working and later sold short."""
    children = [stop("SPY", 10, parent=4242), target("SPY", 10, parent=4242)]
    result = plan([], children)
    assert {o.order_id for o in result.stale_orders} == {c.order_id for c in children}


def test_finished_orders_are_ignored():
    done = stop("SPY", 10, status=OrderStatus.CANCELLED)
    result = plan([Position("SPY", 10, 100.0)], [done], own={"SPY": 10})
    assert repaired(result) == {"SPY": set()}
    assert result.stale_orders == []


def test_exits_for_shares_that_are_not_the_bots_are_stale():
    ours = stop("SPY", 10)
    result = plan([Position("SPY", 10, 100.0)], [ours])
    assert [o.order_id for o in result.stale_orders] == [ours.order_id]
