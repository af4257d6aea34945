"""`main.py --with-day-trader`: both bots trade one simulated day on ONE connection (one client
id), each in its own book, and neither touches the other's shares.

Thursday 2019-02-14 from the shared data, from 13:30 to the close: the day trader trades SPY,
QQQ and MSFT on their real minutes; the weekly bot's scheduled 13:45 cycle buys its universe,
MSFT included, on the daily data's minute paths. The Gateway simulator runs as its own process so the broker's truth (every
execution with its client id and ref, the positions) is read after the bots are done.
"""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest

from observability.history import HistoryDB
from tests.e2e.harness import broker_executions, wait_until, write_watchlist
from tests.e2e.weekly_harness import report, start_gateway, start_weekly, write_universe
from trade.models import OrderRef
from trade.portfolio.book import WeeklyRef

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAY = "2019-02-14"
UNIVERSE = ["KO", "PEP", "V", "NEE", "COST", "MSFT"]
WATCHLIST = ["SPY", "QQQ", "MSFT"]
# rules loose enough that the day trader keeps trading all afternoon (entries above VWAP whatever
# the RSI, small targets and stops), so the day holds many round trips in the shared symbols
LOOSE = {"atr_min_pct": 0.0002, "rsi_max": 100.0, "profit_target": 0.002, "stop_loss": 0.002}


def test_both_bots_trade_one_day_on_one_connection_without_touching_each_others_shares(tmp_path):
    universe = write_universe(tmp_path, UNIVERSE, {"top_k": 6, "max_weight": 0.2,
                                                   "min_edge_z": -5, "hold_edge_z": -5})
    watchlist = write_watchlist(tmp_path, WATCHLIST, {s: LOOSE for s in WATCHLIST})
    # the afternoon at x500 (a market minute is 120 ms: the day trader acts on fresh bars only)
    gateway = start_gateway(DAY, sorted({*UNIVERSE, *WATCHLIST}), speed=500, at="13:30")
    try:
        bot = start_weekly(
            tmp_path, "--allocation", "0.5", "--with-day-trader", "--allocation-day", "0.3",
            "--run-days", "Thursday", "--run-time", "13:45", "--port", str(gateway.port),
            "--universe", str(universe), "--watchlist", str(watchlist),
            "--db", str(tmp_path / "both.db"), "--client-id", "5")
        assert bot.stderr is not None  # piped by start_weekly

        def run_logs() -> list[Path]:
            return sorted((tmp_path / "logs").rglob(f"day_trader_run_{DAY}*.json"))
        weekly = tmp_path / "reports" / "weekly" / f"weekly_report_{DAY}.json"
        assert wait_until(lambda: "clients=5" in gateway.admin("status"), 30)

        def day_over() -> bool:
            return bool(run_logs()) and weekly.exists() and bot.poll() is None

        connections = set()
        deadline = time.monotonic() + 90
        while not day_over() and time.monotonic() < deadline and bot.poll() is None:
            connections.add(gateway.admin("status").split("clients=")[1].split()[0])
            time.sleep(0.2)
        assert day_over(), (bot.poll(), bot.stderr.read() if bot.poll() is not None else "")
        bot.send_signal(signal.SIGTERM)  # scheduled mode runs until told to stop
        out, err = bot.communicate(timeout=30)
        assert bot.returncode == 0, err[-3000:]
        positions = gateway.state()["positions"]
        fills = broker_executions(gateway.port)
    finally:
        gateway.stop()
    assert connections == {"5"}  # one connection, one client id, the whole day
    assert "day trader: 2019-02-14:" in out and "weekly: 2019-02-14: done" in out

    # the broker's truth, per bot (by order ref), in execution order
    mine: dict[str, dict[str, int]] = {"WK": defaultdict(int), "DT": defaultdict(int)}
    for fill in sorted(fills, key=lambda f: (f.time, f.execution.execId)):
        ex = fill.execution
        assert ex.clientId == 5
        if WeeklyRef.parse(ex.orderRef):
            bot_name = "WK"
        else:
            ref = OrderRef.parse(ex.orderRef)
            assert ref is not None and ref.bot == "DT", ex.orderRef
            bot_name = "DT"
        signed = int(ex.shares) if ex.side == "BOT" else -int(ex.shares)
        mine[bot_name][fill.contract.symbol] += signed
        assert mine[bot_name][fill.contract.symbol] >= 0, "a bot sold shares it did not own"
    dt_traded = {s for s in mine["DT"]}
    log = json.loads(run_logs()[-1].read_text())
    assert dt_traded, ([h for h in log.get("health_events", [])][:5], log.get("warnings"),
                       [line for line in err.splitlines() if "trade.intraday" in line][:40])
    assert set(mine["WK"]) == set(UNIVERSE)
    assert all(q == 0 for q in mine["DT"].values())  # the day trader ends flat...
    weekly_rep = report(tmp_path, DAY)
    targets = {t["symbol"]: t["qty"] for t in weekly_rep["targets"]}
    assert dict(mine["WK"]) == targets  # ...and the weekly book holds exactly its targets
    assert {s: int(q) for s, q in positions.items()} == targets
    assert targets["MSFT"] > 0  # the shared symbol: the day trader's flatten left it alone

    db = HistoryDB.open(tmp_path / "both.db")
    try:
        weekly_book = {p.symbol: p.qty for p in db.book_positions("weekly")}
        intraday_book = {p.symbol: p.qty for p in db.book_positions("intraday")}
    finally:
        db.close()
    assert weekly_book == targets and intraday_book == {}
    assert log["flat_at"] is not None and log["allocation"] == 0.3
