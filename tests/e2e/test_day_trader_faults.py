"""The day trader under the failures that hurt IB bots in real life, against the simulator running
as its own process: Gateway restarts, a killed bot, rejected orders and partial fills, a position
that belongs to the weekly book, and bad input."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from observability.history import HistoryDB
from observability.schema import IntentState
from tests.e2e.harness import (
    DATA,
    GatewayProcess,
    ProtectionMonitor,
    broker_executions,
    run_bot,
    run_log,
    start_bot,
    wait_until,
    write_watchlist,
)
from trade.models import OrderRef

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NY = ZoneInfo("America/New_York")
EPOCH = datetime(2000, 1, 1, tzinfo=NY)
HALF_DAY = "2025-07-03"  # SPY, closes 13:00: flatten 12:55
SPY_ONLY = {"SPY": {"atr_min_pct": 0.0002, "atr_timeframe": "1 min"}}


def _half_day_gateway(speed: float, *extra: str) -> GatewayProcess:
    return GatewayProcess.start("--data", str(DATA), "--date", HALF_DAY, "--symbols", "SPY",
                                "--speed", str(speed), *extra)


def _bot_args(tmp_path, gateway: GatewayProcess, allocation: str = "0.5") -> list[str]:
    watchlist = write_watchlist(tmp_path, ["SPY"], SPY_ONLY)
    return ["--allocation", allocation, "--port", str(gateway.port), "--watchlist", str(watchlist),
            "--db", str(tmp_path / "paper.db"), "--no-improve"]


def _assert_flat_and_recorded_once(tmp_path, gateway: GatewayProcess) -> dict:
    """Broker flat (for our book), no order ref sent twice, every bot execution in the DB once."""
    state = gateway.state()
    refs = [r for r in state["order_refs"] if r.startswith("DT-")]
    duplicates = [r for r, n in Counter(refs).items() if n > 1]
    assert not duplicates, f"order refs sent twice: {duplicates}"
    fills = broker_executions(gateway.port)
    ours = {f.execution.execId for f in fills
            if (ref := OrderRef.parse(f.execution.orderRef)) is not None and ref.bot == "DT"}
    db = HistoryDB.open(tmp_path / "paper.db")
    try:
        recorded = [e.exec_id for e in db.executions_since(EPOCH)]
    finally:
        db.close()
    assert len(recorded) == len(set(recorded))
    assert set(recorded) == ours
    return state


def test_three_gateway_restarts_reconnect_without_duplicates_or_unprotected_positions(tmp_path):
    gateway = _half_day_gateway(0)  # held until the bot is up: a slow start must not skip the entries
    try:
        bot = start_bot(tmp_path, *_bot_args(tmp_path, gateway))
        with ProtectionMonitor(gateway) as monitor:
            assert wait_until(lambda: "clients=2" in gateway.admin("status"), 30), "bot never connected"
            time.sleep(1.0)  # its history and subscriptions, still at the open
            assert gateway.admin("speed 600").startswith("OK")
            for _ in range(3):
                time.sleep(3.0)
                assert gateway.admin("restart 1").startswith("OK")
            out, err = bot.communicate(timeout=120)
        assert bot.returncode == 0, err[-3000:]
        log = run_log(tmp_path, HALF_DAY)
        assert log["reconnects"] == 3
        assert datetime.fromisoformat(log["flat_at"]).time().isoformat() >= "12:55:00"
        assert monitor.samples > 50
        assert monitor.max_position.get("SPY", 0) > 0, "the bot never held a position"
        assert monitor.longest_unprotected < 5.0, monitor.longest_unprotected
        state = _assert_flat_and_recorded_once(tmp_path, gateway)
        assert not state["positions"]
    finally:
        gateway.stop()


def test_killed_bot_restarted_adopts_its_position_keeps_exits_and_is_flat_at_close(tmp_path):
    gateway = _half_day_gateway(0)
    try:
        args = _bot_args(tmp_path, gateway)
        first = start_bot(tmp_path, *args)
        with ProtectionMonitor(gateway) as monitor:
            assert wait_until(lambda: "clients=2" in gateway.admin("status"), 30), "bot never connected"
            time.sleep(1.0)  # its history and subscriptions, still at the open
            assert gateway.admin("speed 600").startswith("OK")
            held = wait_until(lambda: gateway.state()["positions"].get("SPY", 0) > 0, 60)
            assert held, "the bot never bought"
            assert gateway.admin("speed step").startswith("OK")  # hold the market still
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            before = gateway.state()
            exits = [o for o in before["open_orders"] if o["action"] == "SELL"]
            assert exits, "the bracket's exits must outlive the bot (held at the broker)"
            second = start_bot(tmp_path, *args)
            assert wait_until(lambda: "clients=2" in gateway.admin("status"), 30)
            time.sleep(2.0)  # the restarted bot reconciles against the frozen market
            after = gateway.state()
            assert after["positions"] == before["positions"], "the position must be kept, not sold"
            assert {o["order_id"] for o in after["open_orders"]} == {o["order_id"] for o in exits}
            assert gateway.admin("speed 900").startswith("OK")
            out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err[-3000:]
        log = run_log(tmp_path, HALF_DAY)
        assert log["flat_at"] is not None
        assert monitor.longest_unprotected < 5.0
        state = _assert_flat_and_recorded_once(tmp_path, gateway)
        assert not state["positions"]
        legs = {ref.leg for r in state["order_refs"] if (ref := OrderRef.parse(r)) is not None}
        assert "PROT" not in legs, "exits were still working: the restarted bot must keep them"
    finally:
        gateway.stop()


def test_rejected_entry_and_partial_fill_are_handled_and_recorded(tmp_path):
    gateway = _half_day_gateway(900)
    try:
        assert gateway.admin("reject-next 201").startswith("OK")
        bot = start_bot(tmp_path, *_bot_args(tmp_path, gateway))
        assert wait_until(lambda: len(gateway.state()["order_refs"]) > 0, 60)
        assert gateway.admin("partial-next 0.5").startswith("OK")
        out, err = bot.communicate(timeout=120)
        assert bot.returncode == 0, err[-3000:]
        log = run_log(tmp_path, HALF_DAY)
        assert log["rejections"], "the rejected entry must be reported"
        rejected_ref = log["rejections"][0]["order_ref"]
        db = HistoryDB.open(tmp_path / "paper.db")
        try:
            intent = db.intent(rejected_ref)
            assert intent is not None and intent.state in (IntentState.REJECTED, IntentState.CANCELLED)
            assert not db.executions_for(rejected_ref)
            split = [i for i in db.intents_on(datetime(2025, 7, 3).date())
                     if i.order_ref.endswith("-ENTRY") and len(db.executions_for(i.order_ref)) > 1]
            assert split, "the partially filled entry should have more than one execution"
            trades = db.trades_on(datetime(2025, 7, 3).date())
            entry_qty = sum(e.qty for e in db.executions_for(split[0].order_ref))
            assert any(t.order_ref == split[0].order_ref and t.qty == entry_qty for t in trades)
        finally:
            db.close()
        state = _assert_flat_and_recorded_once(tmp_path, gateway)
        assert not state["positions"]
    finally:
        gateway.stop()


def test_position_owned_by_the_weekly_book_is_never_touched(tmp_path):
    from ib_async import IB, Contract, MarketOrder, Stock

    gateway = _half_day_gateway(900)
    try:
        async def weekly_buys() -> float:
            ib = IB()
            await ib.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=10)
            contract = (await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD")))[0]
            assert isinstance(contract, Contract), contract  # one unambiguous contract
            trade = ib.placeOrder(contract, MarketOrder("BUY", 40, orderRef="WK-20250703-SPY-1-ENTRY"))
            while not trade.isDone():
                await asyncio.sleep(0.01)
            ib.disconnect()
            return trade.orderStatus.avgFillPrice

        price = asyncio.run(weekly_buys())
        db = HistoryDB.open(tmp_path / "paper.db")
        db.set_book_position("weekly", "SPY", 40, price, datetime(2025, 7, 3, 9, 31, tzinfo=NY))
        db.close()
        result = run_bot(tmp_path, *_bot_args(tmp_path, gateway), timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        state = _assert_flat_and_recorded_once(tmp_path, gateway)
        assert state["positions"].get("SPY") == 40, state["positions"]
        fills = [f for f in broker_executions(gateway.port) if f.execution.orderRef.startswith("DT-")]
        bought = sum(f.execution.shares for f in fills if f.execution.side == "BOT")
        sold = sum(f.execution.shares for f in fills if f.execution.side == "SLD")
        assert bought == sold, "the day trader sold shares it never bought"
        db = HistoryDB.open(tmp_path / "paper.db")
        try:
            assert db.book_qty("weekly", "SPY") == 40
        finally:
            db.close()
    finally:
        gateway.stop()


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_unknown_symbol_and_live_account_are_refused_with_one_line_and_no_orders(tmp_path):
    gateway = _half_day_gateway(60)
    try:
        watchlist = write_watchlist(tmp_path, ["SPY", "ZZZZ"], name="unknown.json")
        result = run_bot(tmp_path, "--allocation", "0.25", "--port", str(gateway.port),
                         "--watchlist", str(watchlist), "--db", str(tmp_path / "a.db"))
        assert result.returncode == 2
        assert "ZZZZ" in _one_error_line(result)
        assert gateway.state()["order_refs"] == []
    finally:
        gateway.stop()
    live = _half_day_gateway(60, "--account", "U7654321")
    try:
        watchlist = write_watchlist(tmp_path, ["SPY"], name="spy.json")
        result = run_bot(tmp_path, "--allocation", "0.25", "--port", str(live.port),
                         "--watchlist", str(watchlist), "--db", str(tmp_path / "b.db"))
        assert result.returncode == 2
        line = _one_error_line(result)
        assert "--live" in line and "U7654321" not in line and "4321" in line
        assert live.state()["order_refs"] == []
    finally:
        live.stop()


@pytest.mark.parametrize("body", ['{"symbols": ["SPY",]}', '{"symbols": []}',
                                  '{"symbols": ["SPY", "SPY"]}', '{"symbols": ["spy!"]}'])
def test_malformed_watchlist_is_one_line_and_exit_2(tmp_path, body):
    path = tmp_path / "bad.json"
    path.write_text(body)
    result = run_bot(tmp_path, "--allocation", "0.25", "--port", "1", "--watchlist", str(path))
    assert result.returncode == 2
    assert "watchlist" in _one_error_line(result)
