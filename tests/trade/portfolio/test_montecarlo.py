"""The block-bootstrap Monte Carlo against distributions whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trade.portfolio.montecarlo import portfolio_figures, risk_figures, simulate


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_a_constant_return_compounds_exactly_on_every_path():
    paths = simulate(np.full((1, 250), 0.001), horizon=5, paths=1000, block=3, seed=1)
    assert paths.shape == (1, 1000)
    assert np.allclose(paths, math.expm1(0.005))
    [figures] = risk_figures(paths)
    assert figures.prob_up == 1.0
    assert figures.expected == pytest.approx(math.expm1(0.005))
    assert figures.var_5 == pytest.approx(-math.expm1(0.005))  # a gain: a negative loss


def test_two_point_days_give_the_binomial_probability():
    # 600 up days of +1% and 400 down days of -1% (log): with single-day blocks, the 5-day sum
    # is positive when at least 3 of 5 draws are up: P = sum C(5,k) 0.6^k 0.4^(5-k), k>=3
    days = np.array([0.01] * 600 + [-0.01] * 400)
    np.random.default_rng(0).shuffle(days)
    paths = simulate(days[None, :], horizon=5, paths=20_000, block=1, seed=7)
    exact = sum(math.comb(5, k) * 0.6**k * 0.4 ** (5 - k) for k in range(3, 6))
    [figures] = risk_figures(paths)
    assert figures.prob_up == pytest.approx(exact, abs=0.015)  # 3 sigma of 20,000 draws
    # the worst 5%: five down days (0.4^5 = 1%) and four down days (7.7%)
    assert figures.var_5 == pytest.approx(-math.expm1(-0.03), abs=1e-9)


def test_normal_days_give_the_lognormal_probability_var_and_cvar():
    rng = np.random.default_rng(3)
    days = rng.normal(0.0005, 0.01, size=20_000)
    mu, sigma = days.mean() * 5, days.std() * math.sqrt(5)
    paths = simulate(days[None, :], horizon=5, paths=100_000, block=1, seed=11)
    [figures] = risk_figures(paths)
    assert figures.prob_up == pytest.approx(_phi(mu / sigma), abs=0.006)
    assert figures.expected == pytest.approx(math.exp(mu + sigma**2 / 2) - 1, abs=0.0005)
    q = mu - 1.6448536 * sigma
    assert figures.var_5 == pytest.approx(-math.expm1(q), abs=0.0015)
    tail = math.exp(mu + sigma**2 / 2) * _phi((q - mu - sigma**2) / sigma) / 0.05
    assert figures.cvar_5 == pytest.approx(1 - tail, abs=0.002)


def test_blocks_keep_consecutive_days_together():
    days = np.array([[0.01, -0.02, 0.03, -0.01, 0.02]])
    paths = simulate(days, horizon=5, paths=50, block=5, seed=0)
    assert np.allclose(paths, math.expm1(0.03))  # the one possible block is the whole week


def test_the_same_seed_gives_the_same_paths_and_another_seed_does_not():
    days = np.random.default_rng(1).normal(0, 0.01, size=(3, 300))
    first = simulate(days, 5, 2000, 5, seed=42)
    assert np.array_equal(first, simulate(days, 5, 2000, 5, seed=42))
    assert not np.array_equal(first, simulate(days, 5, 2000, 5, seed=43))


def test_symbols_share_the_dates_of_each_path():
    days = np.random.default_rng(2).normal(0, 0.01, size=300)
    paths = simulate(np.vstack([days, days, -days]), 5, 5000, 5, seed=3)
    assert np.array_equal(paths[0], paths[1])
    # the mirror symbol's path is the same dates negated: log returns cancel path by path
    assert np.allclose(np.log1p(paths[0]) + np.log1p(paths[2]), 0.0)
    half_and_half = portfolio_figures(paths[:2], np.array([0.5, 0.5]))
    assert half_and_half == risk_figures(paths[:1])[0]
    with pytest.raises(ValueError, match="one weight per simulated symbol"):
        portfolio_figures(paths, np.array([1.0]))


def test_a_horizon_longer_than_a_block_chains_blocks():
    days = np.array([[0.001] * 10])
    paths = simulate(days, horizon=7, paths=10, block=3, seed=0)
    assert np.allclose(paths, math.expm1(0.007))


@pytest.mark.parametrize("bad", [np.array([[np.nan, 0.1]]), np.zeros((1, 0))])
def test_unusable_returns_are_refused(bad):
    with pytest.raises(ValueError):
        simulate(bad, 5, 10, 5, seed=0)
