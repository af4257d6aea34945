"""The real ib_async client, unmodified, against the simulator: connect, data, orders, errors.

Every test runs with a stepping clock at the 2019-02-13 open (see tests/conftest.py). Decoder
errors are only logged by the client, so `client_log` fails a test on any of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

import pytest
from ib_async import IB, ExecutionFilter, LimitOrder, MarketOrder, Stock

from sim.market.sessions import NY

SPY = Stock("SPY", "SMART", "USD")


@pytest.fixture
def client_log(caplog):
    """Returns the client's decoder errors and 'No order found' complaints seen so far."""
    caplog.set_level(logging.INFO, logger="ib_async")

    def problems() -> list[str]:
        return [
            r.getMessage()[:300] for r in caplog.records
            if r.name == "ib_async.Decoder" or "No order found" in r.getMessage()
            or "timed out" in r.getMessage()
        ]

    return problems


async def connect(gateway, client_id: int = 1) -> IB:
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=client_id, timeout=2)
    return ib


@pytest.fixture
async def ib(gateway, client_log):
    client = await connect(gateway)
    yield client
    client.disconnect()
    assert not client_log(), client_log()


async def settle() -> None:
    """Let the client's protocol read what the server already wrote (same loop)."""
    for _ in range(6):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)


async def test_connects_in_under_100ms_with_every_startup_request_answered(gateway, client_log) -> None:
    t0 = time.perf_counter()
    ib = await connect(gateway)
    elapsed = time.perf_counter() - t0
    ib.disconnect()
    assert elapsed < 1.0, f"connect took {elapsed * 1000:.0f} ms"  # a missing startup answer costs 4 s
    assert not client_log()


async def test_negotiates_version_178_and_reports_the_paper_account(ib) -> None:
    assert ib.client.serverVersion() == 178
    assert ib.managedAccounts() == ["DU1234567"]
    values = {v.tag: v.value for v in ib.accountValues() if v.currency in ("USD", "")}
    assert float(values["NetLiquidation"]) == pytest.approx(100_000.0)
    assert values["AccountCode"] == "DU1234567"


async def test_qualifies_known_stocks_and_rejects_unknown_with_200(ib, caplog) -> None:
    spy, unknown = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"), Stock("ZZZZ", "SMART", "USD"))
    assert spy is not None and spy.conId > 0 and spy.primaryExchange == "ARCA"
    assert unknown is None
    assert any("Error 200" in r.getMessage() for r in caplog.records)


async def test_one_day_of_minute_bars_at_the_open_is_the_previous_full_session(ib) -> None:
    bars = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", True)
    assert len(bars) == 390
    assert bars[0].date == datetime(2019, 2, 12, 9, 30, tzinfo=NY)
    assert bars[-1].date == datetime(2019, 2, 12, 15, 59, tzinfo=NY)


async def test_keep_up_to_date_appends_each_completed_bar_in_order(ib, gateway) -> None:
    bars = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", True, keepUpToDate=True)
    assert len(bars) == 390
    gateway.step(5 * 60)
    await settle()
    assert len(bars) == 395
    assert [b.date.minute for b in bars[-5:]] == [30, 31, 32, 33, 34]
    assert bars[-1].date.date() == datetime(2019, 2, 13).date()


async def test_real_time_bars_arrive_every_five_seconds_of_replay(ib, gateway) -> None:
    bars = ib.reqRealTimeBars(SPY, 5, "TRADES", True)
    await settle()
    gateway.step(60)
    await settle()
    assert len(bars) == 12
    assert all(b.low <= min(b.open_, b.close) and b.high >= max(b.open_, b.close) for b in bars)
    assert (bars[1].time - bars[0].time).total_seconds() == 5


async def test_market_data_ticks_follow_the_price_path(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    ticker = ib.reqMktData(spy)
    await settle()
    first = ticker.last
    assert first > 0 and ticker.bid < ticker.ask
    gateway.step(600)
    await settle()
    assert ticker.last == pytest.approx(gateway.replay.price_at("SPY", gateway.now()), abs=0.0051)
    assert ticker.last != first and ticker.volume > 0


async def test_current_time_comes_from_the_replay_clock(ib, gateway) -> None:
    t = await ib.reqCurrentTimeAsync()
    assert t == gateway.now().replace(microsecond=0)


async def test_bracket_fills_parent_then_one_exit_and_cancels_the_other(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    price = gateway.replay.price_at("SPY", gateway.now())
    bars = gateway.replay.bars("SPY")[:30]
    target = round(max(b.high for b in bars[1:]) - 0.01, 2)
    assert target > price + 0.02, "test data: SPY must rise in the first half hour"
    bracket = ib.bracketOrder("BUY", 10, round(price + 0.5, 2), target, round(price * 0.9, 2))
    for order in bracket:
        order.orderRef = "test:bracket:SPY:1"
    trades = [ib.placeOrder(spy, o) for o in bracket]
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    await settle()
    gateway.step(30 * 60)
    await settle()
    parent, take_profit, stop_loss = trades
    assert codes == [], "an OCA cancel is a status change, not a 202 error"
    assert parent.orderStatus.status == "Filled"
    assert take_profit.orderStatus.status == "Filled"
    assert stop_loss.orderStatus.status == "Cancelled"
    fills = parent.fills + take_profit.fills
    assert [f.execution.side for f in fills] == ["BOT", "SLD"]
    assert all(f.execution.orderRef == "test:bracket:SPY:1" for f in fills)
    assert all(f.execution.clientId == 1 for f in fills)
    assert all(f.commissionReport.commission > 0 for f in fills), "commission report missing or out of order"
    assert take_profit.fills[0].execution.price >= target
    assert not [p for p in ib.positions() if p.position]


async def test_position_and_portfolio_update_after_a_fill(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    trade = ib.placeOrder(spy, MarketOrder("BUY", 7))
    await settle()
    assert trade.orderStatus.status == "Filled"
    [pos] = ib.positions()
    assert (pos.contract.symbol, pos.position, pos.account) == ("SPY", 7.0, "DU1234567")
    assert [p.position for p in ib.portfolio()] == [7.0]


async def test_executions_filter_by_symbol_and_side(ib, gateway) -> None:
    [spy, qqq] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"), Stock("QQQ", "SMART", "USD"))
    ib.placeOrder(spy, MarketOrder("BUY", 5))
    ib.placeOrder(qqq, MarketOrder("BUY", 5))
    await settle()
    ib.placeOrder(spy, MarketOrder("SELL", 5))
    await settle()
    fills = await ib.reqExecutionsAsync(ExecutionFilter(symbol="SPY", side="SELL"))
    assert [(f.contract.symbol, f.execution.side) for f in fills] == [("SPY", "SLD")]
    assert len(await ib.reqExecutionsAsync()) == 3


async def test_global_cancel_cancels_every_working_order(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    price = gateway.replay.price_at("SPY", gateway.now())
    trades = [ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.8 - i, 2))) for i in range(3)]
    await settle()
    assert {t.orderStatus.status for t in trades} == {"Submitted"}
    ib.reqGlobalCancel()
    await settle()
    assert {t.orderStatus.status for t in trades} == {"Cancelled"}


async def test_cancel_order_sends_cancelled_status(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    price = gateway.replay.price_at("SPY", gateway.now())
    trade = ib.placeOrder(spy, LimitOrder("BUY", 1, round(price * 0.8, 2)))
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    await settle()
    ib.cancelOrder(trade.order)
    await settle()
    assert trade.orderStatus.status == "Cancelled"
    assert codes == [202]


async def test_reusing_a_filled_order_id_is_error_103(ib, gateway, caplog) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    trade = ib.placeOrder(spy, MarketOrder("BUY", 1))
    await settle()
    again = MarketOrder("BUY", 1)
    again.orderId = trade.order.orderId
    ib.client.placeOrder(again.orderId, spy, again)
    await settle()
    assert any("Error 103" in r.getMessage() for r in caplog.records)


async def test_duplicate_client_id_gets_326(gateway, ib, caplog) -> None:
    second = IB()
    with pytest.raises((TimeoutError, ConnectionError, asyncio.TimeoutError)):
        await second.connectAsync(gateway.host, gateway.port, clientId=1, timeout=0.5)
    second.disconnect()
    assert any("326" in r.getMessage() for r in caplog.records)
    assert ib.isConnected()


async def test_several_clients_see_only_their_own_orders(gateway, ib) -> None:
    other = await connect(gateway, client_id=2)
    try:
        [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        mine = ib.placeOrder(spy, MarketOrder("BUY", 2))
        theirs = other.placeOrder(spy, MarketOrder("BUY", 3))
        await settle()
        assert [f.execution.shares for f in mine.fills] == [2.0]
        assert [f.execution.shares for f in theirs.fills] == [3.0]
        assert theirs.fills[0].execution.clientId == 2
    finally:
        other.disconnect()


async def test_reject_next_fault_rejects_the_order_with_the_given_code(ib, gateway, caplog) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    gateway.reject_next_order(201)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 1))
    await settle()
    assert trade.orderStatus.status == "Cancelled"
    assert any("Error 201" in r.getMessage() for r in caplog.records)


async def test_partial_fill_fault_leaves_the_rest_working(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    gateway.partial_fill_next(0.5)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 10))
    await settle()
    assert trade.orderStatus.filled == 5.0
    assert trade.orderStatus.remaining == 5.0


async def test_pacing_fault_fails_the_next_history_request_with_162(ib, gateway, caplog) -> None:
    gateway.pacing_violation_next()
    bars = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", True)
    assert not bars
    assert any("Error 162" in r.getMessage() for r in caplog.records)
    assert len(await ib.reqHistoricalDataAsync(SPY, "", "1 D", "1 min", "TRADES", True)) == 390


async def test_connectivity_notices_reach_the_client(ib, gateway) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    gateway.connectivity_lost()
    gateway.connectivity_restored(data_kept=True)
    gateway.connectivity_restored(data_kept=False)
    await settle()
    assert codes == [1100, 1102, 1101]
    assert ib.isConnected()


async def test_replacing_a_working_order_modifies_it(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    price = gateway.replay.price_at("SPY", gateway.now())
    trade = ib.placeOrder(spy, LimitOrder("BUY", 3, round(price * 0.8, 2)))
    await settle()
    assert trade.orderStatus.status == "Submitted"
    trade.order.lmtPrice = round(price + 1.0, 2)
    ib.placeOrder(spy, trade.order)
    await settle()
    gateway.step(60)
    await settle()
    assert trade.orderStatus.status == "Filled"
    assert len(gateway.engine.orders()) == 1


async def test_what_if_orders_are_previewed_not_placed(ib, gateway) -> None:
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    await ib.whatIfOrderAsync(spy, MarketOrder("BUY", 1))
    assert gateway.engine.orders() == []


async def test_daily_bars_come_with_plain_dates(ib) -> None:
    bars = await ib.reqHistoricalDataAsync(SPY, "", "1 M", "1 day", "TRADES", True)
    assert 15 <= len(bars) <= 23
    assert bars[-1].date == datetime(2019, 2, 12).date()


async def test_five_minute_bars_aggregate_the_session(ib) -> None:
    bars = await ib.reqHistoricalDataAsync(SPY, "", "1 D", "5 mins", "TRADES", True)
    assert len(bars) == 78
    assert bars[1].date - bars[0].date == timedelta(minutes=5)


async def test_twelve_real_time_bars_rebuild_the_minute_bar(ib, gateway) -> None:
    """A client aggregating 5-second bars (as trade/ib/minute_bars.py does) gets the data's minute bar."""
    bars = ib.reqRealTimeBars(SPY, 5, "TRADES", True)
    await settle()
    gateway.step(120)
    await settle()
    minute = gateway.replay.bars("SPY")[1]  # the 09:31 bar
    rtbs = [b for b in bars if b.time.astimezone(NY).minute == 31]
    assert len(rtbs) == 12
    assert rtbs[0].open_ == pytest.approx(minute.open)
    assert rtbs[-1].close == pytest.approx(minute.close, abs=1e-3)
    assert max(b.high for b in rtbs) == pytest.approx(minute.high)
    assert min(b.low for b in rtbs) == pytest.approx(minute.low)


async def test_market_data_pauses_on_1100_and_catches_up_in_order_on_1102(ib, gateway) -> None:
    bars = ib.reqRealTimeBars(SPY, 5, "TRADES", True)
    await settle()
    gateway.connectivity_lost()
    gateway.step(60)
    await settle()
    assert len(bars) == 0
    gateway.connectivity_restored(data_kept=True)
    await settle()
    assert len(bars) == 12
    assert all((b.time - a.time).total_seconds() == 5 for a, b in zip(bars, bars[1:], strict=False))


async def test_subscriptions_are_gone_after_1101(ib, gateway) -> None:
    bars = ib.reqRealTimeBars(SPY, 5, "TRADES", True)
    await settle()
    gateway.connectivity_lost()
    gateway.connectivity_restored(data_kept=False)
    gateway.step(60)
    await settle()
    assert len(bars) == 0
