"""IB's timing around a fill, seen through the real ib_async client: the commission report that
trails its execution (also when replayed by reqExecutions), the orderStatus that never comes
for an order that executes at once, duplicate statuses, and positions that lag the execution.
Each test switches on one behaviour (`quiet(...)`) and shows the simulator without it too."""

from __future__ import annotations

from ib_async import LimitOrder, MarketOrder
from ib_async.ib import StartupFetchNONE

from sim.tws.realism import Realism
from tests.sim.realism.conftest import SPY, connect, fixed, of_kind, quiet, tap, until

EXEC, COMMISSION, STATUS, OPEN_ORDER = 11, 59, 3, 5


def spy_shares(ib) -> float:
    return sum(p.position for p in ib.positions() if p.contract.symbol == "SPY")


async def test_the_commission_report_trails_its_execution_with_order_frames_between(realistic) -> None:
    """rust-ibapi pull request 811's capture: execution, then openOrder/orderStatus frames, then
    the commission; a recorder archiving at Filled sees a zero fee (pysystemtrade #1661)."""
    gateway = await realistic(quiet(commission=fixed(600)))
    ib = await connect(gateway)
    frames = tap(ib)
    trade = ib.placeOrder(SPY, MarketOrder("BUY", 100))
    await until(lambda: trade.orderStatus.status == "Filled")
    fill = trade.fills[0]
    assert fill.commissionReport.commission == 0.0  # Filled, and no fee known yet
    await until(lambda: fill.commissionReport.commission > 0)
    kinds = [int(f[0]) for f in of_kind(frames, EXEC, COMMISSION, STATUS, OPEN_ORDER)]
    between = kinds[kinds.index(EXEC) + 1:kinds.index(COMMISSION)]
    assert STATUS in between and OPEN_ORDER in between, kinds
    ib.disconnect()


async def test_without_realism_the_fee_is_known_before_the_filled_status(realistic) -> None:
    gateway = await realistic(Realism.off())
    ib = await connect(gateway)
    seen: list[float] = []
    trade = ib.placeOrder(SPY, MarketOrder("BUY", 100))
    trade.filledEvent += lambda t: seen.append(t.fills[0].commissionReport.commission)
    await until(lambda: trade.isDone())
    assert seen and seen[0] > 0
    ib.disconnect()


async def test_a_replayed_execution_can_list_before_its_commission_report(realistic) -> None:
    """reqExecutions after a restart: the answer ends before the execution's report arrives."""
    gateway = await realistic(quiet(commission=fixed(600), replayed_commission_trails_p=1.0))
    ib = await connect(gateway)
    trade = ib.placeOrder(SPY, MarketOrder("BUY", 10))
    await until(lambda: bool(trade.fills) and trade.fills[0].commissionReport.commission > 0)
    charged = trade.fills[0].commissionReport.commission
    ib.disconnect()
    await until(lambda: "clients=none" in gateway.status())

    again = await connect(gateway, fetchFields=StartupFetchNONE)
    frames = tap(again)
    fills = await again.reqExecutionsAsync()
    assert [f.execution.execId for f in fills] == [trade.fills[0].execution.execId]
    assert fills[0].commissionReport.commission == 0.0  # listed, fee still on its way
    await until(lambda: fills[0].commissionReport.commission == charged)
    kinds = [int(f[0]) for f in frames]
    assert kinds.index(55) < kinds.index(COMMISSION)  # execDetailsEnd before the report
    again.disconnect()


async def test_an_order_that_executes_at_once_may_get_no_order_status(realistic) -> None:
    """IB's order submission page: "with market orders when the order is accepted and executes
    immediately, there commonly will not be any corresponding orderStatus callbacks"."""
    gateway = await realistic(quiet(missing_status_p=1.0))
    ib = await connect(gateway)
    frames = tap(ib)
    trade = ib.placeOrder(SPY, MarketOrder("BUY", 100))
    await until(lambda: bool(trade.fills))
    await ib.reqCurrentTimeAsync()  # a round trip: whatever was sent before it has arrived
    assert [f for f in of_kind(frames, STATUS) if int(f[1]) == trade.order.orderId] == []
    assert trade.orderStatus.status != "Filled" and not trade.isDone()  # only execDetails tells
    assert gateway.state()["orders"][0]["status"] == "Filled"
    resting = ib.placeOrder(SPY, LimitOrder("BUY", 10, 200.0))  # not at once: statuses come
    await until(lambda: resting.orderStatus.status == "Submitted")
    ib.disconnect()


async def test_statuses_can_come_twice_but_never_go_backwards(realistic) -> None:
    """IB's API guide: "It is possible that orderStatus() may return duplicate messages"."""
    gateway = await realistic(quiet(duplicate_p=1.0, lane_jitter=fixed(5)))
    ib = await connect(gateway)
    frames = tap(ib)
    trade = ib.placeOrder(SPY, LimitOrder("BUY", 10, 200.0))
    await until(lambda: trade.orderStatus.status == "Submitted")
    ib.cancelOrder(trade.order)

    def statuses() -> list[str]:
        return [f[2] for f in of_kind(frames, STATUS) if int(f[1]) == trade.order.orderId]

    await until(lambda: len(statuses()) >= 4)
    assert statuses() == ["Submitted", "Submitted", "Cancelled", "Cancelled"]
    ib.disconnect()


async def test_positions_lag_the_execution(realistic) -> None:
    """ib_async issue 15: "ib.positions() may have a delay in updating position quantities"."""
    gateway = await realistic(quiet(position_lag=fixed(1000)))
    ib = await connect(gateway)
    trade = ib.placeOrder(SPY, MarketOrder("BUY", 100))
    await until(lambda: bool(trade.fills))
    assert gateway.state()["positions"] == {"SPY": 100.0}  # the broker's truth: at once
    assert spy_shares(ib) == 0  # the pushed position: not yet
    assert [p for p in await ib.reqPositionsAsync() if p.contract.symbol == "SPY"] == []
    await until(lambda: spy_shares(ib) == 100)
    assert [p.position for p in await ib.reqPositionsAsync() if p.contract.symbol == "SPY"] == [100]
    await until(lambda: any(p.position == 100 for p in ib.portfolio()))
    ib.disconnect()


async def test_without_realism_positions_move_with_the_execution(realistic) -> None:
    gateway = await realistic(None)
    ib = await connect(gateway)
    trade = ib.placeOrder(SPY, MarketOrder("BUY", 100))
    await until(lambda: bool(trade.fills))
    await ib.reqCurrentTimeAsync()  # a round trip: the push sent with the fill has arrived
    assert spy_shares(ib) == 100
    ib.disconnect()
