"""The nightly cycle's records: idempotent nights, a quiet session's night, an unknown regime said
plainly, the `--params` file, and the command line's one-line errors. (The gate's decisions:
test_cycle_gate.py.)"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from improvement.after_close import summary_line
from improvement.cli import main as cli_main
from improvement.cycle import run_cycle
from improvement.fast_replay import BacktestReplayer
from improvement.params_store import ParamsFileError, load_day_params, params_from_file
from observability.history import HistoryDB
from observability.schema import DailyMetricsRow
from tests.fakes.openai_server import FakeOpenAIServer
from tests.improvement.conftest import (
    TODAY,
    answer,
    cycle_inputs,
    endpoint,
    recommend,
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
    tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    inputs = cycle_inputs(tmp_path, replayer, llm=endpoint(llm_server))
    first = await asyncio.to_thread(run_cycle, path, inputs)
    before, text = dump(path), first.path.read_text()
    [llm] = [s for s in first.report["suggestions"] if "llm" in s["source"]]
    assert not first.already_ran and llm["passed"]
    second = await asyncio.to_thread(run_cycle, path, inputs)
    assert second.already_ran and second.report == first.report
    assert dump(path) == before and second.path.read_text() == text
    assert len(llm_server.requests) == 1
    first.path.unlink()  # a lost report file is rewritten from the DB, byte for byte
    third = await asyncio.to_thread(run_cycle, path, inputs)
    assert third.path.read_text() == text and dump(path) == before


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
    assert report["metrics"]["window"]["sessions_run"] == 1
    assert report["next_params"] == Params().as_dict()


def test_an_unknown_regime_is_said_plainly_and_the_night_still_decides(
    tmp_path: Path, replayer: BacktestReplayer
) -> None:
    """The shared SPY file ends in 2021: every 2026 night's regime is `unknown`. The report's
    notes, the summary line and the day report must make that obvious, and the cycle goes on."""
    from improvement.regime import regime_bars
    from sim.market.bar_sources import CsvBarSource
    from tests.paths import DATA

    spy = regime_bars(CsvBarSource(DATA), "SPY")  # the shared daily file: ends 2021-03-31
    outcome = run_cycle(traded_db(tmp_path, replayer),
                        cycle_inputs(tmp_path, replayer, regime_bars=spy))
    report = outcome.report
    assert report["regime"]["name"] == "unknown" and "2021-03-31" in report["regime"]["reason"]
    assert report["notes"][0].startswith("regime unknown (SPY): ")
    assert "no regime rule applied tonight" in report["notes"][0]
    assert "regime UNKNOWN (" in summary_line(outcome)
    assert report["suggestions"] and not [s for s in report["suggestions"]
                                          if s["source"] == "regime"]


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
    tmp_path: Path, replayer: BacktestReplayer, capsys: pytest.CaptureFixture[str],
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


def test_python_m_improvement_writes_the_report(tmp_path: Path,
                                                      replayer: BacktestReplayer) -> None:
    path = traded_db(tmp_path, replayer)
    (tmp_path / "wl.json").write_text('{"symbols": ["AAA"]}')
    (tmp_path / "daily").mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "REPORTS_DIR": str(tmp_path / "r")}
    result = subprocess.run(
        [sys.executable, "-m", "improvement", "--date", "2026-02-18", "--db", str(path),
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


def test_the_report_says_first_what_the_current_parameters_earn_and_the_next_start_reads_it(
    tmp_path: Path, replayer: BacktestReplayer
) -> None:
    """Issue 21 item 11: the report's first entry is the current parameters' expectancy with its
    interval, and a negative one is the line the next session's start prints."""
    path = traded_db(tmp_path, replayer)
    report = run_cycle(path, cycle_inputs(tmp_path, replayer)).report
    earned = report["expectancy"]
    assert list(report)[0] == "headline"
    assert report["headline"].startswith("the current parameters, replayed on the ")
    per_trade = earned["per_trade"]
    assert per_trade["low"] <= per_trade["per_trade"] <= per_trade["high"]
    assert earned["losing"] == (per_trade["per_trade"] < 0) == (earned["line"] is not None)
    next_day = MarketCalendar().next_session(TODAY).date
    scheduled = load_day_params(path, next_day, Params())
    assert scheduled.losing == earned["line"]
    # a losing review is what the start says (written as a cycle that measured a loss would)
    stored = {**report, "expectancy": {**earned, "losing": True,
                                       "line": "the current parameters lose"}}
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE improvement_cycles SET report = ? WHERE cycle_date = ?",
                     (json.dumps(stored), TODAY.isoformat()))
    assert load_day_params(path, next_day, Params()).losing == "the current parameters lose"
