"""Bad input to `main.py`: one clear line, the right exit code, nothing half-done (no order, no
report, no key in any output). FMP and the LLM are loopback imitations of the real services."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.weekly_harness import (
    ServerThread,
    report,
    run_weekly,
    start_gateway,
    write_universe,
)
from tests.fakes.fmp_server import SCREENER, FakeFMPServer, company
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = [pytest.mark.e2e]
DAY = "2019-02-11"
SYMBOLS = ["KO", "PEP", "MSFT"]
FMP_KEY = "fmp-e2e-key-0123456789abcdef"
LLM_KEY = "sk-e2e-0123456789abcdefghijklmn"


def _one_line(result, code: int, expected: str) -> None:
    assert result.returncode == code, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("main.py: error: ") and expected in lines[0], lines[0]


@pytest.mark.parametrize(("content", "expected"), [
    (None, "universe missing.json not found: create it or pass --universe PATH"),
    ('{"symbols": ["KO",]}', "is not valid JSON (line 1, column 19"),
    ('{"symbols": ["KO"], "rules": {"top_k": 0}}', "rules.top_k = 0 is invalid: use a whole"),
])
def test_a_missing_or_malformed_universe_stops_before_connecting(tmp_path, content, expected):
    name = "missing.json" if content is None else "bad.json"
    if content is not None:
        (tmp_path / name).write_text(content)
    result = run_weekly(tmp_path, "--allocation", "0.5", "--once", "--port", "9",
                        "--universe", name, "--db", str(tmp_path / "w.db"))
    _one_line(result, 2, expected)
    assert not (tmp_path / "w.db").exists() and not (tmp_path / "reports").exists()


def _cycle_against_gateway(tmp_path: Path, env: dict[str, str]
                           ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    universe = write_universe(tmp_path, SYMBOLS, {"top_k": 3, "max_weight": 0.3,
                                                  "min_edge_z": -5, "hold_edge_z": -5})
    gateway = start_gateway(DAY, SYMBOLS)
    try:
        result = run_weekly(tmp_path, "--allocation", "0.5", "--once", "--port",
                            str(gateway.port), "--universe", str(universe),
                            "--db", str(tmp_path / "w.db"), env=env)
        state = gateway.state()
    finally:
        gateway.stop()
    return result, state


def _secrets_nowhere(tmp_path: Path, result, *secrets: str) -> None:
    texts = [result.stdout, result.stderr]
    texts += [p.read_text() for p in (tmp_path / "reports").rglob("*.json")]
    if (tmp_path / "w.db").exists():
        with sqlite3.connect(tmp_path / "w.db") as conn:
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                texts.append(json.dumps(conn.execute(f"SELECT * FROM {table}").fetchall()))
    for secret in secrets:
        assert all(secret not in text for text in texts)


@pytest.mark.parametrize(("fail", "expected"), [
    (lambda fake: fake.fail(SCREENER, 401, times=10), "refused (401: Invalid API KEY"),
    (lambda fake: fake.answer(SCREENER, "<html>Service Unavailable</html>"),
     "the answer is not JSON: check FMP_BASE_URL"),
])
def test_an_fmp_failure_is_one_line_exit_2_and_no_order(tmp_path, fail, expected):
    """(Retries with backoff on 429, 5xx and timeouts end in the same one line: see
    tests/trade/portfolio/test_fmp.py and test_screener.py; here the wiring, without the wait.)"""
    fake = FakeFMPServer(FMP_KEY, [company(s, 1e11) for s in SYMBOLS])
    fail(fake)
    with ServerThread(fake):
        result, state = _cycle_against_gateway(
            tmp_path, {"FMP_API_KEY": FMP_KEY, "FMP_BASE_URL": fake.base_url})
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("main.py: error:")]
    assert len(errors) == 1 and errors[0] == result.stderr.strip().splitlines()[-1]
    assert errors[0].startswith("main.py: error: weekly cycle failed before any order: FMP ")
    assert expected in errors[0]
    assert state["order_refs"] == [] and state["positions"] == {}
    assert not (tmp_path / "reports" / "weekly").exists()
    _secrets_nowhere(tmp_path, result, FMP_KEY)


def test_llm_garbage_leaves_the_quantitative_score_alone_and_says_why(tmp_path):
    fake = FakeOpenAIServer()
    fake.always("Sure! Here are my thoughts on these fine stocks: buy them all.")
    with ServerThread(fake):
        result, state = _cycle_against_gateway(
            tmp_path, {"DEEPSEEK_API_KEY": LLM_KEY, "LLM_BASE_URL": fake.base_url,
                       "LLM_TIMEOUT_S": "5"})
        asked = list(fake.requests)
    assert result.returncode == 0, result.stderr[-2000:]
    assert asked and all(LLM_KEY not in r.prompt_text for r in asked)
    rep = report(tmp_path, DAY)
    assert rep["llm"]["model"] == "deepseek:deepseek-chat" and not rep["llm"]["used"]
    assert rep["llm"]["status"].startswith("error: invalid json")
    assert rep["llm"]["note"].startswith("quantitative score alone (error: invalid json")
    warnings = [line for line in result.stderr.splitlines() if "the quantitative score alone" in line]
    assert len(warnings) == 1
    assert len([r for r in state["order_refs"] if r.startswith("WK-")]) == 3  # still trades
    _secrets_nowhere(tmp_path, result, LLM_KEY)
