"""The nightly cycle with the real ChatDeepSeek client against a loopback OpenAI-compatible
server: a good answer applies a bounded, replay-validated change; garbage, a timeout, an
out-of-bounds value, an unknown parameter and a wrong type change nothing and are recorded; no
key skips the LLM; the key never reaches the prompt, the DB, the logs, the spans or the report.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from improvement.cycle import CycleOutcome, run_cycle
from improvement.params_store import load_day_params
from improvement.replay import EventReplayer
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


async def cycle(path: Path, tmp_path: Path, replayer: EventReplayer,
                server: FakeOpenAIServer | None, timeout_s: float = 5.0) -> CycleOutcome:
    llm = endpoint(server, timeout_s) if server is not None else None
    return await asyncio.to_thread(run_cycle, path, cycle_inputs(tmp_path, replayer, llm=llm))


def applied_rows(path: Path) -> list[Any]:
    with HistoryDB.open(path) as db:
        return [c for c in db.parameter_changes_since(EPOCH) if c.status == "applied"]


async def test_a_good_answer_applies_a_bounded_replay_validated_change(
    tmp_path: Path, replayer: EventReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    outcome = await cycle(path, tmp_path, replayer, llm_server)
    report = outcome.report
    assert report["llm"]["status"] == "ok" and report["llm"]["model"] == "deepseek:deepseek-chat"
    [llm] = [s for s in report["suggestions"] if s["source"].startswith("llm")]
    assert (llm["parameter"], llm["old"], llm["new"], llm["applied"]) == (
        "profit_target", 0.014, 0.02, True)
    check = llm["validation"]
    assert check["passed"] and check["beats_out_of_sample"] and check["dsr"] >= 0.95
    oos = check["out_of_sample"]
    assert oos["candidate"]["net_pnl"] > oos["current"]["net_pnl"]
    assert check["sessions"]["sessions"] == 8 and oos["sessions"] == 2
    assert report["next_params"]["profit_target"] == 0.02 and report["next_session"] == NEXT
    assert report["llm"]["recommendations"][0]["outcome"].startswith("applied: ")
    [row] = applied_rows(path)
    assert (row.parameter, row.old_value, row.new_value, row.source) == (
        "profit_target", 0.014, 0.02, "llm")
    with HistoryDB.open(path) as db:
        [trial] = db.tuning_trials()
        assert trial.candidate == {"profit_target": 0.02} and trial.verdict.startswith("applied")
        [evaluation] = db.evaluations("llm")
        assert evaluation.status == "ok" and evaluation.content["recommendations"]
    tomorrow = load_day_params(path, datetime.fromisoformat(NEXT).date(), Params())
    assert tomorrow.params.profit_target == 0.02 and tomorrow.variant == ""
    assert tomorrow.params.as_dict() == report["next_params"]


BAD_ANSWERS = {
    "garbage": ("Raise the target, the market is strong!", "error: invalid json"),
    "wrong_type": (answer(recommend("profit_target", "0.02")), "error: schema"),
    "out_of_bounds": (answer(recommend("profit_target", 0.05)), "ok"),
    "unknown_parameter": (answer(recommend("max_leverage", 3.0)), "ok"),
    "not_tunable": (answer(recommend("rsi_max", 70.0)), "ok"),
    "fractional_minutes": (answer(recommend("cooldown_minutes", 15.5)), "ok"),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
async def test_a_bad_answer_changes_nothing_and_is_recorded(
    case: str, tmp_path: Path, replayer: EventReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    content, status = BAD_ANSWERS[case]
    llm_server.reply(content)
    report = (await cycle(path, tmp_path, replayer, llm_server)).report
    assert report["llm"]["status"].startswith(status)
    assert report["next_params"] == Params().as_dict() and applied_rows(path) == []
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
    tmp_path: Path, replayer: EventReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply_after(1.0, '{"summary": "late", "insights": [], "recommendations": []}')
    report = (await cycle(path, tmp_path, replayer, llm_server, timeout_s=0.3)).report
    assert report["llm"]["status"].startswith("error: timeout")
    assert report["next_params"] == Params().as_dict() and applied_rows(path) == []
    with HistoryDB.open(path) as db:
        assert db.evaluations("llm")[0].status.startswith("error: timeout")


async def test_without_a_key_the_llm_is_skipped(tmp_path: Path, replayer: EventReplayer) -> None:
    path = traded_db(tmp_path, replayer)
    report = (await cycle(path, tmp_path, replayer, None)).report
    assert report["llm"] == {"status": "skipped: no DEEPSEEK_API_KEY", "model": "none",
                             "summary": "", "insights": [], "recommendations": []}
    with HistoryDB.open(path) as db:
        assert db.evaluations("llm")[0].status == "skipped: no DEEPSEEK_API_KEY"


async def test_the_key_never_reaches_prompt_db_logs_spans_or_report(
    tmp_path: Path, replayer: EventReplayer, llm_server: FakeOpenAIServer,
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
    for step in ("cycle.metrics", "cycle.regime", "cycle.llm", "cycle.suggest", "cycle.ab_test",
                 "cycle.validate", "cycle.apply", "cycle.report", "llm.call"):
        assert f'"name": "{step}"' in spans, step
    assert KEY not in spans and KEY not in caplog.text
    assert KEY not in outcome.path.read_text()
    for db_file in tmp_path.glob("history.db*"):
        assert KEY.encode() not in db_file.read_bytes(), db_file
    # the answer's own mention of the key was redacted on the way in, not stored
    assert "[redacted]" in outcome.path.read_text()
