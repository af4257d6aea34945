"""The one statistic every trading decision of the nightly cycle rests on: the per-session P&L
difference between a candidate and the current parameters on the SAME sessions.

Why paired and per session: the current parameters and a candidate trade the same market on the
same days, so most of a day's P&L (the day's news, the market's mood: a shock common to all of
the day's trades) is in both and cancels in the difference; what is left is what the change
did. A day is the unit: trades of one day share its shock and are not independent observations
(a per-trade test that treats them as independent rejects far more often than it says).

The test is one-sided (H1: the candidate earns more per session). Its standard error is the
larger of two estimates:
- a circular block bootstrap over sessions (blocks of `BLOCK` adjacent sessions, so serial
  dependence between neighbouring days is kept inside a resample), and
- the i.i.d. standard error sd / sqrt(n) (ddof=1), which the bootstrap underestimates by
  sqrt((n-1)/n) on the small samples a nightly window holds;
and the critical value is Student's t with n - 1 degrees of freedom (ten sessions are far from
the normal limit: t(9) at 0.25% is 3.69, the normal 2.81). The interval reported is
mean +/- t * se, i.e. the one-sided bound at level `alpha` on each side.

Resamples use a seed derived from what is tested, so a night re-run gives the same figures.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BLOCK = 2
RESAMPLES = 1000


@dataclass(frozen=True, slots=True)
class PairedTest:
    """A one-sided test of mean(differences) > 0 at level `alpha`."""

    sessions: int
    mean: float  # mean per-session difference (candidate - current), in dollars
    se: float | None  # None: fewer than 2 sessions, or no variation at all
    t: float | None
    p: float | None  # one-sided p-value
    alpha: float
    low: float | None  # mean - t_crit * se: the decision bound
    high: float | None  # mean + t_crit * se

    @property
    def passed(self) -> bool:
        return self.low is not None and self.low > 0

    @property
    def harmful(self) -> bool:
        """The interval lies below zero: the candidate is shown worse at this level."""
        return self.high is not None and self.high < 0

    def interval_text(self) -> str:
        if self.low is None or self.high is None:
            return "no interval (too few sessions or no variation)"
        return f"[{self.low:+,.2f}, {self.high:+,.2f}]"

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None, nd: int = 4) -> float | None:
            return round(x, nd) if x is not None and math.isfinite(x) else None

        return {"sessions": self.sessions, "mean": r(self.mean), "se": r(self.se),
                "t": r(self.t), "p": r(self.p, 6), "alpha": r(self.alpha, 6),
                "low": r(self.low), "high": r(self.high), "passed": self.passed}


def seed_of(*parts: object) -> int:
    """A stable seed from what is tested (Python's own hash() is salted per process)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def block_bootstrap_se(diffs: Sequence[float] | np.ndarray, seed: int, block: int = BLOCK,
                       resamples: int = RESAMPLES) -> float:
    """Standard error of the mean by a circular block bootstrap over sessions."""
    x = np.asarray(diffs, dtype=float)
    n = len(x)
    if n < 2:
        return 0.0
    b = max(1, min(block, n))
    blocks = math.ceil(n / b)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n, size=(resamples, blocks))
    index = (starts[:, :, None] + np.arange(b)[None, None, :]) % n
    means = x[index.reshape(resamples, -1)[:, :n]].mean(axis=1)
    return float(means.std(ddof=1))


def paired_test(diffs: Sequence[float] | np.ndarray, alpha: float, seed: int, *,
                bootstrap: bool = True) -> PairedTest:
    """Test mean(diffs) > 0 at `alpha` (see the module docstring). `bootstrap=False` uses the
    i.i.d. standard error alone (for ranking, never for a decision)."""
    x = np.asarray(diffs, dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else 0.0
    if n < 2:
        return PairedTest(n, mean, None, None, None, alpha, None, None)
    iid = float(x.std(ddof=1)) / math.sqrt(n)
    se = max(iid, block_bootstrap_se(x, seed)) if bootstrap else iid
    if not se > 0 or not math.isfinite(se):
        return PairedTest(n, mean, None, None, None, alpha, None, None)
    # imported here: scipy.stats costs ~1 s, and the day trader imports the cycle at start-up
    from scipy.stats import t as student  # type: ignore[import-untyped]  # no stubs installed

    t_stat = mean / se
    crit = float(student.ppf(1.0 - alpha, n - 1))
    p = float(student.sf(t_stat, n - 1))
    return PairedTest(n, mean, se, t_stat, p, alpha, mean - crit * se, mean + crit * se)


def deflated_alpha(alpha: float, distinct_candidates: int) -> float:
    """Sidak: the per-candidate level that keeps the chance of passing ANY of K distinct
    candidates that are all no better at `alpha`. A re-test of the same candidate is not a new
    trial: K counts distinct parameter sets, not tests."""
    k = max(1, distinct_candidates)
    return alpha if k == 1 else 1.0 - (1.0 - alpha) ** (1.0 / k)


def money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+,.2f}"
