"""The universe file: symbols and rules, every mistake one line naming the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.paths import REPO
from trade.portfolio.universe import PortfolioRules, UniverseError, load_universe


def write(tmp_path: Path, body: object) -> Path:
    path = tmp_path / "universe.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def test_symbols_and_rule_overrides_load(tmp_path):
    universe = load_universe(write(tmp_path, {"symbols": ["KO", "PEP"],
                                              "rules": {"top_k": 2, "band_abs": 0.02}}))
    assert universe.symbols == ("KO", "PEP")
    assert universe.rules == PortfolioRules(top_k=2, band_abs=0.02)
    assert isinstance(universe.rules.top_k, int)


def test_the_shipped_universe_is_valid():
    universe = load_universe(REPO / "weekly_universe.json")
    assert len(universe.symbols) >= 10


@pytest.mark.parametrize(("body", "expected"), [
    ("{not json", "is not valid JSON (line 1, column 2"),
    ({"tickers": ["KO"]}, 'needs a "symbols" list'),
    ({"symbols": []}, '"symbols" must be a non-empty list'),
    ({"symbols": ["KO", "ko"]}, "symbols[1] = 'ko' is not a ticker"),
    ({"symbols": ["KO", "KO"]}, "KO is listed twice"),
    ({"symbols": ["KO"], "extra": 1}, "unknown key(s) ['extra']"),
    ({"symbols": ["KO"], "rules": []}, '"rules" must be an object'),
    ({"symbols": ["KO"], "rules": {"topk": 3}}, "unknown rule 'topk': use one of"),
    ({"symbols": ["KO"], "rules": {"top_k": 2.5}}, "rules.top_k = 2.5 is invalid: use a whole"),
    ({"symbols": ["KO"], "rules": {"max_weight": 0}}, "rules.max_weight = 0 is invalid"),
    ({"symbols": ["KO"], "rules": {"band_abs": "5%"}}, "rules.band_abs = '5%' is invalid"),
    ({"symbols": ["KO"], "rules": {"min_prob_up": True}}, "rules.min_prob_up = True is invalid"),
])
def test_a_malformed_universe_is_one_line_with_the_fix(tmp_path, body, expected):
    with pytest.raises(UniverseError) as failure:
        load_universe(write(tmp_path, body))
    message = str(failure.value)
    assert expected in message and "\n" not in message


def test_a_missing_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(UniverseError, match="not found: create it or pass --universe PATH"):
        load_universe(tmp_path / "nope.json")
