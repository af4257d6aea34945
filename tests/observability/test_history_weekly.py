"""The weekly rebalancer's rows: a cycle and its targets stored together, status moves, and an
execution applied to the weekly book exactly once in the same transaction as its record."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from observability.history import HistoryDB, HistoryDBError
from observability.schema import SchemaValueError, WeeklyCycleRow, WeeklyTargetRow
from tests.observability.conftest import DAY, OPEN_UTC


def _cycle(status: str = "trading") -> WeeklyCycleRow:
    return WeeklyCycleRow(DAY, status, 0.5, 50_000.0, OPEN_UTC, llm="none",
                          llm_status="skipped: no LLM configured",
                          analysis={"candidates": [{"symbol": "KO", "score": 0.4}]},
                          book_before={"KO": {"qty": 3}})


def _targets() -> list[WeeklyTargetRow]:
    return [WeeklyTargetRow(DAY, "KO", 0.25, 250, 50.0, "BUY", "outside band"),
            WeeklyTargetRow(DAY, "PEP", 0.25, 100, 120.0, "", "inside band")]


def test_a_cycle_and_its_targets_come_back_as_stored(db: HistoryDB) -> None:
    db.record_weekly_cycle(_cycle(), _targets())
    cycle = db.weekly_cycle(DAY)
    assert cycle is not None
    assert (cycle.status, cycle.budget, cycle.llm) == ("trading", 50_000.0, "none")
    assert cycle.analysis == {"candidates": [{"symbol": "KO", "score": 0.4}]}
    assert cycle.book_before == {"KO": {"qty": 3}}
    assert db.weekly_targets(DAY) == _targets()
    assert db.weekly_cycle(DAY + timedelta(days=1)) is None


def test_storing_a_day_again_replaces_its_targets(db: HistoryDB) -> None:
    db.record_weekly_cycle(_cycle("failed"), _targets())
    db.record_weekly_cycle(_cycle(), _targets()[:1])
    assert [t.symbol for t in db.weekly_targets(DAY)] == ["KO"]
    cycle = db.weekly_cycle(DAY)
    assert cycle is not None and cycle.status == "trading"


def test_status_moves_and_notes_the_report(db: HistoryDB) -> None:
    db.record_weekly_cycle(_cycle(), _targets())
    assert db.set_weekly_cycle_status(DAY, "done", OPEN_UTC + timedelta(hours=1), "r.json")
    cycle = db.weekly_cycle(DAY)
    assert cycle is not None
    assert (cycle.status, cycle.report_path) == ("done", "r.json")
    assert cycle.updated_time == OPEN_UTC + timedelta(hours=1)
    assert not db.set_weekly_cycle_status(DAY + timedelta(days=1), "done", OPEN_UTC)
    with pytest.raises(SchemaValueError, match="status='paused' is invalid"):
        db.set_weekly_cycle_status(DAY, "paused", OPEN_UTC)


def test_a_replanned_target_is_updated(db: HistoryDB) -> None:
    db.record_weekly_cycle(_cycle(), _targets())
    assert db.update_weekly_target(WeeklyTargetRow(DAY, "PEP", 0.25, 110, 115.0, "BUY", "re-check"))
    assert db.weekly_targets(DAY)[1] == WeeklyTargetRow(DAY, "PEP", 0.25, 110, 115.0, "BUY",
                                                        "re-check")


def test_a_bad_target_leaves_no_half_stored_cycle(db: HistoryDB) -> None:
    bad = [*_targets(), WeeklyTargetRow(DAY, "XOM", -0.1, 5, 60.0)]
    with pytest.raises(HistoryDBError):
        db.record_weekly_cycle(_cycle(), bad)
    assert db.weekly_cycle(DAY) is None and db.weekly_targets(DAY) == []


def test_an_execution_moves_the_book_once(db: HistoryDB) -> None:
    t = OPEN_UTC
    assert db.record_book_execution("e1", "WK-20250703-KO-1", "KO", "BUY", 10, 50.0, t, 1.0, "weekly")
    assert not db.record_book_execution("e1", "WK-20250703-KO-1", "KO", "BUY", 10, 50.0, t, 1.0,
                                        "weekly")
    assert db.record_book_execution("e2", "WK-20250703-KO-1", "KO", "BUY", 10, 60.0, t, 1.0, "weekly")
    [position] = db.book_positions("weekly")
    assert (position.qty, position.avg_cost) == (20, 55.0)
    assert db.record_book_execution("e3", "WK-20250703-KO-2", "KO", "SELL", 5, 70.0, t, 1.0, "weekly")
    [position] = db.book_positions("weekly")
    assert (position.qty, position.avg_cost) == (15, 55.0)
    assert db.record_book_execution("e4", "WK-20250703-KO-3", "KO", "SELL", 99, 70.0, t, 1.0, "weekly")
    assert db.book_positions("weekly") == []
    assert [e.exec_id for e in db.executions_for("WK-20250703-KO-1")] == ["e1", "e2"]
    assert db.book_positions("intraday") == []


def test_a_failed_book_update_leaves_no_execution_behind(db: HistoryDB, db_path: Path) -> None:
    with sqlite3.connect(db_path) as other:
        other.execute("CREATE TRIGGER refuse BEFORE INSERT ON book_positions "
                      "BEGIN SELECT RAISE(ABORT, 'book refused'); END")
    with pytest.raises(HistoryDBError):
        db.record_book_execution("e1", "WK-20250703-KO-1", "KO", "BUY", 10, 50.0, OPEN_UTC, 0.0,
                                 "weekly")
    assert db.executions_for("WK-20250703-KO-1") == []
