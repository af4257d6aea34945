"""plan_reconcile: ownership across books, adoption, missing exits, stale orders, foreign positions."""

from __future__ import annotations

from trade.intraday.reconcile import plan_reconcile
from trade.models import OrderStatus, OrderTicket, OrderType, Position, Side

_ids = iter(range(100, 100_000))


def stop(symbol: str, qty: int, *, seq: int = 1, bot: str = "DT", filled: int = 0,
         parent: int = 0, status: OrderStatus = OrderStatus.SUBMITTED) -> OrderTicket:
    return OrderTicket(next(_ids), f"{bot}-20250703-{symbol}-{seq}-SL", symbol, Side.SELL, qty,
                       OrderType.STOP, status, stop_price=99.0, parent_id=parent, filled=filled)


def target(symbol: str, qty: int, *, seq: int = 1, parent: int = 0) -> OrderTicket:
    return OrderTicket(next(_ids), f"DT-20250703-{symbol}-{seq}-TP", symbol, Side.SELL, qty,
                       OrderType.LIMIT, OrderStatus.SUBMITTED, limit_price=101.0, parent_id=parent)


def entry(symbol: str, qty: int, *, seq: int = 1) -> OrderTicket:
    return OrderTicket(next(_ids), f"DT-20250703-{symbol}-{seq}-ENTRY", symbol, Side.BUY, qty,
                       OrderType.MARKET, OrderStatus.SUBMITTED)


def plan(positions, orders=(), own=None, others=None, watch=("SPY", "IONQ")):
    return plan_reconcile("DT", watch, positions, orders, own or {}, others or {})


def test_owned_position_with_full_stop_needs_nothing():
    result = plan([Position("SPY", 10, 100.0)], [stop("SPY", 10), target("SPY", 10)], own={"SPY": 10})
    holding = result.holdings["SPY"]
    assert (holding.qty, holding.adopted_qty, holding.protected_qty) == (10, 0, 10)
    assert result.needs_exits == [] and result.stale_orders == []


def test_owned_position_without_exits_needs_exits():
    result = plan([Position("SPY", 10, 100.0)], own={"SPY": 10})
    assert [h.symbol for h in result.needs_exits] == ["SPY"]


def test_position_whose_stop_covers_less_than_held_needs_exits():
    result = plan([Position("SPY", 10, 100.0)], [stop("SPY", 6)], own={"SPY": 10})
    assert result.holdings["SPY"].protected_qty == 6
    assert [h.symbol for h in result.needs_exits] == ["SPY"]


def test_target_alone_does_not_count_as_protection():
    result = plan([Position("SPY", 10, 100.0)], [target("SPY", 10)], own={"SPY": 10})
    assert result.holdings["SPY"].protected_qty == 0
    assert [h.symbol for h in result.needs_exits] == ["SPY"]


def test_partly_filled_stop_protects_only_its_remaining_shares():
    result = plan([Position("SPY", 6, 100.0)], [stop("SPY", 10, filled=4)], own={"SPY": 6})
    assert result.holdings["SPY"].protected_qty == 6
    assert result.needs_exits == []


def test_another_bots_stop_does_not_protect_our_shares():
    result = plan([Position("SPY", 10, 100.0)], [stop("SPY", 10, bot="WK")], own={"SPY": 10})
    assert result.holdings["SPY"].protected_qty == 0
    assert [h.symbol for h in result.needs_exits] == ["SPY"]


def test_unowned_watchlist_position_is_adopted():
    result = plan([Position("SPY", 10, 100.0)])
    holding = result.holdings["SPY"]
    assert (holding.qty, holding.adopted_qty, holding.avg_cost) == (10, 10, 100.0)
    assert [h.symbol for h in result.needs_exits] == ["SPY"]


def test_only_the_part_no_book_owns_is_adopted():
    result = plan([Position("SPY", 30, 100.0)], own={"SPY": 10}, others={"SPY": 15})
    holding = result.holdings["SPY"]
    assert (holding.qty, holding.adopted_qty) == (15, 5)


def test_quantity_another_book_owns_is_never_ours():
    result = plan([Position("SPY", 20, 100.0)], own={"SPY": 10}, others={"SPY": 20})
    assert result.holdings == {} and result.needs_exits == []


def test_our_record_larger_than_the_broker_position_is_capped_at_the_broker_qty():
    result = plan([Position("SPY", 5, 100.0)], own={"SPY": 10})
    holding = result.holdings["SPY"]
    assert (holding.qty, holding.adopted_qty) == (5, 0)


def test_foreign_position_outside_the_watchlist_is_left_alone_with_a_warning():
    result = plan([Position("TSLA", 7, 250.0)])
    assert result.holdings == {} and result.needs_exits == []
    assert any("TSLA" in w and "left alone" in w for w in result.warnings)


def test_bot_owned_position_outside_the_watchlist_is_still_managed():
    result = plan([Position("TSLA", 7, 250.0)], own={"TSLA": 7})
    assert result.holdings["TSLA"].qty == 7
    assert any("TSLA" in w for w in result.warnings)


def test_outside_the_watchlist_only_our_own_shares_are_managed_none_adopted():
    result = plan([Position("TSLA", 10, 250.0)], own={"TSLA": 4})
    holding = result.holdings["TSLA"]
    assert (holding.qty, holding.adopted_qty) == (4, 0)


def test_short_position_is_left_alone_with_a_warning():
    result = plan([Position("SPY", -10, 100.0)], own={"SPY": 10})
    assert result.holdings == {} and result.needs_exits == []
    assert any("short" in w for w in result.warnings)


def test_standalone_exits_for_a_symbol_no_longer_held_are_stale():
    orphan_stop, orphan_target = stop("SPY", 10), target("SPY", 10)
    result = plan([], [orphan_stop, orphan_target])
    assert {o.order_id for o in result.stale_orders} == {orphan_stop.order_id, orphan_target.order_id}


def test_bracket_children_and_working_entries_are_not_stale():
    working_entry = entry("SPY", 10)
    children = [stop("SPY", 10, parent=working_entry.order_id),
                target("SPY", 10, parent=working_entry.order_id)]
    result = plan([], [working_entry, *children])
    assert result.stale_orders == []


def test_finished_orders_are_ignored():
    done = stop("SPY", 10, status=OrderStatus.CANCELLED)
    result = plan([Position("SPY", 10, 100.0)], [done], own={"SPY": 10})
    assert result.holdings["SPY"].exit_orders == ()
    assert result.stale_orders == []


def test_exits_for_a_position_wholly_owned_by_another_book_are_stale():
    ours = stop("SPY", 10)
    result = plan([Position("SPY", 10, 100.0)], [ours], others={"SPY": 10})
    assert [o.order_id for o in result.stale_orders] == [ours.order_id]
