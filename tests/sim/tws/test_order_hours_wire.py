"""Orders outside regular hours (outsideRth, IB's 399 warning), TRAIL orders reporting their
stop in openOrder, and whyHeld carrying only what IB documents. ib_async (ibapi: see
test_paper_gateway_ibapi.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ib_async import IB, Contract, LimitOrder, MarketOrder, Order, Stock

from sim.market.sessions import NY
from tests.sim.tws.clients import connect, error_codes, qualified, settle, tap

if TYPE_CHECKING:
    from sim.gateway import GatewaySimulator

SPY = Stock("SPY", "SMART", "USD")


def at(hh: int, mm: int) -> datetime:
    return datetime(2019, 2, 13, hh, mm, tzinfo=NY)


async def _session(gateway_factory, start: datetime) -> tuple[GatewaySimulator, IB, Contract, list[int]]:
    gateway = await gateway_factory(start=start)
    ib = await connect(gateway)
    [spy] = await qualified(ib, SPY)
    return gateway, ib, spy, error_codes(ib)


async def test_a_market_order_before_the_open_gets_399_then_fills_at_the_open(gateway_factory) -> None:
    gateway, ib, spy, codes = await _session(gateway_factory, at(8, 0))
    warnings: list[str] = []
    ib.errorEvent += lambda req_id, code, msg, contract: warnings.append(msg) if code == 399 else None
    trade = ib.placeOrder(spy, MarketOrder("BUY", 10))
    await settle()
    assert codes == [399] and trade.orderStatus.status == "PreSubmitted"  # the status follows the warning
    assert warnings == ["Order Message:\nBUY 10 SPY ARCA\nWarning: Your order will not be placed at the exchange "
                        "until 2019-02-13 09:30:00 US/Eastern"]
    gateway.step_to(at(9, 31))
    await settle()
    assert trade.orderStatus.status == "Filled"
    assert trade.fills[0].execution.time.astimezone(NY).strftime("%H:%M") == "09:30"
    ib.disconnect()


async def test_an_outside_rth_limit_order_trades_pre_market_at_the_quote(gateway_factory) -> None:
    gateway, ib, spy, codes = await _session(gateway_factory, at(8, 0))
    prior_close = gateway.replay.price_at("SPY", at(8, 0))
    assert prior_close is not None
    marketable = ib.placeOrder(spy, LimitOrder("BUY", 5, round(prior_close + 1, 2), outsideRth=True))
    resting = ib.placeOrder(spy, LimitOrder("BUY", 5, round(prior_close - 5, 2), outsideRth=True))
    held = ib.placeOrder(spy, LimitOrder("BUY", 5, round(prior_close + 1, 2)))  # not outsideRth
    await settle()
    assert marketable.orderStatus.status == "Filled" and marketable.fills[0].execution.price <= prior_close + 0.05
    assert resting.orderStatus.status == "Submitted" and held.orderStatus.status == "Submitted"
    assert held.fills == [] and codes == [399]  # only the order that must wait for the open is warned
    ib.disconnect()


async def test_after_the_close_399_names_the_next_sessions_open(gateway_factory) -> None:
    gateway, ib, spy, codes = await _session(gateway_factory, at(16, 30))
    warnings: list[str] = []
    ib.errorEvent += lambda req_id, code, msg, contract: warnings.append(msg)
    ib.placeOrder(spy, Order(action="SELL", totalQuantity=5, orderType="STP", auxPrice=200.0, tif="GTC"))
    ib.placeOrder(spy, LimitOrder("BUY", 5, 200.0, outsideRth=True))  # works in the after-hours session
    await settle()
    assert codes == [399] and warnings[0].endswith("until 2019-02-14 09:30:00 US/Eastern")
    ib.disconnect()


async def test_an_outside_rth_day_order_lives_until_the_after_hours_close(gateway_factory) -> None:
    gateway, ib, spy, codes = await _session(gateway_factory, at(15, 0))
    price = gateway.replay.price_at("SPY", at(15, 0))
    assert price is not None
    extended = ib.placeOrder(spy, LimitOrder("BUY", 5, round(price - 10, 2), outsideRth=True))
    regular = ib.placeOrder(spy, LimitOrder("BUY", 5, round(price - 10, 2)))
    await settle()
    gateway.step_to(at(16, 1))
    await settle()
    assert regular.orderStatus.status == "Cancelled" and extended.orderStatus.status == "Submitted"
    gateway.step_to(at(19, 59))
    await settle()
    assert extended.orderStatus.status == "Submitted"
    gateway.step_to(at(20, 1))
    await settle()
    assert extended.orderStatus.status == "Cancelled"
    ib.disconnect()


async def test_a_trailing_stop_reports_its_stop_in_open_order_as_it_moves(ib, gateway) -> None:
    """Each move goes out as an openOrder whose trailStopPrice ib_async's decoder reads (its
    wrapper keeps the first copy of a known order, so the frames are decoded afresh here)."""
    from ib_async.decoder import Decoder

    from tests.sim.test_tws_roundtrip import RecordingWrapper

    [spy] = await qualified(ib, SPY)
    seen = tap(ib)
    trail = ib.placeOrder(spy, Order(action="SELL", totalQuantity=10, orderType="TRAIL", auxPrice=0.5))
    await settle()
    for _ in range(20):
        gateway.step(30)
        await settle()
    stops = []
    for fields in (f for f in seen if f[0] == "5"):
        wrapper = RecordingWrapper()
        decoder = Decoder(wrapper, ib.client.serverVersion())  # type: ignore[arg-type]  # a recording stand-in
        decoder.interpret(fields)
        [(_, (_, _, order, _))] = wrapper.calls
        stops.append(order.trailStopPrice)
    engine_order = next(o for o in gateway.engine.open_orders() if o.order_type == "TRAIL")
    assert stops[0] == round(gateway.replay.bars("SPY")[0].open - 0.5, 2)  # seeded at the price then
    assert stops == sorted(stops) and len(set(stops)) == len(stops) > 2  # one openOrder per rise
    assert stops[-1] == engine_order.trail_stop and trail.orderStatus.status == "PreSubmitted"
    assert len([f for f in seen if f[0] == "3"]) == 1  # no new status: it still waits for its stop


async def test_why_held_is_empty_as_ib_documents_only_locate(ib, gateway) -> None:
    [spy] = await qualified(ib, SPY)
    price = gateway.replay.price_at("SPY", gateway.now())
    parent = LimitOrder("BUY", 10, round(price - 20, 2), transmit=False)
    parent_trade = ib.placeOrder(spy, parent)
    child = ib.placeOrder(spy, Order(action="SELL", totalQuantity=10, orderType="STP",
                                     auxPrice=round(price - 30, 2), parentId=parent.orderId))
    await settle()
    assert child.orderStatus.status == "PreSubmitted" and parent_trade.orderStatus.status == "Submitted"
    assert child.orderStatus.whyHeld == "" and gateway.engine.order(2).why_held  # kept inside the engine
