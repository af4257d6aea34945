"""The nightly cycle's decisions and records: idempotent nights, the DSR counting every trial
ever tried (a candidate that only beats the current params becomes challenger B), the A/B
test's promotion and its too-small sample, and the command line's one-line errors."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from improvement.cli import main as cli_main
from improvement.cycle import run_cycle
from improvement.params_store import ParamsFileError, load_day_params, params_from_file
from improvement.replay import EventReplayer
from observability.history import HistoryDB
from observability.schema import (
    ABTestRow,
    DailyMetricsRow,
    ImprovementCycleCommit,
    TradeRow,
)
from tests.fakes.openai_server import FakeOpenAIServer
from tests.improvement.conftest import (
    TODAY,
    answer,
    cycle_inputs,
    endpoint,
    recommend,
    record_day,
    seed_trials,
    traded_db,
)
from tests.paths import REPO
from trade.calendar import MarketCalendar
from trade.models import Params

NY = ZoneInfo("America/New_York")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
CALENDAR = MarketCalendar()


def dump(path: Path) -> dict[str, list[Any]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"SELECT * FROM {t}").fetchall() for t in sorted(tables)}


async def test_a_second_run_of_the_same_night_changes_nothing(
    tmp_path: Path, replayer: EventReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    inputs = cycle_inputs(tmp_path, replayer, llm=endpoint(llm_server))
    first = await asyncio.to_thread(run_cycle, path, inputs)
    before, text = dump(path), first.path.read_text()
    assert not first.already_ran and [s["applied"] for s in first.report["suggestions"]] == [True]
    second = await asyncio.to_thread(run_cycle, path, inputs)
    assert second.already_ran and second.report == first.report
    assert dump(path) == before and second.path.read_text() == text
    assert len(llm_server.requests) == 1
    first.path.unlink()  # a lost report file is rewritten from the DB, byte for byte
    third = await asyncio.to_thread(run_cycle, path, inputs)
    assert third.path.read_text() == text and dump(path) == before


async def test_the_dsr_counts_every_trial_so_a_lucky_candidate_becomes_challenger_b(
    tmp_path: Path, replayer: EventReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    seed_trials(path, [4.0 if i % 2 else -4.0 for i in range(60)], date(2026, 1, 30))
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    report = (await asyncio.to_thread(run_cycle, path, cycle_inputs(
        tmp_path, replayer, llm=endpoint(llm_server)))).report
    [llm] = report["suggestions"]
    check = llm["validation"]
    assert check["beats_out_of_sample"] and not check["passed"] and check["trials_counted"] == 61
    assert check["dsr"] < 0.95 and "below 0.95" in llm["reason"]
    assert "challenger B in an A/B test from 2026-02-19" in llm["reason"]
    assert report["ab_test"]["status"] == "started" and report["next_variant"] == "A"
    assert report["next_params"] == Params().as_dict()  # the first test day is an A day
    with HistoryDB.open(path) as db:
        [test] = db.ab_tests("running")
        assert (test.started, test.b_values) == (date(2026, 2, 19), {"profit_target": 0.02})
        [row] = [c for c in db.parameter_changes_since(EPOCH) if c.source == "llm"]
        assert (row.status, row.variant) == ("rejected", "B")
        assert len(db.tuning_trials()) == 61
    b_day = load_day_params(path, date(2026, 2, 20), Params())
    assert (b_day.variant, b_day.params.profit_target) == ("B", 0.02)
    a_day = load_day_params(path, date(2026, 2, 23), Params())
    assert (a_day.variant, a_day.params.profit_target) == ("A", 0.014)
    # the next night the same recommendation is not replayed again: it is already B
    [replayed] = replayer.replay(Params(), [date(2026, 2, 19)]).days
    record_day(path, replayed, variant="A")
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    report = (await asyncio.to_thread(run_cycle, path, cycle_inputs(
        tmp_path, replayer, day=date(2026, 2, 19), llm=endpoint(llm_server)))).report
    [again] = report["suggestions"]
    assert again["validation"] is None and "already trading as challenger B" in again["reason"]
    assert report["ab_test"]["status"] == "collecting" and report["next_variant"] == "B"
    with HistoryDB.open(path) as db:
        assert len(db.tuning_trials()) == 61


def ab_history(path: Path, started: date, sessions: int, b_edge: float) -> date:
    """A running A/B test (B: profit_target 0.02) and `sessions` traded days alternating A/B;
    each day 6 trades of $10,000 notional, B's returns `b_edge` higher. Returns the last day."""
    days = [s.date for s in CALENDAR.sessions_between(started, started + timedelta(days=90))]
    days = days[:sessions]
    close = CALENDAR.session(started).close
    with HistoryDB.open(path) as db:
        db.commit_improvement_cycle(ImprovementCycleCommit(
            CALENDAR.previous_session(started).date, close, {"date": "start"},
            ab_start=ABTestRow(started, "profit_target", {}, {"profit_target": 0.02}, close)))
        for i, day in enumerate(days):
            variant = "AB"[i % 2]
            pnl = 0.0
            for k in range(6):
                ret = 0.004 + (b_edge if variant == "B" else 0.0) + (0.004 if k % 2 else -0.004)
                ret += 0.001 * ((i * 7 + k * 3) % 5 - 2)  # deterministic spread
                opened = datetime(day.year, day.month, day.day, 10, 0, tzinfo=NY)
                db.record_trade(TradeRow(day, "intraday", "AAA", "BUY", 100, opened, 100.0,
                                         opened + timedelta(minutes=30), 100 * (1 + ret),
                                         round(10_000 * ret, 6), 0.0, variant=variant,
                                         exit_reason="target"))
                pnl += 10_000 * ret
            db.record_daily_metrics(DailyMetricsRow(day, "day_trader", 6, 3, 0.5, pnl, 0.0,
                                                    variant=variant))
    return days[-1]


def test_a_b_test_with_a_better_b_promotes_it_as_a_logged_change(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    last = ab_history(path, date(2026, 1, 5), 20, b_edge=0.01)
    report = run_cycle(path, cycle_inputs(tmp_path, None, day=last)).report
    ab = report["ab_test"]
    assert ab["status"] == "promote" and ab["verdict"]["look"] == 1
    assert ab["verdict"]["a_sessions"] == ab["verdict"]["b_sessions"] == 10
    assert report["next_params"]["profit_target"] == 0.02 and report["next_variant"] == ""
    with HistoryDB.open(path) as db:
        [change] = [c for c in db.parameter_changes_since(EPOCH) if c.source == "ab_test"]
        assert (change.status, change.new_value, change.variant) == ("applied", 0.02, "B")
        assert db.ab_tests("promoted") and not db.ab_tests("running")
    after = load_day_params(path, CALENDAR.next_session(last).date, Params())
    assert after.params.profit_target == 0.02 and after.variant == ""


def test_while_the_sample_is_too_small_nothing_changes(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    last = ab_history(path, date(2026, 1, 5), 12, b_edge=0.01)
    report = run_cycle(path, cycle_inputs(tmp_path, None, day=last)).report
    ab = report["ab_test"]
    assert ab["status"] == "collecting" and "sample too small: 6 A and 6 B" in ab["reason"]
    nxt = CALENDAR.next_session(last).date
    assert report["next_variant"] == "A" and report["next_params"] == Params().as_dict()
    assert load_day_params(path, CALENDAR.next_session(nxt).date, Params()).variant == "B"
    with HistoryDB.open(path) as db:
        assert [c for c in db.parameter_changes_since(EPOCH) if c.source == "ab_test"] == []


def test_a_quiet_session_that_made_no_trade_still_gets_its_night(tmp_path: Path) -> None:
    """`--sim-from` over sessions where the screen dropped every symbol: the run recorded only
    its own metrics row (run id set, 0 trades); the cycle said "nothing recorded", then failed
    with an IndexError, and the multi-day replay ended in a traceback."""
    path = tmp_path / "history.db"
    with HistoryDB.open(path) as db:
        db.record_daily_metrics(DailyMetricsRow(TODAY, "day_trader", 0, 0, 0.0, 0.0, 0.0,
                                                run_id="2026-02-02_092500-88b1"))
    report = run_cycle(path, cycle_inputs(tmp_path, None)).report
    assert report["metrics"]["day"]["trades"] == 0
    assert report["metrics"]["window"]["sessions"] == 1
    assert report["next_params"] == Params().as_dict()


def test_params_file_overrides_and_refuses_with_one_line(tmp_path: Path) -> None:
    good = tmp_path / "p.json"
    good.write_text('{"profit_target": 0.02, "stop_loss": 0.01}')
    got = params_from_file(good, Params())
    assert (got.params.profit_target, got.params.stop_loss, got.variant) == (0.02, 0.01, "")
    for text, expected in (('{"target": 1}', "unknown parameter 'target'"),
                           ("[1, 2]", "must hold a JSON object"), ("{", "not a readable JSON")):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(ParamsFileError, match=expected.replace("(", r"\(")) as info:
            params_from_file(bad, Params())
        assert "\n" not in str(info.value)
    assert load_day_params(tmp_path / "none.db", TODAY, Params()).params == Params()


def test_command_line_errors_are_one_line_and_exit_2(
    tmp_path: Path, replayer: EventReplayer, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = traded_db(tmp_path, replayer)
    (tmp_path / "daily").mkdir()
    (tmp_path / "day_trading_watchlist.json").write_text('{"symbols": ["AAA"]}')
    db, data, allocation = ("--db", str(path)), ("--data", str(tmp_path)), ("--allocation", "0.5")
    cases = {
        ("--date", "2026-02-21", *db, *data, *allocation): "2026-02-21 is not an NYSE session",
        ("--date", "2026-2-3", *db, *data, *allocation): "--date 2026-2-3 is invalid: use YYYY-MM-DD",
        ("--date", "2026-02-18", "--db", "missing.db", *data, *allocation): "--db missing.db not found",
        ("--date", "2026-02-17", *db, *data, *allocation): "nothing recorded for 2026-02-17",
        ("--date", "2026-02-18", *db, *data): "--allocation is needed",
        ("--date", "2026-02-18", *db, "--data", "nowhere", *allocation): "--data nowhere has",
    }
    for argv, expected in cases.items():
        assert cli_main(list(argv)) == 2, argv
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "missing.db").exists()


def test_python_m_improvement_cycle_writes_the_report(tmp_path: Path,
                                                      replayer: EventReplayer) -> None:
    path = traded_db(tmp_path, replayer)
    (tmp_path / "wl.json").write_text('{"symbols": ["AAA"]}')
    (tmp_path / "daily").mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "REPORTS_DIR": str(tmp_path / "r")}
    result = subprocess.run(
        [sys.executable, "-m", "improvement.cycle", "--date", "2026-02-18", "--db", str(path),
         "--watchlist", str(tmp_path / "wl.json"), "--data", str(tmp_path), "--allocation",
         "0.5"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "improvement cycle 2026-02-18:" in result.stdout
    assert "LLM skipped: no DEEPSEEK_API_KEY" in result.stdout
    report = json.loads((tmp_path / "r" / "improvement" /
                         "improvement_report_2026-02-18.json").read_text())
    assert {"date", "metrics", "llm", "suggestions", "ab_test", "regime",
            "next_params"} <= set(report)
    assert report["metrics"]["day"]["trades"] > 0


async def test_a_validated_change_stops_a_running_a_b_test(
    tmp_path: Path, replayer: EventReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    close = CALENDAR.session(TODAY).close
    with HistoryDB.open(path) as db:
        db.commit_improvement_cycle(ImprovementCycleCommit(
            date(2026, 2, 13), close, {"date": "start"},
            ab_start=ABTestRow(date(2026, 2, 17), "stop_loss", {}, {"stop_loss": 0.01}, close)))
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    report = (await asyncio.to_thread(run_cycle, path, cycle_inputs(
        tmp_path, replayer, llm=endpoint(llm_server)))).report
    assert [s["applied"] for s in report["suggestions"]] == [True]
    assert report["ab_test"]["status"] == "stopped" and report["next_variant"] == ""
    assert "A changed (profit_target applied" in report["ab_test"]["reason"]
    with HistoryDB.open(path) as db:
        assert db.ab_tests("stopped") and not db.ab_tests("running")
    assert load_day_params(path, date(2026, 2, 20), Params()).variant == ""
