"""`day_trader.py` end to end against the simulator on real shared-data sessions."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from observability.history import HistoryDB
from tests.e2e.harness import (
    DATA,
    GatewayProcess,
    broker_executions,
    run_bot,
    run_log,
    write_watchlist,
)
from trade.indicators import compute_indicators
from trade.models import OrderRef, Params
from trade.ticks import to_tick

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NY = ZoneInfo("America/New_York")
EPOCH = datetime(2000, 1, 1, tzinfo=NY)


def _bars(symbol: str, day: str) -> pd.DataFrame:
    """The day's bars as the simulator serves them: every price snapped to the tick grid."""
    frame = pd.read_csv(DATA / "intraday" / symbol / f"{day}.csv")
    for column in ("open", "high", "low", "close"):
        frame[column] = frame[column].map(to_tick)
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1)
    frame["start"] = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_convert(NY)
    return frame


def _assert_entries_obey_rules(db_path, symbol_params: dict[str, Params],
                               days: dict[str, list[str]], cutoff: time) -> int:
    """Recompute VWAP(20)/RSI(14)/ATR(14) from the CSVs (prior sessions + the day), find the bar
    each entry was decided on (the one whose indicators the bot recorded), and check every rule
    held there and the bar completed before the entry cut-off. Returns the entries checked."""
    db = HistoryDB.open(db_path)
    try:
        rows = db.trades_between(date(2000, 1, 1), date(2100, 1, 1))
    finally:
        db.close()
    frames: dict[str, pd.DataFrame] = {}
    for row in rows:
        if row.symbol not in frames:
            frame = pd.concat([_bars(row.symbol, d) for d in days[row.symbol]], ignore_index=True)
            ind = compute_indicators(frame.set_index("start")).reset_index(drop=True)
            frames[row.symbol] = pd.concat([frame, ind], axis=1)
        frame = frames[row.symbol]
        ends = frame["start"] + pd.Timedelta(minutes=1)
        done = frame[ends <= pd.Timestamp(row.entry_time)].tail(10)
        rsi = row.rsi
        assert rsi is not None, f"{row.order_ref}: the entry's RSI was not recorded"
        match = done[(done["rsi"] - rsi).abs() <= 1e-6 * max(abs(rsi), 1.0)]
        assert not match.empty, f"no bar before {row.entry_time} has the recorded RSI {rsi}"
        bar = match.iloc[-1]
        params = symbol_params[row.symbol]
        assert bar["vwap"] == pytest.approx(row.vwap, rel=1e-9)
        assert bar["close"] > bar["vwap"], row
        assert bar["rsi"] < params.rsi_max, row
        assert bar["atr"] / bar["close"] > params.atr_min_pct, row
        assert (bar["start"] + pd.Timedelta(minutes=1)).time() < cutoff, row
    return len(rows)


def _assert_db_matches(db_path, trades_log: list[dict], broker_fills: list | None = None) -> None:
    db = HistoryDB.open(db_path)
    try:
        executions = db.executions_since(EPOCH)
        ids = [e.exec_id for e in executions]
        assert len(ids) == len(set(ids)), "an execution was recorded twice"
        if broker_fills is not None:
            ours = {f.execution.execId for f in broker_fills if OrderRef.parse(f.execution.orderRef)}
            assert set(ids) == ours, "DB executions differ from the broker's"
        rows = [t for d in {date.fromisoformat(t["entry_time"][:10]) for t in trades_log}
                for t in db.trades_on(d)]
        assert len(rows) == len(trades_log)
        bought = sum(e.qty for e in executions if e.side == "BUY")
        sold = sum(e.qty for e in executions if e.side == "SELL")
        assert bought == sold == sum(t["qty"] for t in trades_log), "not flat, or trades miss fills"
        net = sum(
            (e.qty * e.price if e.side == "SELL" else -e.qty * e.price) - e.commission
            for e in executions
        )
        assert net == pytest.approx(sum(t["pnl"] for t in trades_log), abs=0.02 * max(len(trades_log), 1))
    finally:
        db.close()


def test_half_day_replay_trades_by_the_rules_and_is_flat_by_1255(tmp_path):
    day = "2025-07-03"  # NYSE closes 13:00: flatten 12:55, last entry 12:30
    overrides = {"SPY": {"atr_min_pct": 0.0002, "atr_timeframe": "1 min"}}
    watchlist = write_watchlist(tmp_path, ["SPY"], overrides)
    db = tmp_path / "sim.db"
    result = run_bot(tmp_path, "--allocation", "0.25", "--sim", "--sim-data", str(DATA),
                     "--sim-date", day, "--speed", "1200", "--watchlist", str(watchlist),
                     "--db", str(db), "--no-improve")
    assert result.returncode == 0, result.stderr[-3000:]
    log = run_log(tmp_path, day)
    for key in ("date", "allocation", "params", "watchlist", "trades", "realized_pnl", "flat_at",
                "reconnects", "health_events"):
        assert key in log
    assert log["date"] == day and log["allocation"] == 0.25
    assert log["trades"], "expected entries on SPY with a 0.02% ATR threshold"
    flat_at = datetime.fromisoformat(log["flat_at"])
    assert datetime(2025, 7, 3, 12, 55, tzinfo=NY) <= flat_at < datetime(2025, 7, 3, 12, 56, tzinfo=NY)
    for trade in log["trades"]:
        for key in ("symbol", "qty", "entry_time", "entry_price", "exit_time", "exit_price",
                    "exit_reason", "pnl"):
            assert key in trade
        assert datetime.fromisoformat(trade["exit_time"]) <= flat_at
        assert trade["exit_reason"] in ("target", "stop", "flatten")
    _assert_db_matches(db, log["trades"])
    history = HistoryDB.open(db)
    try:
        health = history.health_since(EPOCH, agent="day-trader")
    finally:
        history.close()
    assert len(health) >= 100, "a health row per market minute of the session"  # 60 s checks
    assert all(h.status in ("normal", "warning", "critical") and h.memory_mb > 0 for h in health)
    checked = _assert_entries_obey_rules(db, {"SPY": Params(atr_min_pct=0.0002, atr_timeframe="1 min")},
                                         {"SPY": ["2025-07-01", "2025-07-02", day]}, time(12, 30))
    assert checked == len(log["trades"])


def test_full_day_against_a_standalone_gateway_records_every_execution_once(tmp_path):
    day = "2026-02-03"
    symbols = ["IONQ", "SOXL", "MRNA"]
    overrides = {s: {"atr_min_pct": 0.003, "atr_timeframe": "1 min"} for s in symbols}
    watchlist = write_watchlist(tmp_path, symbols, overrides)
    gateway = GatewayProcess.start("--data", str(DATA), "--date", day, "--symbols", *symbols,
                                   "--speed", "1200")
    try:
        db = tmp_path / "paper.db"
        result = run_bot(tmp_path, "--allocation", "0.5", "--port", str(gateway.port),
                         "--watchlist", str(watchlist), "--db", str(db), "--no-improve")
        assert result.returncode == 0, result.stderr[-3000:]
        log = run_log(tmp_path, day)
        assert log["trades"]
        exit_legs = set()
        fills = broker_executions(gateway.port)
        for fill in fills:
            ref = OrderRef.parse(fill.execution.orderRef)
            if ref is not None and fill.execution.side == "SLD":
                exit_legs.add(ref.leg)
        assert exit_legs & {"TP", "SL"}, "exits should come from the broker-side bracket children"
        reasons = {t["exit_reason"] for t in log["trades"]}
        assert reasons <= {"target", "stop", "flatten"}
        assert datetime.fromisoformat(log["flat_at"]).time() >= time(15, 55)
        _assert_db_matches(db, log["trades"], fills)
        prior = ["2026-01-29", "2026-01-30", "2026-02-02", day]
        checked = _assert_entries_obey_rules(
            db, {s: Params(atr_min_pct=0.003, atr_timeframe="1 min") for s in symbols}, dict.fromkeys(symbols, prior),
            time(15, 30),
        )
        assert checked == len(log["trades"])
    finally:
        gateway.stop()


def test_a_trade_is_one_trace_from_bar_to_fill_in_the_otlp_receiver(tmp_path):
    """With OTEL_EXPORTER_OTLP_ENDPOINT set, the bot exports a trace per decision: the bar's root
    span, the decision, the risk check, the bracket order and the fills, linked parent to child."""
    from tests.observability.otlp_receiver import OtlpHttpReceiver

    day = "2025-07-03"
    watchlist = write_watchlist(tmp_path, ["SPY"], {"SPY": {"atr_min_pct": 0.0002, "atr_timeframe": "1 min"}})
    with OtlpHttpReceiver() as receiver:
        env_extra = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                     "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
        result = run_bot(tmp_path, "--allocation", "0.25", "--sim", "--sim-data", str(DATA),
                         "--sim-date", day, "--speed", "1200", "--watchlist", str(watchlist),
                         "--db", str(tmp_path / "sim.db"), "--no-improve", env=env_extra)
        assert result.returncode == 0, result.stderr[-3000:]
        spans = receiver.spans
    assert {s.service_name for s in spans} == {"day-trader"}
    by_id = {s.span_id: s for s in spans}
    fills = [s for s in spans if s.name == "fill" and s.parent_span_id in by_id]
    assert fills, "fills should join their decision's trace"
    fill = fills[0]
    decide = by_id[fill.parent_span_id]
    assert decide.name == "decide"
    root = by_id[decide.parent_span_id]
    assert root.name == "bar SPY" and root.parent_span_id == ""
    family = {s.name for s in spans if s.trace_id == root.trace_id}
    assert {"bar SPY", "decide", "risk.check", "order.place_bracket", "fill"} <= family
    order = next(s for s in spans if s.trace_id == root.trace_id and s.name == "order.place_bracket")
    assert order.attributes["trading.symbol"] == "SPY"
    assert order.attributes["trading.order_ref"].startswith("DT-20250703-SPY-")
    assert fill.attributes["trading.order_ref"].startswith("DT-20250703-SPY-")
    assert any(s.name == "db.record_execution" for s in spans)
    assert not any("DU1234567" in str(s.attributes) for s in spans), "account id must be masked"
