"""Trades, the daily summary, metrics, health, parameter changes and evaluations round-trip."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from observability.history import HistoryDB
from observability.schema import (
    DailyMetricsRow,
    EvaluationRow,
    HealthRow,
    ParameterChangeRow,
    SchemaValueError,
)
from tests.observability.conftest import DAY, OPEN_UTC, make_trade


def test_recorded_trade_reads_back_with_every_field(db: HistoryDB) -> None:
    trade = make_trade(3, 12.5, commission=1.0)
    trade.id = db.record_trade(trade)
    assert db.trades_on(DAY) == [trade]
    assert trade.net_pnl == 12.5 and trade.gross_pnl == 13.5  # pnl is net of commission


def test_trades_on_filters_by_day_and_book(db: HistoryDB) -> None:
    db.record_trade(make_trade(1, 5.0))
    db.record_trade(make_trade(2, 5.0, book="weekly"))
    db.record_trade(make_trade(3, 5.0, day=date(2025, 7, 7)))
    assert len(db.trades_on(DAY)) == 2
    assert [t.book for t in db.trades_on(DAY, book="weekly")] == ["weekly"]
    assert len(db.trades_between(DAY, date(2025, 7, 7), book="intraday")) == 2


def test_daily_summary_counts_wins_and_measures_drawdown_in_exit_order(db: HistoryDB) -> None:
    # net P&L in exit order: +10, -4, -8, +3  -> equity 10, 6, -2, 1: drawdown 12 from the peak.
    for minute, pnl in [(40, 3.0), (1, 10.0), (20, -8.0), (10, -4.0)]:
        db.record_trade(make_trade(minute, pnl, commission=0.5))
    summary = db.daily_summary(DAY)
    assert (summary.trades, summary.wins, summary.losses) == (4, 2, 2)
    assert summary.win_rate == 0.5
    assert summary.commissions == pytest.approx(2.0)
    assert summary.gross_pnl == pytest.approx(3.0)
    assert summary.total_pnl == pytest.approx(1.0)
    assert summary.max_drawdown == pytest.approx(12.0)


def test_daily_summary_of_a_day_without_trades_is_zero(db: HistoryDB) -> None:
    summary = db.daily_summary(DAY)
    assert (summary.trades, summary.win_rate, summary.max_drawdown) == (0, 0.0, 0.0)


def test_daily_metrics_for_the_same_day_and_bot_are_replaced(db: HistoryDB) -> None:
    row = DailyMetricsRow(DAY, "day-trader", 4, 2, 0.5, 12.0, 3.0, commissions=2.0, sharpe=1.2,
                          variant="A", extra={"regime": "trend"})
    db.record_daily_metrics(row)
    row.total_pnl = 20.0
    db.record_daily_metrics(row)
    assert db.daily_metrics("day-trader", DAY, DAY) == [row]


def test_health_sample_round_trips(db: HistoryDB) -> None:
    sample = HealthRow(OPEN_UTC, "day-trader", "warning", 12.5, 180.0, False, 35.0, 70.0,
                       connection_status="reconnecting", actions=["resubscribed"], detail="stale")
    db.record_health(sample)
    assert db.health_since(OPEN_UTC - timedelta(minutes=1)) == [sample]


def test_health_status_outside_the_three_levels_is_rejected(db: HistoryDB) -> None:
    with pytest.raises(SchemaValueError, match="status='fine' is invalid"):
        db.record_health(HealthRow(OPEN_UTC, "x", "fine", 0, 0, True, 0, 0))


def test_parameter_change_keeps_values_reason_and_outcome(db: HistoryDB) -> None:
    change = ParameterChangeRow(OPEN_UTC, "profit_target", 0.014, 0.016, "trend regime", "regime",
                                "rejected", variant="B")
    db.record_parameter_change(change)
    assert db.parameter_changes_since(OPEN_UTC) == [change]


def test_evaluations_come_back_newest_first_by_kind(db: HistoryDB) -> None:
    db.record_evaluation(EvaluationRow(OPEN_UTC, "rule", {"n": 1}))
    db.record_evaluation(EvaluationRow(OPEN_UTC + timedelta(hours=1), "llm", {"insights": ["x"]}))
    db.record_evaluation(EvaluationRow(OPEN_UTC + timedelta(hours=2), "rule", {"n": 2}))
    assert [e.content for e in db.evaluations(kind="rule")] == [{"n": 2}, {"n": 1}]
    assert len(db.evaluations(limit=1)) == 1


def test_secrets_never_reach_the_file(db: HistoryDB, db_path: Path) -> None:
    db.record_evaluation(EvaluationRow(OPEN_UTC, "llm", {"api_key": "sk-abcdefghijklmnopqrstuv",
                                                         "summary": "used sk-abcdefghijklmnopqrstuv"}))
    db.record_execution("e1", "DT-20250703-SPY-1-ENTRY", "SPY", "BOT", 10, 100.0, OPEN_UTC, 1.0,
                        "intraday", account="DU1234567")
    db.close()
    raw = b"".join(Path(p).read_bytes() for p in (db_path, f"{db_path}-wal") if Path(p).exists())
    assert b"sk-abcdefghijklmnopqrstuv" not in raw
    assert b"DU1234567" not in raw
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT account FROM executions").fetchone()[0] == "****4567"
