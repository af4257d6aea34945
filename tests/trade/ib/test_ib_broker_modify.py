"""IBBroker.modify_order's answer, through the real ib_async client against the simulator under
IB's timing: the flatten's release of a held backstop, refused (201 or 105) or allowed.

ib_async turns an order error into a status change (105: ValidationError, 201: Cancelled) and
announces it *before* the error itself. Read as the modification's acknowledgement, that status
once made a refused release look applied: the flatten waited for a backstop that was still held
and sold only at its goodAfterTime, two minutes after the flatten (campaign seed 125)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.sim.realism.conftest import quiet, realistic, until  # noqa: F401  (the fixture)
from trade.broker import OrderRejected
from trade.ib.broker import IBBroker
from trade.ib.connection import IBConnection
from trade.models import OrderTicket, Side


async def _held_backstop(gateway) -> tuple[IBConnection, IBBroker, int, list[OrderTicket]]:
    connection = IBConnection("127.0.0.1", gateway.port, 2, connect_timeout=2)
    await connection.connect()
    broker = IBBroker(connection)
    await broker.start()
    await broker.qualify(["SPY"])
    statuses: list[OrderTicket] = []
    broker.add_order_status_handler(statuses.append)
    await broker.place_market("SPY", Side.BUY, 10, "DT-20190213-SPY-1-ENTRY")
    price = gateway.replay.price_at("SPY", gateway.now())
    later: datetime = gateway.now() + timedelta(hours=2)
    exits = await broker.place_exits("SPY", 10, round(price * 1.2, 2), round(price * 0.8, 2),
                                     "DT-20190213-SPY-1-ENTRY", backstop_at=later)
    assert exits.backstop is not None
    backstop = exits.backstop.order_id
    await until(lambda: _row(gateway, backstop).get("held") == "goodAfterTime")
    return connection, broker, backstop, statuses


def _row(gateway, order_id: int) -> dict:
    """The simulator's truth about one of the client's orders ({} until it has arrived)."""
    return next((o for o in gateway.state()["orders"] if o["client_order_id"] == order_id), {})


@pytest.mark.parametrize("code", [105, 201])
async def test_a_refused_release_raises_with_ibs_code_and_the_backstop_is_still_cancellable(
        realistic, code: int) -> None:  # noqa: F811
    gateway = await realistic(quiet(release_refusal=code))
    connection, broker, backstop, statuses = await _held_backstop(gateway)
    statuses.clear()
    with pytest.raises(OrderRejected) as refused:
        await broker.modify_order(backstop, release_now=True)
    assert refused.value.code == code
    assert _row(gateway, backstop)["status"] == "PreSubmitted"  # still held at the broker
    # the client library's guess (Cancelled for 201) is not passed on as the order's end
    assert not [t for t in statuses if t.order_id == backstop and not t.status.is_working]
    assert backstop in {o.order_id for o in await broker.open_orders()}
    await broker.cancel(backstop)  # the flatten's fallback reaches the broker
    await until(lambda: _row(gateway, backstop).get("status") == "Cancelled")
    await broker.stop()
    await connection.close()


async def test_an_allowed_release_returns_and_the_backstop_sells_at_once(realistic) -> None:  # noqa: F811
    gateway = await realistic(quiet(release_refusal=0))
    connection, broker, backstop, _statuses = await _held_backstop(gateway)
    await broker.modify_order(backstop, release_now=True)
    await until(lambda: _row(gateway, backstop).get("status") == "Filled")
    await broker.stop()
    await connection.close()
