"""Monte Carlo of the holding period: a stationary bootstrap of daily returns, vectorised, seeded.

Why a stationary bootstrap (Politis & Romano, 1994) with a mean block SHORTER than the horizon:
resampling runs of consecutive days keeps what daily returns carry from one day to the next
(volatility clusters, a day or two of follow-through) without assuming a distribution; but a
block as long as the holding period would make every path one contiguous historical window, and
the "10,000 paths" would be the ~245 windows of the trailing year relabelled. Here each path of
`horizon` days starts at a uniformly drawn day and, after each day, either continues with the
next historical day (probability 1 - 1/mean_block) or jumps to a new uniformly drawn day
(1/mean_block): block lengths are geometric with mean `mean_block`, the series is read
circularly (Politis-Romano's convention), and a 5-day path is a combination of pieces of history,
not a copy of one week of it.

Every symbol uses the SAME dates in a path, so cross-correlation survives and a portfolio's paths
are the weighted sum of its symbols' paths. One (paths x horizon) table of day indices, then one
gather per day of the horizon: 10,000 paths x 100 symbols x 5 days is five reads of a million
numbers (benchmarks/montecarlo.py).

What the bootstrap cannot do: create information. Its expected return is the trailing history's
mean daily return times the horizon (plus convexity), however many paths are drawn; more paths
shrink the Monte Carlo error (stdev / sqrt(paths)), not the error of having seen only `n` days.
That resampling error is `standard_error` below, and the filter's thresholds are stated in it.

Figures per row of simple horizon returns r: P(r > 0), E[r], the standard deviation, 5% VaR =
-(the k-th worst return) and 5% CVaR = -(the mean of the k worst), k = ceil(5% x paths): both
positive numbers when they are losses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

TAIL = 0.05


@dataclass(frozen=True, slots=True)
class RiskFigures:
    """What one Monte Carlo says about a holding (fractions of its value over the horizon)."""

    prob_up: float
    expected: float
    var_5: float
    cvar_5: float
    stdev: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"prob_up": round(self.prob_up, 4), "expected_return": round(self.expected, 5),
                "stdev": round(self.stdev, 5), "var_5": round(self.var_5, 5),
                "cvar_5": round(self.cvar_5, 5)}


def day_indices(n_days: int, horizon: int, paths: int, mean_block: float,
                rng: np.random.Generator) -> np.ndarray:
    """(paths, horizon) indices into `n_days` of history: the stationary bootstrap's dates."""
    starts = rng.integers(0, n_days, size=(paths, horizon))
    fresh = rng.random((paths, horizon)) < 1.0 / mean_block
    fresh[:, 0] = True
    steps = np.arange(horizon)
    # the step at which each day's block began: the running maximum of the fresh steps
    began = np.maximum.accumulate(np.where(fresh, steps, 0), axis=1)
    first = np.take_along_axis(starts, began, axis=1)
    return np.asarray((first + (steps - began)) % n_days)


def simulate(log_returns: np.ndarray, horizon: int, paths: int, mean_block: float,
             seed: int) -> np.ndarray:
    """Simple returns over `horizon` days, shape (symbols, paths), from (symbols, days) of
    daily log returns on common dates. Same `seed`, same answer."""
    returns = np.atleast_2d(np.asarray(log_returns, dtype=np.float64))
    n_days = returns.shape[1]
    if horizon < 1 or paths < 1 or not mean_block >= 1.0:
        raise ValueError(f"horizon={horizon}, paths={paths}, mean_block={mean_block}: use "
                         "whole numbers >= 1 and a mean block >= 1")
    if n_days < 1 or not np.isfinite(returns).all():
        raise ValueError("log_returns must be finite with at least one day per symbol")
    index = day_indices(n_days, horizon, paths, mean_block, np.random.default_rng(seed))
    total = returns[:, index[:, 0]]
    for step in range(1, horizon):
        total += returns[:, index[:, step]]
    return np.expm1(total)


def risk_figures(horizon_returns: np.ndarray) -> list[RiskFigures]:
    """`RiskFigures` of each row of simple horizon returns (rows = symbols or portfolios)."""
    rows = np.atleast_2d(np.asarray(horizon_returns, dtype=np.float64))
    n = rows.shape[1]
    k = max(1, math.ceil(TAIL * n))
    worst = np.partition(rows, k - 1, axis=1)[:, :k]
    prob_up = (rows > 0).mean(axis=1)
    expected = rows.mean(axis=1)
    stdev = rows.std(axis=1)
    var = -worst.max(axis=1)
    cvar = -worst.mean(axis=1)
    return [RiskFigures(float(p), float(e), float(v), float(c), float(s))
            for p, e, v, c, s in zip(prob_up, expected, var, cvar, stdev, strict=True)]


def standard_error(stdev: float, horizon: int, history_days: int) -> float:
    """The resampling error of an expected `horizon`-day return estimated from `history_days`
    of history: sqrt(horizon / days) x the horizon return's standard deviation.

    Why: the estimate is `horizon` x the mean of the history's daily returns; its variance is
    horizon^2 x (long-run daily variance) / days, and the bootstrap's horizon returns have
    variance horizon x (long-run daily variance), so the error is their stdev x
    sqrt(horizon / days). A year of history (~250 days) and a week's horizon give 0.14 x the
    weekly stdev: ~0.5 percentage points for a stock with 25% annual volatility."""
    if history_days < 1:
        return math.inf
    return stdev * math.sqrt(horizon / history_days)


def portfolio_figures(horizon_returns: np.ndarray, weights: np.ndarray) -> RiskFigures:
    """Figures of a portfolio holding `weights` (fractions of its value; the rest is cash at
    0%) of the simulated symbols, path by path (correlation kept by the shared dates)."""
    rows = np.atleast_2d(np.asarray(horizon_returns, dtype=np.float64))
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (rows.shape[0],):
        raise ValueError(f"weights has shape {w.shape}: use one weight per simulated symbol "
                         f"({rows.shape[0]})")
    return risk_figures(w @ rows)[0]
