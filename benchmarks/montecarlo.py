"""Monte Carlo speed: 10,000 stationary-bootstrap paths x 100 symbols x 5 days, with the figures
(P(up), expected return, 5% VaR and CVaR) per symbol and for an equal-weight portfolio.
Target <= 200 ms.

Run: `.venv/bin/python benchmarks/montecarlo.py`. The input is a year (251 days) of seeded
normal daily log returns per symbol; the median of several runs is reported (the first run,
which pays numpy's warm-up, is excluded). The last line is `montecarlo_ms: N`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from trade.portfolio.montecarlo import portfolio_figures, risk_figures, simulate  # noqa: E402

SYMBOLS = 100
DAYS = 251
PATHS = 10_000
HORIZON = 5
BLOCK = 2.0  # the stationary bootstrap's mean block, shorter than the horizon
RUNS = 7


def one_run(returns: np.ndarray, seed: int) -> float:
    started = time.perf_counter()
    paths = simulate(returns, HORIZON, PATHS, BLOCK, seed)
    figures = risk_figures(paths)
    portfolio_figures(paths, np.full(SYMBOLS, 1.0 / SYMBOLS))
    elapsed = (time.perf_counter() - started) * 1000.0
    assert len(figures) == SYMBOLS and paths.shape == (SYMBOLS, PATHS)
    return elapsed


def main() -> None:
    returns = np.random.default_rng(7).normal(0.0004, 0.015, size=(SYMBOLS, DAYS))
    one_run(returns, seed=0)  # warm-up
    times = [one_run(returns, seed=run) for run in range(1, RUNS + 1)]
    print(f"{PATHS:,} paths x {SYMBOLS} symbols x {HORIZON} days (mean block {BLOCK:g}), {RUNS} runs: "
          f"min {min(times):.1f} ms, median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms (target <= 200 ms)")
    print(f"montecarlo_ms: {statistics.median(times):.1f}")


if __name__ == "__main__":
    main()
