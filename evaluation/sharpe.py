"""Sharpe-type statistics on a series of per-session returns, and how much to trust them.

Why more than a Sharpe ratio: twenty sessions of a day trader give a noisy Sharpe, and a nightly
cycle that tries many candidate parameter sets will find a high one by luck. Bailey & Lopez de
Prado's corrections answer "how likely is the true Sharpe above a benchmark, given this many
observations, their skew and fat tails (PSR), and given how many candidates were tried (DSR)",
and "how many sessions are needed before that is 95% likely (MinTRL)".

All ratios here are per period (per session), not annualised; multiply by sqrt(252) to
annualise. Moments: mean and standard deviation with ddof=1; skewness g3 = m3 / m2^1.5 and
(non-excess) kurtosis g4 = m4 / m2^2 from the population central moments m_k. An undefined
result is None (fewer than 2 returns, zero variance, a non-positive variance term).

References: D. Bailey, M. Lopez de Prado, "The Sharpe Ratio Efficient Frontier", Journal of Risk
15(2), 2012 (PSR, MinTRL); "The Deflated Sharpe Ratio", Journal of Portfolio Management 40(5),
2014 (DSR).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

# The standard normal from the standard library, not scipy.stats: it agrees with scipy's norm to
# 2e-15 (cdf and quantile over the range used here) and spares every bot start the ~1 s import
# of scipy.stats (this module sits under the day trader's end-of-day metrics).
norm = NormalDist()

TRADING_DAYS = 252
EULER_GAMMA = 0.5772156649015329


def sharpe_ratio(returns: Sequence[float]) -> float | None:
    """mean / std (ddof=1) per period."""
    n = len(returns)
    if n < 2:
        return None
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1)
    if var <= 0 or not math.isfinite(var):
        return None
    return mean / math.sqrt(var)


def sortino_ratio(returns: Sequence[float]) -> float | None:
    """mean / downside deviation per period; downside deviation = sqrt(mean(min(r, 0)^2))."""
    n = len(returns)
    if n < 2:
        return None
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / n)
    if downside <= 0:
        return None
    return (sum(returns) / n) / downside


def moments(returns: Sequence[float]) -> tuple[float, float] | None:
    """(skewness g3, kurtosis g4) from population central moments; None without variance."""
    n = len(returns)
    if n < 2:
        return None
    mean = sum(returns) / n
    m2 = sum((r - mean) ** 2 for r in returns) / n
    if m2 <= 0:
        return None
    m3 = sum((r - mean) ** 3 for r in returns) / n
    m4 = sum((r - mean) ** 4 for r in returns) / n
    return m3 / m2**1.5, m4 / m2**2


def _sr_variance_term(sr: float, g3: float, g4: float) -> float:
    """1 - g3 SR + (g4 - 1) / 4 SR^2: the non-normality correction of the Sharpe's variance."""
    return 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr * sr


def probabilistic_sharpe_ratio(returns: Sequence[float], benchmark: float = 0.0) -> float | None:
    """PSR(SR*) = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2)).

    The probability that the true per-period Sharpe exceeds `benchmark` (SR*), given n returns."""
    sr = sharpe_ratio(returns)
    shape = moments(returns)
    if sr is None or shape is None:
        return None
    term = _sr_variance_term(sr, *shape)
    if term <= 0:
        return None
    return float(norm.cdf((sr - benchmark) * math.sqrt(len(returns) - 1) / math.sqrt(term)))


def expected_max_sharpe(trial_sharpes: Sequence[float]) -> float:
    """SR0 = sqrt(V) ((1 - gamma) Z^-1(1 - 1/N) + gamma Z^-1(1 - 1/(N e))): the Sharpe the best of
    N unskilled trials reaches by luck, N = len(trial_sharpes), V = their variance (ddof=1).
    One trial (or no spread between trials) gives 0: nothing to deflate."""
    n = len(trial_sharpes)
    if n < 2:
        return 0.0
    mean = sum(trial_sharpes) / n
    variance = sum((s - mean) ** 2 for s in trial_sharpes) / (n - 1)
    if variance <= 0:
        return 0.0
    spread = (1 - EULER_GAMMA) * norm.inv_cdf(1 - 1 / n) + EULER_GAMMA * norm.inv_cdf(1 - 1 / (n * math.e))
    return math.sqrt(variance) * float(spread)


def deflated_sharpe_ratio(returns: Sequence[float],
                          trial_sharpes: Sequence[float]) -> float | None:
    """DSR = PSR(SR0): the PSR against the expected maximum Sharpe of all trials.

    `trial_sharpes` holds the per-period Sharpe of EVERY candidate tried (this one included);
    each trial without a Sharpe (no variance) should be passed as 0.0 so it still counts."""
    return probabilistic_sharpe_ratio(returns, expected_max_sharpe(trial_sharpes))


def min_track_record_length(returns: Sequence[float], benchmark: float = 0.0,
                            confidence: float = 0.95) -> float | None:
    """MinTRL = 1 + (1 - g3 SR + (g4 - 1)/4 SR^2) (Z_confidence / (SR - SR*))^2 periods: how
    long a record with these moments must be for PSR(SR*) to reach `confidence`.
    `math.inf` when SR <= SR* (no length is enough); None when undefined."""
    sr = sharpe_ratio(returns)
    shape = moments(returns)
    if sr is None or shape is None:
        return None
    if sr <= benchmark:
        return math.inf
    term = _sr_variance_term(sr, *shape)
    if term <= 0:
        return None
    return 1.0 + term * (float(norm.inv_cdf(confidence)) / (sr - benchmark)) ** 2
