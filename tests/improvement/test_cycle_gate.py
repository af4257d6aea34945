"""The nightly cycle's one gate, end to end on replayed markets: nothing trades before it passes
(a candidate that merely beat the current params on the test sessions used to become challenger
B), sizing is judged risk-adjusted, a passing candidate trades as B and becomes A only when the
A/B test's paired sessions confirm it, the deflation counts distinct candidates (not re-tests),
and the LLM sees the in-sample sessions only."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

from improvement.calibration_markets import ALLOCATION, EQUITY, OVERRIDES, SYMBOLS, market
from improvement.calibration_run import WARMUP, _trade_day, market_days
from improvement.cycle import CycleInputs, run_cycle
from improvement.fast_replay import BacktestReplayer
from improvement.gate import GateSettings
from improvement.params_store import load_day_params
from improvement.replay import ReplayConfig
from observability.history import HistoryDB
from observability.schema import ImprovementCycleCommit, TuningTrialRow
from tests.fakes.openai_server import FakeOpenAIServer
from tests.improvement.conftest import (
    GATE,
    TODAY,
    answer,
    cycle_inputs,
    endpoint,
    recommend,
    record_day,
    traded_db,
)
from trade.calendar import MarketCalendar
from trade.models import Params

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
CALENDAR = MarketCalendar()


def test_beating_the_current_params_on_the_test_sessions_is_not_enough(tmp_path: Path) -> None:
    """Seed 6 of the null market, its first night: stop_loss 0.01 made +$25/session more than
    the current params over the 13 test sessions, well inside the noise. The old cycle made any
    such candidate challenger B; now it is rejected and nothing trades differently."""
    gate = GateSettings()
    days = market_days(3, gate.sessions)
    replayer = BacktestReplayer(market(6, days, None), SYMBOLS,
                                ReplayConfig(allocation=ALLOCATION, equity=EQUITY), OVERRIDES)
    night = days[WARMUP + gate.sessions - 1]
    _trade_day(tmp_path / "h.db", replayer, night)
    report = run_cycle(tmp_path / "h.db", CycleInputs(
        night, Params(), SYMBOLS, ALLOCATION, EQUITY, tmp_path / "r", OVERRIDES, replayer,
        gate=gate)).report
    [stop] = [s for s in report["suggestions"] if s["parameter"] == "stop_loss"
              and s["new"] == 0.01]
    check = stop["validation"]
    assert check["stage"] == "tested" and check["test"]["sessions"] == 13
    assert check["candidate_test_pnl"] > check["current_test_pnl"]  # it did beat them
    assert not check["passed"] and not stop["challenger"]
    assert "rejected: tested on 13 sessions 2025-01-23..2025-02-10" in stop["decision"]
    assert "the gate needs the interval above +" in stop["reason"]
    assert report["ab_test"]["status"] == "none" and report["next_variant"] == ""
    assert report["next_params"] == Params().as_dict()


async def test_a_bigger_position_is_judged_risk_adjusted_not_by_its_bigger_pnl(
    tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer
) -> None:
    """The LLM's position_pct 0.10, twice the configured 0.05: it doubles the P&L of a
    profitable strategy, and the per-session P&L comparison used to reward that leverage."""
    base = Params(position_pct=0.05)
    path = traded_db(tmp_path, replayer, params=base)
    llm_server.reply(answer(recommend("position_pct", 0.10, "size up, it is working")))
    inputs = cycle_inputs(tmp_path, replayer, llm=endpoint(llm_server), base_params=base,
                          gate=GateSettings(sessions=8, max_tested=8))
    report = (await asyncio.to_thread(run_cycle, path, inputs)).report
    [llm] = [s for s in report["suggestions"] if s["source"] == "llm"]
    check = llm["validation"]
    assert check["stage"] == "tested" and abs(check["sizing_scale"] - 0.5) < 0.05
    assert check["candidate_test_pnl"] < 1.1 * check["current_test_pnl"]  # scaled back
    raw = replayer.replay(Params(position_pct=0.10), [date(2026, 2, 18)]).days[0].net_pnl
    assert raw > 1.8 * replayer.replay(base, [date(2026, 2, 18)]).days[0].net_pnl
    assert not llm["passed"] and not llm["challenger"] and "risk-adjusted x0.49" in llm["reason"]


async def test_a_passing_candidate_trades_as_b_and_becomes_a_only_when_confirmed(
    tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    llm_server.always(answer())
    first = (await asyncio.to_thread(run_cycle, path, cycle_inputs(
        tmp_path, replayer, llm=endpoint(llm_server)))).report
    b = [s for s in first["suggestions"] if s["challenger"]]
    assert len(b) == 1 and b[0]["passed"]
    assert first["ab_test"]["status"] == "started" and first["next_variant"] == "A"
    assert first["next_params"] == Params().as_dict()  # nothing changed yet: A trades first
    assert first["tuned"] == {}
    with HistoryDB.open(path) as db:
        [row] = [c for c in db.parameter_changes_since(EPOCH) if c.variant == "B"]
        assert row.status == "rejected" and "challenger B from 2026-02-19" in row.reason
    night, reports = TODAY, []
    for _ in range(5):  # five sessions, each traded live by its variant, replayed by the other
        night = CALENDAR.next_session(night).date
        today = load_day_params(path, night, Params())
        [day] = replayer.replay(today.params, [night]).days
        record_day(path, day, variant=today.variant)
        reports.append((await asyncio.to_thread(run_cycle, path, cycle_inputs(
            tmp_path, replayer, day=night, llm=endpoint(llm_server)))).report)
    assert [r["ab_test"]["status"] for r in reports] == ["collecting"] * 4 + ["promote"]
    verdict = reports[-1]["ab_test"]["verdict"]
    assert verdict["sessions"] == 5 and verdict["a_sessions"] == 3 and verdict["b_sessions"] == 2
    assert verdict["paired"]["low"] > 0
    new = b[0]["new"]
    assert reports[-1]["next_params"]["profit_target"] == new and reports[-1]["next_variant"] == ""
    assert "A/B test: promote: look 1/4: B confirmed" in reports[-1]["decisions"][-1]
    with HistoryDB.open(path) as db:
        [change] = [c for c in db.parameter_changes_since(EPOCH) if c.source == "ab_test"]
        assert (change.status, change.new_value) == ("applied", new)


def _trial(night: date, candidate: dict[str, float], stage: str) -> TuningTrialRow:
    return TuningTrialRow(night, candidate, next(iter(candidate)), "rule", 4, 1.0, 0.0, 0.0, None,
                          "rejected: seeded", CALENDAR.session(night).close, {"stage": stage})


def test_the_level_is_deflated_for_distinct_candidates_not_for_re_tests(
    tmp_path: Path, replayer: BacktestReplayer
) -> None:
    """Earlier nights of the look-back re-tested one candidate five times: that is one trial,
    not five; sixty different candidates tried last year are outside the look-back."""
    path = traded_db(tmp_path, replayer)
    trials = [_trial(d, {"profit_target": 0.0168}, "tested")
              for d in (date(2026, 2, 9), date(2026, 2, 10), date(2026, 2, 11),
                        date(2026, 2, 12), date(2026, 2, 13))]
    trials += [_trial(date(2025, 6, 2), {"stop_loss": round(0.005 + i * 1e-4, 6)}, "tested")
               for i in range(60)]
    trials.append(_trial(date(2026, 2, 17), {"cooldown_minutes": 30}, "in_sample"))  # screened
    close = CALENDAR.session(date(2026, 2, 17)).close
    with HistoryDB.open(path) as db:
        db.commit_improvement_cycle(ImprovementCycleCommit(date(2026, 2, 17), close,
                                                           {"date": "seeded"}, trials))
    report = run_cycle(path, cycle_inputs(tmp_path, replayer)).report
    tested = [s for s in report["suggestions"]
              if s["validation"] and s["validation"]["stage"] == "tested"]
    keys = {json.dumps({s["parameter"]: s["new"]}, sort_keys=True) for s in tested}
    expected = len(keys | {json.dumps({"profit_target": 0.0168})})
    assert tested and all(s["validation"]["distinct_candidates"] == expected for s in tested)
    assert expected <= 3


async def test_the_llm_sees_the_in_sample_sessions_only(
    tmp_path: Path, replayer: BacktestReplayer, llm_server: FakeOpenAIServer
) -> None:
    path = traded_db(tmp_path, replayer)
    llm_server.reply(answer())
    report = (await asyncio.to_thread(run_cycle, path, cycle_inputs(
        tmp_path, replayer, llm=endpoint(llm_server)))).report
    window = report["window"]
    [request] = llm_server.requests
    prompt = json.loads(request.body["messages"][-1]["content"])  # the user message
    shown = prompt["metrics"]["in_sample_replay"]
    assert (shown["from"], shown["to"], shown["sessions"]) == (
        window["in_sample"]["from"], window["in_sample"]["to"], GATE.sessions // 2)
    assert "day" not in prompt["metrics"] and "window" not in prompt["metrics"]
    assert window["test"]["from"] > shown["to"]
