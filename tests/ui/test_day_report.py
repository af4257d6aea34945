"""`python -m ui.day_report`: what the page holds for each source present or missing, and bad input."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from observability.history import HistoryDB
from observability.schema import HealthRow, ParameterChangeRow, TradeRow
from tests.paths import REPO
from trade.models import Bar
from ui.day_report import build_report, main

NY = ZoneInfo("America/New_York")
DAY = date(2025, 7, 3)
OPEN = datetime(2025, 7, 3, 9, 30, tzinfo=NY)


def _trade(symbol: str, minute: int, pnl: float, reason: str = "target") -> TradeRow:
    entry = OPEN + timedelta(minutes=minute)
    return TradeRow(
        trading_date=DAY, book="intraday", symbol=symbol, side="BUY", qty=10, entry_time=entry,
        entry_price=100.0, exit_time=entry + timedelta(minutes=7), exit_price=100.0 + pnl / 10,
        pnl=pnl, commission=1.0, variant="B", rsi=55.0, vwap=99.9, atr=0.2,
        reason="enter: close 100.00 > vwap 99.90, rsi 55.0 < 60", exit_reason=reason,
        order_ref=f"DT-20250703-{symbol}-{minute}-ENTRY",
    )


def _db(path: Path, trades: list[TradeRow], bars: bool = True) -> Path:
    with HistoryDB.open(path) as db:
        for trade in trades:
            db.record_trade(trade)
        if bars:
            for symbol in {t.symbol for t in trades}:
                db.record_minute_bars(DAY, [
                    Bar(symbol, OPEN + timedelta(minutes=i), 100.0, 100.2, 99.8, 100.0 + (i % 7) / 10, 500.0)
                    for i in range(60)])
        db.record_health(HealthRow(OPEN + timedelta(minutes=40), "day-trader", "warning", 12.0, 90.0,
                                   True, 250.0, 3.0, "connected", ["pause entries"], "event loop lag 250 ms"))
        db.record_parameter_change(ParameterChangeRow(
            datetime(2025, 7, 3, 13, 30, tzinfo=NY), "profit_target", 0.014, 0.012,
            "low volatility regime", "regime", "applied"))
    return path


def _run_log(logs: Path, name: str = "day_trader_run_2025-07-03.json", **extra: object) -> Path:
    logs.mkdir(parents=True, exist_ok=True)
    body = {
        "date": "2025-07-03", "allocation": 0.25, "account": "****1234",
        "params": {"default": {"profit_target": 0.014, "vwap_period": 20},
                   "SPY": {"profit_target": 0.02, "vwap_period": 20}},
        "watchlist": {"kept": [{"symbol": "SPY", "kept": True, "reason": "kept: avg dollar volume 31,100,707,609",
                                "stats": {"avg_dollar_volume": 3.1e10, "avg_range_pct": 0.0092}}],
                      "dropped": [{"symbol": "ZZZ", "kept": False, "reason": "dropped: <script>alert(1)</script> no data",
                                   "stats": {}}]},
        "trades": [{"symbol": "SPY", "qty": 5, "entry_time": "2025-07-03T10:00:00-04:00",
                    "entry_price": 600.0, "exit_time": "2025-07-03T10:20:00-04:00", "exit_price": 606.0,
                    "exit_reason": "target", "pnl": 28.0, "commission": 2.0}],
        "realized_pnl": 28.0, "flat_at": "2025-07-03T12:55:03-04:00", "reconnects": 1,
        "health_events": [{"time": "2025-07-03T11:00:00-04:00", "status": "critical",
                           "detail": "connection lost", "actions": ["reconnect", "pause entries"]}],
        "rejections": [{"time": "2025-07-03T11:30:00-04:00", "symbol": "SPY",
                        "order_ref": "DT-20250703-SPY-3-ENTRY", "reason": "IB 201: order rejected"}],
        "warnings": ["SPY: adopted 3 shares found at the broker"],
        "started_at": "2025-07-03T09:25:00-04:00", "ended_at": "2025-07-03T12:56:00-04:00",
        "stopped_by": "close", **extra,
    }
    path = logs / name
    path.write_text(json.dumps(body))
    return path


def _report(tmp_path: Path, day: date = DAY) -> str:
    path = build_report(day, tmp_path / "history.db", tmp_path / "logs", tmp_path / "reports")
    return path.read_text()


def test_db_and_run_log_give_every_section(tmp_path: Path) -> None:
    _db(tmp_path / "history.db", [_trade("SPY", 5, 14.0), _trade("QQQ", 30, -8.0, "stop")])
    _run_log(tmp_path / "logs", no_entry={"SPY": {"HOLD_RSI_HIGH": 12, "HOLD_BELOW_VWAP": 40,
                                                  "risk: daily loss cap": 3}},
             control_actions=[
        {"time": "2025-07-03T11:45:00-04:00", "action": "pause", "by": "status page", "result": "entries paused"}])
    page = _report(tmp_path)
    assert page.count('class="chart symbol-chart"') == 2
    assert 'id="chart-QQQ"' in page and 'id="chart-SPY"' in page and 'id="equity-curve"' in page
    assert "From the history DB history.db" in page  # the DB wins over the run log's trade list
    assert "enter: close 100.00 &gt; vwap 99.90" in page
    assert "kept: avg dollar volume 31,100,707,609" in page
    assert "below vwap 40, rsi high 12, risk: daily loss cap 3" in page  # why it did not trade
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "connection lost" in page and "IB 201: order rejected" in page
    assert "adopted 3 shares" in page
    assert "event loop lag 250 ms" in page.split('id="health"')[1]  # a non-normal health row
    assert "entries paused" in page  # a status-page action from the run log
    assert "low volatility regime" in page  # a parameter change recorded that day
    assert "<b>0.02</b>" in page  # SPY's override differs from the default
    assert "Variant: <b>B</b>" in page
    assert "no improvement report" in page


def test_the_improvement_cycle_is_shown_when_it_ran(tmp_path: Path) -> None:
    _db(tmp_path / "history.db", [_trade("SPY", 5, 14.0)])
    improvement = tmp_path / "reports" / "improvement"
    improvement.mkdir(parents=True)
    oos = {"sessions": 6, "current": {"net_pnl": 83.32}, "candidate": {"net_pnl": 129.43}}
    (improvement / "improvement_report_2025-07-03.json").write_text(json.dumps({
        "date": "2025-07-03", "next_session": "2025-07-07",
        "regime": {"name": "low_volatility", "reason": "SPY ATR 0.6% < 0.8%", "features": None},
        "suggestions": [
            {"parameter": "profit_target", "old": 0.014, "new": 0.012, "source": "regime",
             "priority": "high", "why": "quiet tape", "applied": True,
             "reason": "beats the current params out of sample",
             "validation": {"out_of_sample": oos, "dsr": 0.97, "passed": True}},
            {"parameter": "stop_loss", "old": 0.008, "new": 0.004, "source": "llm",
             "priority": "low", "why": "tighter stops", "applied": False,
             "reason": "outside the safety bounds 0.5-2.0%", "validation": None}],
        "ab_test": {"status": "started", "reason": "B = cooldown_minutes 0 -> 15 from 2025-07-07"},
        "llm": {"status": "ok", "model": "deepseek-chat", "summary": "calm day",
                "insights": ["stops too tight"], "recommendations": []},
        "metrics": {"day": {"net_pnl": -143.05, "trades": 13, "profit_factor": 0.74}},
        "params_today": {"params": {"profit_target": 0.014, "stop_loss": 0.008}},
        "next_variant": "A", "next_params": {"profit_target": 0.012, "stop_loss": 0.008}}))
    page = _report(tmp_path)
    assert "low_volatility: SPY ATR 0.6% &lt; 0.8%" in page
    assert "quiet tape" in page and "outside the safety bounds" in page and "not applied" in page
    assert "out of sample (6 sessions): +83.32 now vs +129.43; DSR 0.970; passed" in page
    assert "not validated" in page
    assert "B = cooldown_minutes 0 -&gt; 15" in page
    assert "Parameters for the next session (2025-07-07, variant A)" in page
    assert "<b>0.012</b>" in page  # the tuned value differs from today's
    assert "calm day" in page and "stops too tight" in page and "deepseek-chat" in page
    assert "profit factor" in page and "no improvement report" not in page


def test_without_a_run_log_the_page_says_what_is_missing(tmp_path: Path) -> None:
    _db(tmp_path / "history.db", [_trade("SPY", 5, 14.0)])
    page = _report(tmp_path)
    assert "no run log logs/day_trader_run_2025-07-03*.json" in page
    assert "no watchlist verdicts (no run log)" in page
    assert page.count('class="chart symbol-chart"') == 1


def test_without_a_db_the_trades_come_from_the_run_log(tmp_path: Path) -> None:
    _run_log(tmp_path / "logs")
    page = _report(tmp_path)
    assert "no history DB at" in page and "From the run log day_trader_run_2025-07-03.json" in page
    assert page.count('class="chart symbol-chart"') == 1
    assert not (tmp_path / "history.db").exists()  # a report never creates the bot's DB


def test_missing_minute_bars_are_named_and_the_chart_still_shows_the_trades(tmp_path: Path) -> None:
    _db(tmp_path / "history.db", [_trade("SPY", 5, 14.0)], bars=False)
    page = _report(tmp_path)
    assert "no minute bars recorded for SPY" in page
    assert page.count('class="chart symbol-chart"') == 1


def test_every_run_of_a_restarted_day_contributes_its_events(tmp_path: Path) -> None:
    _db(tmp_path / "history.db", [_trade("SPY", 5, 14.0)])
    first = _run_log(tmp_path / "logs", "day_trader_run_2025-07-03-a.json", stopped_by="signal")
    _run_log(tmp_path / "logs", "day_trader_run_2025-07-03-b.json",
                      health_events=[{"time": "2025-07-03T12:00:00-04:00", "status": "warning",
                                      "detail": "data stale 95 s", "actions": []}])
    os.utime(first, (1, 1))
    page = _report(tmp_path)
    assert "connection lost" in page and "data stale 95 s" in page
    assert "day_trader_run_2025-07-03-a.json" in page and "day_trader_run_2025-07-03-b.json" in page
    summary = page.split('id="summary"')[1].split("</section>")[0]
    assert "close" in summary and "signal" not in summary  # the newest run speaks for the day


def test_plotly_is_written_once_beside_the_reports_not_inlined(tmp_path: Path) -> None:
    _db(tmp_path / "history.db", [_trade("SPY", 5, 14.0)])
    _run_log(tmp_path / "logs")
    first = build_report(DAY, tmp_path / "history.db", tmp_path / "logs", tmp_path / "reports")
    script = first.parent / "plotly.min.js"
    stamp = script.stat().st_mtime_ns
    other = build_report(DAY, tmp_path / "history.db", tmp_path / "logs", tmp_path / "reports",
                         out=first.parent / "copy.html")
    assert script.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in first.parent.iterdir()) == ["copy.html", "day_report_2025-07-03.html",
                                                             "plotly.min.js"]
    for page in (first, other):
        text = page.read_text()
        assert '<script src="plotly.min.js"></script>' in text
        assert len(text) < script.stat().st_size / 10


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ui.day_report", *args], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=60)


def test_the_cli_writes_the_report_where_the_issue_says(tmp_path: Path) -> None:
    _db(tmp_path / "trading_history.db", [_trade("SPY", 5, 14.0)])
    result = _cli(tmp_path, "--date", "2025-07-03")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reports" / "daily" / "day_report_2025-07-03.html").is_file()
    assert (tmp_path / "reports" / "daily" / "plotly.min.js").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["--date", "2025-13-01"], "--date 2025-13-01 is invalid: use a date YYYY-MM-DD"),
    (["--date", "2025-07-04"], "--date 2025-07-04 is not an NYSE session"),
    (["--date", "2025-07-02"], "--date 2025-07-02: nothing recorded for that day"),
    ([], "--date is required"),
])
def test_bad_dates_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _db(tmp_path / "trading_history.db", [_trade("SPY", 5, 14.0)])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        raise SystemExit(main(args))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "reports").exists()


def test_an_empty_db_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    HistoryDB.open(tmp_path / "empty.db").close()
    assert main(["--date", "2025-07-03", "--db", str(tmp_path / "empty.db"),
                 "--logs", str(tmp_path / "logs"), "--reports", str(tmp_path / "reports")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing recorded for that day" in err


def test_a_file_that_is_not_a_db_is_one_line_and_exit_2(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.db").write_text("these are my notes, not a database\n" * 100)
    assert main(["--date", "2025-07-03", "--db", str(tmp_path / "notes.db"),
                 "--logs", str(tmp_path / "logs"), "--reports", str(tmp_path / "reports")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--db" in err and "notes.db" in err
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(tmp_path / "notes.db").execute("SELECT 1 FROM sqlite_master").fetchall()
