"""Held orders and brackets under IB's timing, through the real ib_async client: the 399 warning
for an order held by goodAfterTime, a modification that tries to release it refused (both codes
the campaign draws) or allowed, and a bracket's children while the parent is partly filled in
both variants (working for the filled quantity; held until the parent completes)."""

from __future__ import annotations

import pytest
from ib_async import MarketOrder

from sim.tws.faults import OrderFilter
from tests.sim.realism.conftest import SPY, connect, of_kind, quiet, tap, until
from tests.sim.tws.clients import error_codes

LATER = "20190213 10:30:00 US/Eastern"


def held(gateway, order_id: int) -> dict:
    return next(o for o in gateway.state()["orders"] if o["client_order_id"] == order_id)


async def place_held(gateway):
    ib = await connect(gateway)
    codes = error_codes(ib)
    frames = tap(ib)
    order = MarketOrder("BUY", 10, goodAfterTime=LATER, orderRef="DT-BKS")
    trade = ib.placeOrder(SPY, order)
    await until(lambda: trade.orderStatus.status == "PreSubmitted")
    return ib, codes, frames, trade


async def test_an_order_held_by_good_after_time_gets_the_399_warning_first(realistic) -> None:
    gateway = await realistic(quiet(held_warning=True))
    ib, codes, frames, trade = await place_held(gateway)
    assert codes == [399]
    order_frames = [f for f in of_kind(frames, 3, 4, 5) if int(f[0]) != 4 or int(f[3]) == 399]
    first = order_frames[0]  # the warning comes before the order's first openOrder/orderStatus
    assert int(first[0]) == 4 and "will not be placed at the exchange until 2019-02-13 10:30:00" in first[4]
    assert trade.orderStatus.status == "PreSubmitted"  # the order is live: a warning, no reject
    ib.disconnect()


@pytest.mark.parametrize("code", [201, 105])
async def test_a_modify_that_clears_good_after_time_can_be_refused_and_the_order_stays_held(
        realistic, code: int) -> None:
    """IB's "Modifying Orders" page: change only price, size and tif; cancel and replace
    otherwise. Refused, the order is still held at the broker whatever the client concluded."""
    gateway = await realistic(quiet(release_refusal=code))
    ib, codes, _frames, trade = await place_held(gateway)
    trade.order.goodAfterTime = ""
    ib.placeOrder(SPY, trade.order)
    await until(lambda: code in codes)
    row = held(gateway, trade.order.orderId)
    assert (row["status"], row["held"], row["filled"]) == ("PreSubmitted", "goodAfterTime", 0.0)
    # ib_async reads 201 as the order's end (Cancelled), 105 as a warning: neither is the truth
    assert trade.orderStatus.status == ("Cancelled" if code == 201 else "ValidationError")
    gateway.cancel_order_from_tws(row["order_id"])  # the flatten's fallback: cancel, then replace
    assert held(gateway, trade.order.orderId)["status"] == "Cancelled"
    ib.disconnect()


async def test_where_the_release_is_allowed_the_modify_sends_the_order_at_once(realistic) -> None:
    gateway = await realistic(quiet(release_refusal=0))
    ib, _codes, _frames, trade = await place_held(gateway)
    trade.order.goodAfterTime = ""
    ib.placeOrder(SPY, trade.order)
    await until(lambda: held(gateway, trade.order.orderId)["status"] == "Filled")
    ib.disconnect()


async def bracket_partly_filled(gateway):
    """A bracket whose parent fills 30 of 100 shares and keeps working for the rest."""
    ib = await connect(gateway)
    price = gateway.replay.price_at("SPY", gateway.now())
    gateway.partial_fill_next(0.3, OrderFilter(role="parent"))
    parent, tp, sl = ib.bracketOrder("BUY", 100, round(price * 1.01, 2), round(price * 1.2, 2),
                                     round(price * 0.8, 2))
    trades = [ib.placeOrder(SPY, o) for o in (parent, tp, sl)]
    await until(lambda: trades[0].orderStatus.filled == 30)
    await ib.reqOpenOrdersAsync()  # a round trip: the children's updates have arrived
    return ib, trades


def legs(gateway, trades) -> list[tuple[float, str, str]]:
    rows = [held(gateway, t.order.orderId) for t in trades[1:]]
    return [(r["qty"], r["status"], r["held"]) for r in rows]


async def test_children_work_for_the_filled_quantity_while_the_parent_is_partly_filled(realistic) -> None:
    """nautilus_trader issue 2704: real IB had the stop child live (and filling) while the parent
    was partly filled; the children follow the parent's fills."""
    gateway = await realistic(quiet(children_on_partial_fill=True))
    ib, trades = await bracket_partly_filled(gateway)
    assert legs(gateway, trades) == [(30.0, "Submitted", ""), (30.0, "PreSubmitted", "")]
    assert [t.order.totalQuantity for t in trades[1:]] == [30, 30]  # as the client hears it
    gateway.step(60)  # the parent fills the rest
    assert held(gateway, trades[0].order.orderId)["status"] == "Filled"
    assert [q for q, _s, _h in legs(gateway, trades)] == [100.0, 100.0]
    await until(lambda: [t.order.totalQuantity for t in trades[1:]] == [100, 100])
    ib.disconnect()


async def test_in_the_other_variant_children_wait_for_the_parent_to_complete(realistic) -> None:
    gateway = await realistic(quiet(children_on_partial_fill=False))
    ib, trades = await bracket_partly_filled(gateway)
    waiting = "waiting for parent fill"
    assert legs(gateway, trades) == [(100.0, "PreSubmitted", waiting), (100.0, "PreSubmitted", waiting)]
    gateway.step(60)
    assert legs(gateway, trades) == [(100.0, "Submitted", ""), (100.0, "PreSubmitted", "")]
    ib.disconnect()


async def test_a_working_child_sells_only_what_the_parent_bought(realistic) -> None:
    """The stop child triggers while the parent is partly filled: it sells the 30 shares
    bought, never the 100 asked for (no short)."""
    gateway = await realistic(quiet(children_on_partial_fill=True))
    ib, trades = await bracket_partly_filled(gateway)
    stop = trades[2].order
    stop.auxPrice = round(gateway.replay.price_at("SPY", gateway.now()) * 1.05, 2)  # marketable
    ib.placeOrder(SPY, stop)
    await until(lambda: held(gateway, stop.orderId)["status"] == "Filled")
    assert held(gateway, stop.orderId)["filled"] == 30.0
    assert gateway.state()["positions"] == {}
    assert held(gateway, trades[1].order.orderId)["status"] == "Cancelled"  # its OCA sibling
    ib.disconnect()
