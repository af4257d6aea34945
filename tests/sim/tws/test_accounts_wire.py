"""Accounts over the wire: a second account under one login, account summary tags, and which
client sees which executions (its own; the master API client everyone's)."""

from __future__ import annotations

import pytest
from ib_async import ExecutionFilter, MarketOrder, Order, Stock

from tests.sim.tws.clients import connect, error_codes, qualified, settle

SPY = Stock("SPY", "SMART", "USD")
SECOND = "DU7654321"


@pytest.fixture
async def two_accounts(gateway_with):
    return await gateway_with(second_account=SECOND, second_positions={"SPY": 100, "QQQ": 50})


async def test_second_account_is_listed_and_its_positions_come_with_the_first_ones(two_accounts, client_log) -> None:
    ib = await connect(two_accounts)
    try:
        assert ib.managedAccounts() == ["DU1234567", SECOND]
        [spy] = await qualified(ib, SPY)
        ib.placeOrder(spy, MarketOrder("BUY", 7))
        await settle()
        held = {(p.account, p.contract.symbol): p.position for p in await ib.reqPositionsAsync()}
        assert held == {("DU1234567", "SPY"): 7.0, (SECOND, "SPY"): 100.0, (SECOND, "QQQ"): 50.0}
    finally:
        ib.disconnect()
    assert not client_log()


async def test_an_order_naming_the_second_account_trades_only_there(two_accounts) -> None:
    ib = await connect(two_accounts)
    try:
        [spy] = await qualified(ib, SPY)
        trade = ib.placeOrder(spy, Order(action="SELL", totalQuantity=40, orderType="MKT", account=SECOND))
        await settle()
        assert trade.fills[0].execution.acctNumber == SECOND
        assert two_accounts.engine.positions(SECOND)["SPY"][0] == 60.0
        assert two_accounts.engine.positions() == {}
        truth = two_accounts.state()["accounts"]
        assert truth[SECOND]["positions"]["SPY"]["qty"] == 60.0 and truth["DU1234567"]["positions"] == {}
    finally:
        ib.disconnect()


async def test_account_values_are_per_account(two_accounts) -> None:
    ib = await connect(two_accounts)
    try:
        values = {(v.account, v.tag): v.value for v in ib.accountValues() if v.currency == "USD"}
        second_net = float(values[(SECOND, "NetLiquidation")])
        assert float(values[("DU1234567", "NetLiquidation")]) == pytest.approx(100_000.0)
        assert second_net > 100_000.0 + 100 * 200  # the seeded SPY and QQQ holdings count
    finally:
        ib.disconnect()


async def test_account_summary_returns_only_the_requested_tags(ib) -> None:
    rows = await ib.accountSummaryAsync()  # ib_async asks for all tags once
    tags = {r.tag for r in rows}
    assert {"NetLiquidation", "BuyingPower", "AvailableFunds", "Cushion", "DayTradesRemaining"} <= tags


async def test_account_summary_tag_filter_on_the_wire(gateway, ib) -> None:
    seen: list[tuple[str, str]] = []
    ib.accountSummaryEvent += lambda value: seen.append((value.tag, value.currency))
    req_id = ib.client.getReqId()
    future = ib.wrapper.startReq(req_id)
    ib.client.reqAccountSummary(req_id, "All", "NetLiquidation,BuyingPower,$LEDGER")
    await future
    assert [t for t, _ in seen[:2]] == ["NetLiquidation", "BuyingPower"]
    assert {t for t, _ in seen[2:]} == {"CashBalance", "TotalCashBalance", "AccruedCash", "StockMarketValue",
                                        "NetLiquidationByCurrency", "UnrealizedPnL", "RealizedPnL", "ExchangeRate"}
    codes = error_codes(ib)
    ib.client.reqAccountSummary(ib.client.getReqId(), "Advisors", "NetLiquidation")
    await settle()
    assert codes == [321]


async def test_a_client_sees_its_own_executions_and_the_master_client_everyones(gateway_with) -> None:
    gateway = await gateway_with(master_client_id=9)
    first, second = await connect(gateway, 1), await connect(gateway, 2)
    try:
        [spy] = await qualified(first, SPY)
        first.placeOrder(spy, MarketOrder("BUY", 1))
        second.placeOrder(spy, MarketOrder("BUY", 2))
        await settle()
        assert [f.execution.shares for f in await first.reqExecutionsAsync(ExecutionFilter())] == [1.0]
        assert [f.execution.shares for f in await second.reqExecutionsAsync(ExecutionFilter())] == [2.0]
        master = await connect(gateway, 9)
        try:
            fills = await master.reqExecutionsAsync(ExecutionFilter())
            assert sorted(f.execution.shares for f in fills) == [1.0, 2.0]
            assert all(f.commissionReport.commission > 0 for f in master.fills())  # from connect
            only_two = await master.reqExecutionsAsync(ExecutionFilter(clientId=2))
            assert [f.execution.clientId for f in only_two] == [2]
        finally:
            master.disconnect()
    finally:
        first.disconnect()
        second.disconnect()
