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


def test_the_new_rules_load_and_one_day_horizons_take_any_block(tmp_path):
    universe = load_universe(write(tmp_path, {"symbols": ["KO"], "rules": {
        "hold_buffer": 0, "entry_margin": 0, "min_edge_z": 1, "hold_edge_z": 1,
        "mc_block_days": 2.5, "slippage_bps": 2}}))
    assert (universe.rules.hold_buffer, universe.rules.mc_block_days) == (0, 2.5)
    assert isinstance(universe.rules.hold_buffer, int)
    daily = load_universe(write(tmp_path, {"symbols": ["KO"], "rules": {
        "holding_days": 1, "mc_block_days": 3}}))
    assert daily.rules.mc_block_days == 3.0


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
    ({"symbols": ["KO"], "rules": {"min_edge_z": True}}, "rules.min_edge_z = True is invalid"),
    ({"symbols": ["KO"], "rules": {"hold_buffer": 1.5}}, "rules.hold_buffer = 1.5 is invalid"),
    ({"symbols": ["KO"], "rules": {"entry_margin": -1}}, "rules.entry_margin = -1 is invalid"),
    ({"symbols": ["KO"], "rules": {"mc_block_days": 0.5}}, "rules.mc_block_days = 0.5 is invalid"),
    # a block as long as the horizon replays history's windows (the finding)
    ({"symbols": ["KO"], "rules": {"mc_block_days": 5}},
     "rules.mc_block_days = 5 is invalid: a mean block as long as holding_days (5)"),
    ({"symbols": ["KO"], "rules": {"holding_days": 10, "mc_block_days": 12}},
     "rules.mc_block_days = 12 is invalid"),
    ({"symbols": ["KO"], "rules": {"hold_edge_z": 1.0}},
     "rules.hold_edge_z = 1 is invalid: a held name cannot need more than a new one"),
    ({"symbols": ["KO"], "rules": {"min_prob_up": 0.5}},
     "rules.min_prob_up was retired: P(up) no longer filters"),
])
def test_a_malformed_universe_is_one_line_with_the_fix(tmp_path, body, expected):
    with pytest.raises(UniverseError) as failure:
        load_universe(write(tmp_path, body))
    message = str(failure.value)
    assert expected in message and "\n" not in message


def test_a_missing_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(UniverseError, match="not found: create it or pass --universe PATH"):
        load_universe(tmp_path / "nope.json")
