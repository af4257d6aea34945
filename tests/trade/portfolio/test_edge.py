"""The analyst's filter: its false-pass rate on names with zero true drift, measured on seeded
synthetic names (the truth known), its power on real trends, and its verdicts' reasons."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sim.backtest.weekly.filter_rates import measure, synthetic_names
from trade.portfolio.analyst import quantitative
from trade.portfolio.costs import round_trip
from trade.portfolio.edge import Edge, edge_of, judge
from trade.portfolio.montecarlo import RiskFigures
from trade.portfolio.universe import PortfolioRules

RULES = dataclasses.replace(PortfolioRules(), mc_paths=2000)
NAMES = 400


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_the_false_pass_rate_at_zero_drift_is_measured_and_matches_its_design():
    """Names with zero true drift (a year of 25%-vol days): a new name passes when its expected
    return net of the round trip is >= min_edge_z standard errors, so the design rate is
    1 - Phi(z + cost / SE). The old rule, P(up) >= 50%, passed about half of them."""
    row = measure(0.0, RULES, vol=0.25, days=250, names=NAMES, tails="normal", seed=11)
    cost = round_trip(50.0, RULES)
    design = 1.0 - _phi(RULES.min_edge_z + cost / row.stated_se)
    sigma = math.sqrt(design * (1 - design) / NAMES)
    assert abs(row.passed - design) < 3.5 * sigma, (row.passed, design)
    assert row.passed < 0.30  # ~23% measured: one in four or five, not a coin flip
    # the same names through the old filter
    rng = np.random.default_rng(11)
    candidates, _ = synthetic_names(0.0, 0.25, 250, NAMES, "normal", rng)
    assessed, _, _ = quantitative(candidates, RULES, seed=11)
    old = sum(a.risk is not None and a.risk.prob_up >= 0.5 for a in assessed) / NAMES
    assert 0.4 < old < 0.6 and row.passed < old / 2


def test_the_standard_error_it_assumes_is_the_real_spread_of_the_estimate():
    row = measure(0.10, RULES, vol=0.25, days=250, names=NAMES, tails="t", seed=5)
    assert row.actual_se == pytest.approx(row.stated_se, rel=0.15)


@pytest.mark.parametrize(("drift", "low", "high"), [
    (-0.20, 0.0, 0.12),  # a falling name rarely passes
    (1.00, 0.90, 1.0),  # a strong trend (one +1 SE a week) nearly always does
])
def test_what_the_filter_tells_apart(drift, low, high):
    row = measure(drift, RULES, vol=0.25, days=250, names=NAMES, tails="normal", seed=3)
    assert low <= row.passed <= high, row
    assert row.holdable >= row.passed  # the hold threshold is lower


def _risk(expected: float, stdev: float, cvar: float) -> RiskFigures:
    return RiskFigures(0.5, expected, cvar * 0.8, cvar, stdev)


def test_the_verdicts_and_their_reasons():
    rules = PortfolioRules()
    strong = edge_of(_risk(0.01, 0.03, 0.06), 100.0, 250, rules)
    assert strong.standard_error == pytest.approx(0.03 * math.sqrt(5 / 250))
    assert strong.round_trip == pytest.approx(round_trip(100.0, rules))
    verdict = judge(strong, _risk(0.01, 0.03, 0.06), rules)
    assert verdict.passed and verdict.holdable and verdict.reason.startswith("passed: E[r] +1.00%")
    middling = Edge(0.002, 0.001, 0.004, 250)  # +0.25 SE: may stay, may not enter
    verdict = judge(middling, _risk(0.002, 0.03, 0.06), rules)
    assert (verdict.passed, verdict.holdable) == (False, True)
    assert verdict.reason.startswith("hold only: +0.25 SE < 0.5 to enter")
    falling = Edge(-0.004, 0.001, 0.004, 250)
    verdict = judge(falling, _risk(-0.004, 0.03, 0.06), rules)
    assert not verdict.holdable and verdict.reason.startswith("filtered: -1.25 SE < 0")
    risky = judge(strong, _risk(0.01, 0.03, 0.2), rules)
    assert not risky.holdable and risky.reason.startswith("filtered: 5% CVaR 20.0% > 12%")


def test_a_zero_standard_error_does_not_divide_by_zero():
    assert Edge(0.01, 0.001, 0.0, 250).z == math.inf
    assert Edge(0.001, 0.001, 0.0, 250).z == 0.0
