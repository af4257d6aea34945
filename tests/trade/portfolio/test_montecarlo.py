"""The stationary-bootstrap Monte Carlo against distributions whose answer is known, and against
the failure it replaces: paths that were only history's windows relabelled."""

from __future__ import annotations

import math
from datetime import date, time

import numpy as np
import pytest

from sim.backtest.weekly.data import history, load
from tests.paths import DATA
from trade.portfolio.montecarlo import (
    day_indices,
    portfolio_figures,
    risk_figures,
    simulate,
    standard_error,
)
from trade.portfolio.universe import PortfolioRules


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_a_constant_return_compounds_exactly_on_every_path():
    paths = simulate(np.full((1, 250), 0.001), horizon=5, paths=1000, mean_block=3, seed=1)
    assert paths.shape == (1, 1000)
    assert np.allclose(paths, math.expm1(0.005))
    [figures] = risk_figures(paths)
    assert figures.prob_up == 1.0 and figures.stdev == pytest.approx(0.0, abs=1e-12)
    assert figures.expected == pytest.approx(math.expm1(0.005))
    assert figures.var_5 == pytest.approx(-math.expm1(0.005))  # a gain: a negative loss


def test_single_day_blocks_give_the_binomial_probability():
    # 600 up days of +1% and 400 down days of -1% (log): with a mean block of 1 every day is a
    # fresh draw, so the 5-day sum is positive when at least 3 of 5 draws are up
    days = np.array([0.01] * 600 + [-0.01] * 400)
    np.random.default_rng(0).shuffle(days)
    paths = simulate(days[None, :], horizon=5, paths=20_000, mean_block=1, seed=7)
    exact = sum(math.comb(5, k) * 0.6**k * 0.4 ** (5 - k) for k in range(3, 6))
    [figures] = risk_figures(paths)
    assert figures.prob_up == pytest.approx(exact, abs=0.015)  # 3 sigma of 20,000 draws
    assert figures.var_5 == pytest.approx(-math.expm1(-0.03), abs=1e-9)


def test_normal_days_give_the_lognormal_probability_var_and_cvar():
    rng = np.random.default_rng(3)
    days = rng.normal(0.0005, 0.01, size=20_000)
    mu, sigma = days.mean() * 5, days.std() * math.sqrt(5)
    # independent days: any mean block gives the same distribution of 5-day sums
    paths = simulate(days[None, :], horizon=5, paths=100_000, mean_block=2, seed=11)
    [figures] = risk_figures(paths)
    assert figures.prob_up == pytest.approx(_phi(mu / sigma), abs=0.006)
    assert figures.expected == pytest.approx(math.exp(mu + sigma**2 / 2) - 1, abs=0.0005)
    q = mu - 1.6448536 * sigma
    assert figures.var_5 == pytest.approx(-math.expm1(q), abs=0.0015)
    tail = math.exp(mu + sigma**2 / 2) * _phi((q - mu - sigma**2) / sigma) / 0.05
    assert figures.cvar_5 == pytest.approx(1 - tail, abs=0.002)


def test_block_lengths_are_geometric_with_the_mean_block():
    index = day_indices(250, horizon=40, paths=20_000, mean_block=2.5, rng=np.random.default_rng(5))
    continued = (np.diff(index, axis=1) % 250) == 1  # the next historical day, circularly
    # a block ends with probability 1 / mean_block after each day (a jump may land on the next
    # day by chance: 1 / 250)
    assert continued.mean() == pytest.approx(1 - 1 / 2.5 + (1 / 2.5) / 250, abs=0.005)


def _real_year() -> tuple[np.ndarray, int]:
    data = load(DATA, ["MSFT"])
    bars = history(data["MSFT"], date(2019, 2, 11), time(10, 0))
    closes = np.array([b.close for b in bars])
    return np.diff(np.log(closes))[None, :], len(closes) - 1


def test_at_the_defaults_the_paths_are_not_a_relabelling_of_history():
    """The issue's finding: with block = horizon = 5 every path was one of the year's ~245
    contiguous 5-day windows. At the defaults (mean block 2 < horizon 5) the distinct 5-day
    outcomes of one name are far more than the windows history holds."""
    rules = PortfolioRules()
    assert rules.mc_block_days < rules.holding_days
    returns, days = _real_year()
    windows = days - rules.holding_days + 1
    paths = simulate(returns, rules.holding_days, rules.mc_paths, rules.mc_block_days, seed=1)
    distinct = len(np.unique(np.round(paths[0], 12)))
    assert windows < 250 and distinct > 20 * windows, (distinct, windows)
    # the old setting, a block as long as the horizon (here: blocks that never end), can only
    # replay the windows (circularly: at most one per starting day)
    replay = simulate(returns, rules.holding_days, rules.mc_paths, 1e12, seed=1)
    assert len(np.unique(np.round(replay[0], 12))) <= days


def test_the_stated_standard_error_is_the_spread_of_the_estimate_over_histories():
    """The resampling error the filter relies on: the expected 5-day return estimated from
    250 days varies across independent histories by stdev x sqrt(5 / 250)."""
    rng = np.random.default_rng(8)
    histories = rng.normal(0.0003, 0.015, size=(400, 250))
    paths = simulate(histories, 5, 4000, 2.0, seed=3)
    figures = risk_figures(paths)
    estimates = np.array([f.expected for f in figures])
    stated = np.mean([standard_error(f.stdev, 5, 250) for f in figures])
    assert estimates.std() == pytest.approx(stated, rel=0.12)  # 400 histories: ~4% sampling
    assert standard_error(0.03, 5, 0) == math.inf


def test_the_same_seed_gives_the_same_paths_and_another_seed_does_not():
    days = np.random.default_rng(1).normal(0, 0.01, size=(3, 300))
    first = simulate(days, 5, 2000, 2, seed=42)
    assert np.array_equal(first, simulate(days, 5, 2000, 2, seed=42))
    assert not np.array_equal(first, simulate(days, 5, 2000, 2, seed=43))


def test_symbols_share_the_dates_of_each_path():
    days = np.random.default_rng(2).normal(0, 0.01, size=300)
    paths = simulate(np.vstack([days, days, -days]), 5, 5000, 2, seed=3)
    assert np.array_equal(paths[0], paths[1])
    # the mirror symbol's path is the same dates negated: log returns cancel path by path
    assert np.allclose(np.log1p(paths[0]) + np.log1p(paths[2]), 0.0)
    half_and_half = portfolio_figures(paths[:2], np.array([0.5, 0.5]))
    assert half_and_half == risk_figures(paths[:1])[0]
    with pytest.raises(ValueError, match="one weight per simulated symbol"):
        portfolio_figures(paths, np.array([1.0]))


@pytest.mark.parametrize("bad", [np.array([[np.nan, 0.1]]), np.zeros((1, 0))])
def test_unusable_returns_are_refused(bad):
    with pytest.raises(ValueError):
        simulate(bad, 5, 10, 2, seed=0)


def test_a_mean_block_below_one_day_is_refused():
    with pytest.raises(ValueError, match="mean block >= 1"):
        simulate(np.zeros((1, 10)), 5, 10, 0.5, seed=0)
