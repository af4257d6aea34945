"""The nightly cycle with the real ChatDeepSeek client against a loopback OpenAI-compatible
server: a good answer's bounded change passes the gate and trades as challenger B; garbage, NaN,
a timeout, an out-of-bounds value, an unknown parameter and a wrong type change nothing and are
recorded; no key skips the LLM; the key never reaches the prompt, the DB, the logs, the spans or
the report.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from improvement.cycle import ImprovementOutcome, run_cycle
from improvement.fast_replay import BacktestReplayer
from improvement.params_store import load_day_params
from observability import tracing
from observability.history import HistoryDB
from tests.fakes.openai_server import FakeOpenAIServer
from tests.improvement.conftest import (
    KEY,
    answer,
    cycle_inputs,
    endpoint,
    recommend,
    traded_db,
)
from trade.models import Params

NEXT = "2026-02-19"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


async def cycle(path: Path, tmp_path: Path, replayer: BacktestReplayer,
                server: FakeOpenAIServer | None, timeout_s: float = 5.0) -> ImprovementOutcome:
    llm = endpoint(server, timeout_s) if server is not None else None
    return await asyncio.to_thread(run_cycle, path, cycle_inputs(tmp_path, replayer, llm=llm))


def applied_rows(path: Path) -> list[Any]:
    with HistoryDB.open(path) as db:
        return [c for c in db.parameter_changes_since(EPOCH) if c.status == "applied"]


async def test_a_good_answer_becomes_challenger_b_after_the_gate(
    tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    outcome = await cycle(path, tmp_path, replayer, llm_server)
    report = outcome.report
    assert report["llm"]["status"] == "ok" and report["llm"]["model"] == "deepseek:deepseek-chat"
    [llm] = [s for s in report["suggestions"] if s["source"].startswith("llm")]
    assert (llm["parameter"], llm["old"], llm["new"]) == ("profit_target", 0.014, 0.02)
    check = llm["validation"]
    assert llm["passed"] and check["stage"] == "tested" and check["test"]["sessions"] == 4
    assert check["candidate_test_pnl"] > check["current_test_pnl"]
    assert check["test"]["low"] > check["margin"] > 0
    assert report["llm"]["recommendations"][0]["outcome"].startswith("passed: ")
    assert report["next_session"] == NEXT and report["next_variant"] == "A"
    assert applied_rows(path) == []  # nothing is applied directly: B trades first
    with HistoryDB.open(path) as db:
        trial = [t for t in db.tuning_trials() if t.source.startswith("llm")]
        assert trial and trial[0].candidate == {"profit_target": 0.02}
        assert trial[0].detail["stage"] == "tested"
        [evaluation] = db.evaluations("llm")
        assert evaluation.status == "ok" and evaluation.content["recommendations"]
        [test] = db.ab_tests("running")
        assert test.started.isoformat() == NEXT
    challenger = [s for s in report["suggestions"] if s["challenger"]]
    assert len(challenger) == 1  # the best lower bound of the night (the LLM's or a neighbour)
    b_day = load_day_params(path, datetime(2026, 2, 20).date(), Params())
    assert b_day.variant == "B" and b_day.params.profit_target == challenger[0]["new"]


async def test_an_answer_with_nan_changes_nothing_and_the_night_completes(
    tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer
) -> None:
    """A NaN value passed the schema, the cycle committed, then writing the report failed (JSON
    has no NaN): day_trader.py exited 1 and every re-run of the date crashed the same way."""
    path = traded_db(tmp_path, replayer)
    for constant in ("NaN", "Infinity"):
        llm_server.reply('{"summary": "s", "insights": [], "recommendations": [{"parameter": '
                         f'"profit_target", "value": {constant}, "priority": "high", '
                         '"reason": "r"}]}')
    first = await cycle(path, tmp_path, replayer, llm_server)
    assert first.report["llm"]["status"] == "error: invalid json: NaN is not a JSON number"
    assert first.path.is_file() and "NaN" not in first.path.read_text().replace(
        "NaN is not", "")
    again = await cycle(path, tmp_path, replayer, llm_server)  # the re-run re-reports
    assert again.already_ran and again.report == first.report
    with HistoryDB.open(path) as db:
        [evaluation] = db.evaluations("llm")
        assert evaluation.status.startswith("error: invalid json") and evaluation.content["raw"]


BAD_ANSWERS: dict[str, tuple[str | dict[str, Any], str]] = {
    "garbage": ("Raise the target, the market is strong!", "error: invalid json"),
    "wrong_type": (answer(recommend("profit_target", "0.02")), "error: schema"),
    "out_of_bounds": (answer(recommend("profit_target", 0.05)), "ok"),
    "unknown_parameter": (answer(recommend("max_leverage", 3.0)), "ok"),
    "not_tunable": (answer(recommend("rsi_max", 70.0)), "ok"),
    "fractional_minutes": (answer(recommend("cooldown_minutes", 15.5)), "ok"),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
async def test_a_bad_answer_changes_nothing_and_is_recorded(
    case: str, tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    content, status = BAD_ANSWERS[case]
    llm_server.reply(content)
    report = (await cycle(path, tmp_path, replayer, llm_server)).report
    assert report["llm"]["status"].startswith(status)
    assert applied_rows(path) == []
    with HistoryDB.open(path) as db:
        [evaluation] = db.evaluations("llm")
        assert evaluation.status == report["llm"]["status"]
        llm_rows = [c for c in db.parameter_changes_since(EPOCH) if c.source == "llm"]
        assert not [t for t in db.tuning_trials() if t.source == "llm"]
    if status == "ok":  # a parsed answer: the recommendation itself is refused, with the reason
        [row] = llm_rows
        assert row.status == "rejected"
        expected = {"out_of_bounds": "outside the safety bounds 0.008-0.03",
                    "unknown_parameter": "unknown parameter 'max_leverage'",
                    "not_tunable": "rsi_max is not tunable",
                    "fractional_minutes": "wrong type: use a whole number of minutes"}[case]
        assert expected in row.reason
        [outcome] = report["llm"]["recommendations"]
        assert outcome["outcome"].startswith("refused: ") and expected in outcome["outcome"]
    else:
        assert llm_rows == [] and evaluation.content["raw"]


async def test_a_timeout_changes_nothing_and_is_recorded(
    tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply_after(1.0, '{"summary": "late", "insights": [], "recommendations": []}')
    report = (await cycle(path, tmp_path, replayer, llm_server, timeout_s=0.3)).report
    assert report["llm"]["status"].startswith("error: timeout")
    assert applied_rows(path) == []
    with HistoryDB.open(path) as db:
        assert db.evaluations("llm")[0].status.startswith("error: timeout")


async def test_without_a_key_the_llm_is_skipped(tmp_path: Path, replayer: BacktestReplayer) -> None:
    path = traded_db(tmp_path, replayer)
    report = (await cycle(path, tmp_path, replayer, None)).report
    assert report["llm"] == {"status": "skipped: no DEEPSEEK_API_KEY", "model": "none",
                             "summary": "", "insights": [], "recommendations": []}
    with HistoryDB.open(path) as db:
        assert db.evaluations("llm")[0].status == "skipped: no DEEPSEEK_API_KEY"


async def test_the_key_never_reaches_prompt_db_logs_spans_or_report(
    tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply(answer(recommend("profit_target", 0.02, f"ignore {KEY}")))
    handle = tracing.setup_tracing("day-trader", console=True, environ={})
    caplog.set_level(logging.DEBUG)
    try:
        outcome = await cycle(path, tmp_path, replayer, llm_server)
    finally:
        handle.shutdown()
    spans = capsys.readouterr().out
    [request] = llm_server.requests
    assert request.authorization == f"Bearer {KEY}"
    assert KEY not in request.prompt_text and "****" not in request.prompt_text
    assert "DEEPSEEK" not in request.prompt_text
    for step in ("cycle.metrics", "cycle.regime", "cycle.window", "cycle.llm", "cycle.suggest",
                 "cycle.ab_test",
                 "cycle.validate", "cycle.apply", "cycle.report", "llm.call"):
        assert f'"name": "{step}"' in spans, step
    assert KEY not in spans and KEY not in caplog.text
    assert KEY not in outcome.path.read_text()
    for db_file in tmp_path.glob("history.db*"):
        assert KEY.encode() not in db_file.read_bytes(), db_file
    # the answer's own mention of the key was redacted on the way in, not stored
    assert "[redacted]" in outcome.path.read_text()
