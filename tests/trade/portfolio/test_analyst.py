"""The analyst: its measures on known series, the Monte Carlo filter, and the LLM's part through
the real client against a loopback OpenAI-compatible server (good answer, garbage, no LLM)."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest

from evaluation.llm import LLMEndpoint
from sim.market.sessions import NY
from tests.fakes.openai_server import FakeOpenAIServer
from trade.models import Bar
from trade.portfolio.analyst import WEIGHTS, analyse, measure, quantitative
from trade.portfolio.screener import Candidate
from trade.portfolio.universe import PortfolioRules

RULES = PortfolioRules(mc_paths=2000)
START = date(2018, 1, 2)


def _bars(symbol: str, closes: list[float]) -> list[Bar]:
    out = []
    for i, close in enumerate(closes):
        start = datetime.combine(START + timedelta(days=i), datetime.min.time(), tzinfo=NY)
        out.append(Bar(symbol, start.replace(hour=9, minute=30), close, close, close, close,
                       1e6, 23400))
    return out


def _trend(symbol: str, daily: float, n: int = 252, wiggle: float = 0.01) -> Candidate:
    closes = [100.0 * math.exp(daily * i + wiggle * math.sin(i * 1.3)) for i in range(n)]
    return Candidate(symbol, _bars(symbol, closes))


def test_measures_of_a_known_series():
    closes = [100.0] * 10 + [120.0] * 221 + [90.0] * 21  # peak 120, trough 90
    metrics = measure(_bars("X", closes))
    assert metrics["momentum_12_1"] == pytest.approx(120.0 / 100.0 - 1)  # 21 sessions back
    assert metrics["max_drawdown"] == pytest.approx(0.25)
    assert metrics["volatility"] > 0


def test_the_filter_passes_a_trend_holds_a_weak_one_drops_a_fall_and_ranks_them():
    up, flat, down = _trend("UP", 0.002), _trend("FLAT", 0.0003), _trend("DOWN", -0.003)
    assessed, symbols, paths = quantitative([up, flat, down], RULES, seed=1)
    verdict = {a.symbol: a for a in assessed}
    assert symbols == ["UP", "FLAT", "DOWN"] and paths is not None and paths.shape == (3, 2000)
    assert verdict["UP"].passed and verdict["UP"].reason.startswith("passed: E[r] +1.0")
    # ~8% a year: not enough evidence to buy it, enough to keep it
    assert not verdict["FLAT"].passed and verdict["FLAT"].holdable
    assert verdict["FLAT"].reason.startswith("hold only: +0.2")
    assert not verdict["DOWN"].holdable and verdict["DOWN"].reason.startswith("filtered: -6.")
    assert verdict["UP"].quant_score > verdict["FLAT"].quant_score > verdict["DOWN"].quant_score
    edge = verdict["UP"].as_dict()["edge"]
    assert edge["z"] > 3 and edge["history_days"] == 251 and edge["round_trip"] > 0
    # P(up) is reported, not scored
    assert "prob_up" in verdict["UP"].metrics and "prob_up" not in WEIGHTS


GOOD = {"ratings": [
    {"symbol": "UP", "rating": 2, "reasons": ["stretched after a long run"]},
    {"symbol": "FLAT", "rating": 5, "reasons": ["steady, low drawdown"]},
]}


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAIServer]:
    server = await FakeOpenAIServer().start()
    yield server
    await server.stop()


def _local(server: FakeOpenAIServer) -> LLMEndpoint:
    endpoint = LLMEndpoint.local({"LOCAL_LLM_BASE_URL": server.base_url, "LLM_TIMEOUT_S": "5"})
    assert endpoint is not None
    return LLMEndpoint(endpoint.provider, endpoint.model, endpoint.base_url, None, 5.0, 0)


async def test_llm_ratings_move_the_scores_and_carry_their_reasons(llm):
    llm.reply(GOOD)
    candidates = [_trend("UP", 0.002), _trend("FLAT", 0.0003), _trend("DOWN", -0.003)]
    analysis = await analyse(candidates, RULES, _local(llm), "unused", seed=1)
    assert analysis.llm.used and analysis.llm.status == "ok"
    by = {a.symbol: a for a in analysis.assessments}
    assert by["FLAT"].llm_rating == 5 and by["FLAT"].llm_reasons == ["steady, low drawdown"]
    assert by["FLAT"].score == pytest.approx(by["FLAT"].quant_score + 2 * RULES.llm_weight)
    assert by["UP"].score == pytest.approx(by["UP"].quant_score - RULES.llm_weight)
    prompt = llm.requests[0].prompt_text
    assert '"symbol":"UP"' in prompt and "DOWN" not in prompt.split("Candidates")[1]
    assert "account" not in prompt.lower()


@pytest.mark.parametrize(("answer", "status"), [
    ("I think UP looks great!", "error: invalid json"),
    (json.dumps({"ratings": [{"symbol": "UP", "rating": "5", "reasons": ["x"]},
                             {"symbol": "FLAT", "rating": 3, "reasons": ["y"]}]}), "error: schema"),
    (json.dumps({"ratings": [{"symbol": "UP", "rating": 9, "reasons": ["x"]},
                             {"symbol": "FLAT", "rating": 3, "reasons": ["y"]}]}), "error: schema"),
    (json.dumps({"ratings": [{"symbol": "UP", "rating": 4, "reasons": ["x"]}]}),
     "error: the answer does not rate exactly the candidates (unknown: none; missing: FLAT)"),
    (json.dumps({"ratings": [{"symbol": "UP", "rating": 4, "reasons": ["x"]},
                             {"symbol": "TSLA", "rating": 4, "reasons": ["x"]}]}),
     "error: the answer does not rate exactly the candidates (unknown: TSLA; missing: FLAT)"),
])
async def test_llm_garbage_leaves_the_quantitative_score_alone(llm, answer, status):
    llm.reply(answer)
    candidates = [_trend("UP", 0.002), _trend("FLAT", 0.0003)]
    analysis = await analyse(candidates, RULES, _local(llm), "unused", seed=1)
    assert not analysis.llm.used and analysis.llm.status.startswith(status)
    assert all(a.score == a.quant_score and a.llm_rating is None for a in analysis.assessments)
    assert analysis.as_dict()["llm"]["note"].startswith("quantitative score alone (error:")


async def test_an_unreachable_llm_is_a_status_not_a_crash(llm):
    endpoint = _local(llm)
    await llm.stop()
    analysis = await analyse([_trend("UP", 0.002)], RULES, endpoint, "unused", seed=1)
    assert not analysis.llm.used and analysis.llm.status.startswith("error:")


async def test_no_llm_says_why():
    analysis = await analyse([_trend("UP", 0.002)], RULES, None,
                             "market closed and no LOCAL_LLM_BASE_URL set", seed=1)
    assert analysis.llm.as_dict() == {
        "model": "none", "status": "skipped: market closed and no LOCAL_LLM_BASE_URL set",
        "used": False,
        "note": "quantitative score alone (skipped: market closed and no LOCAL_LLM_BASE_URL set)"}
