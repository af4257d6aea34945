"""`python -m sim.backtest.weekly.filter_rates`: the analyst's filter on synthetic names whose
truth is known, so its error rates are measured, not asserted.

Each name is a year (`--days`, 250) of seeded daily log returns, normal or Student-t with 4
degrees of freedom (`--tails t`: fat tails, as stocks have), with an annual volatility
(`--vol`, 25%) and a TRUE expected simple return per year (the drift). For each drift, `--names`
names go through the live code (`trade.portfolio.analyst.quantitative`: the stationary-bootstrap
Monte Carlo at the rules' defaults, the edge and the filter, costs at a $50 price) and the
command prints:

- pass: how often a new name passes (at drift 0 this is the FALSE-PASS rate);
- hold: how often a held name stays eligible;
- the resampling error the filter assumes (mean stated SE) against the real spread of the
  expected-return estimate across names with the same drift (the SE's own check);
- the 5% CVaR: the true value of the holding period's distribution and the estimates' mean and
  spread, and how often a name is dropped for its CVaR alone.

    python -m sim.backtest.weekly.filter_rates                  # the defaults' table
    python -m sim.backtest.weekly.filter_rates --names 400 --tails t --vol 0.4
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from sim.market.sessions import NY
from trade import cli
from trade.models import Bar
from trade.portfolio.analyst import quantitative
from trade.portfolio.screener import Candidate
from trade.portfolio.universe import PortfolioRules

PROG = "python -m sim.backtest.weekly.filter_rates"
DRIFTS = (-0.20, 0.0, 0.10, 0.25, 0.50, 1.00)
PRICE = 50.0
START = datetime(2018, 1, 2, 9, 30, tzinfo=NY)


@dataclass(frozen=True, slots=True)
class DriftRow:
    drift: float  # true expected simple return per year
    names: int
    passed: float
    holdable: float
    cvar_dropped: float
    stated_se: float  # mean of the SE the filter used
    actual_se: float  # spread of the expected-return estimates across names
    true_expected: float  # over the holding period
    mean_expected: float
    true_cvar: float
    mean_cvar: float
    sd_cvar: float


def synthetic_names(drift: float, vol: float, days: int, names: int, tails: str,
                    rng: np.random.Generator) -> tuple[list[Candidate], np.ndarray]:
    """`names` candidates whose daily simple returns have mean (1+drift)^(1/252)-1 and the
    given annual volatility; also the daily log-return matrix they were built from."""
    sigma = vol / math.sqrt(252.0)
    if tails == "t":
        shocks = rng.standard_t(4, size=(names, days)) / math.sqrt(2.0)  # unit variance
    else:
        shocks = rng.standard_normal((names, days))
    # log mean so that E[exp(r)] is the daily simple mean: mu = log(1 + m) - sigma^2 / 2
    daily = (1.0 + drift) ** (1.0 / 252.0) - 1.0
    logs = math.log1p(daily) - sigma**2 / 2.0 + sigma * shocks
    closes = PRICE * np.exp(np.cumsum(logs, axis=1))
    stamps = [START + timedelta(days=i) for i in range(days)]
    out = []
    for i in range(names):
        symbol = f"S{i:04d}"
        bars = [Bar(symbol, stamp, c, c, c, c, 1e7, 23400) for stamp, c in zip(stamps, closes[i],
                                                                              strict=True)]
        out.append(Candidate(symbol, bars))
    return out, logs


def true_figures(drift: float, vol: float, tails: str, horizon: int,
                 rng: np.random.Generator) -> tuple[float, float]:
    """(expected return, 5% CVaR) of the holding period, by simulation from the true model."""
    sigma = vol / math.sqrt(252.0)
    daily = (1.0 + drift) ** (1.0 / 252.0) - 1.0
    draws = 400_000
    if tails == "t":
        shocks = rng.standard_t(4, size=(draws, horizon)) / math.sqrt(2.0)
    else:
        shocks = rng.standard_normal((draws, horizon))
    total = np.expm1((math.log1p(daily) - sigma**2 / 2.0 + sigma * shocks).sum(axis=1))
    k = math.ceil(0.05 * draws)
    return float(total.mean()), float(-np.sort(total)[:k].mean())


def measure(drift: float, rules: PortfolioRules, vol: float, days: int, names: int, tails: str,
            seed: int) -> DriftRow:
    rng = np.random.default_rng(seed)
    candidates, _ = synthetic_names(drift, vol, days, names, tails, rng)
    assessed, _, _ = quantitative(candidates, rules, seed)
    edges = [a.edge for a in assessed if a.edge is not None]
    risks = [a.risk for a in assessed if a.risk is not None]
    expected = [e.expected for e in edges]
    cvars = [r.cvar_5 for r in risks]
    true_expected, true_cvar = true_figures(drift, vol, tails, rules.holding_days, rng)
    return DriftRow(
        drift, names,
        sum(a.passed for a in assessed) / names,
        sum(a.holdable for a in assessed) / names,
        sum(r.cvar_5 > rules.max_cvar for r in risks) / names,
        statistics.fmean(e.standard_error for e in edges),
        statistics.pstdev(expected), true_expected, statistics.fmean(expected),
        true_cvar, statistics.fmean(cvars), statistics.pstdev(cvars))


def table(rows: Sequence[DriftRow], rules: PortfolioRules, vol: float, tails: str) -> str:
    head = (f"filter at min_edge_z {rules.min_edge_z:g}, hold_edge_z {rules.hold_edge_z:g}, "
            f"max_cvar {rules.max_cvar:g}; {rules.holding_days}-day horizon, mean block "
            f"{rules.mc_block_days:g}, {rules.mc_paths} paths; annual vol {vol:.0%}, "
            f"{'Student-t(4)' if tails == 't' else 'normal'} days")
    lines = [head, f"{'drift/yr':>9} {'names':>6} {'pass':>7} {'hold':>7} {'SE stated':>10} "
             f"{'SE actual':>10} {'E true':>8} {'E est':>8} {'CVaR true':>10} {'CVaR est':>9} "
             f"{'CVaR sd':>8} {'CVaR drop':>10}"]
    for r in rows:
        lines.append(f"{r.drift:>9.0%} {r.names:>6} {r.passed:>7.1%} {r.holdable:>7.1%} "
                     f"{r.stated_se:>10.3%} {r.actual_se:>10.3%} {r.true_expected:>8.3%} "
                     f"{r.mean_expected:>8.3%} {r.true_cvar:>10.2%} {r.mean_cvar:>9.2%} "
                     f"{r.sd_cvar:>8.2%} {r.cvar_dropped:>10.1%}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.OneLineArgumentParser(prog=PROG, description="Measure the weekly filter's "
                                       "error rates on seeded synthetic names of known drift.")
    cli.add_flag(parser, "--names", type=int, default=1000, metavar="N",
                 fix="a whole number >= 20, e.g. 1000", help="names per drift (default: 1000)")
    cli.add_flag(parser, "--days", type=int, default=250, metavar="N",
                 fix="a whole number >= 60, e.g. 250", help="days of history (default: 250)")
    cli.add_flag(parser, "--vol", type=float, default=0.25, metavar="F",
                 fix="an annual volatility in (0, 2], e.g. 0.25", help="default: 0.25")
    cli.add_flag(parser, "--tails", choices=("normal", "t"), default="normal",
                 fix="normal or t", help="daily shocks: normal or Student-t(4)")
    cli.add_flag(parser, "--seed", type=cli.seed, default=7, metavar="N", fix=cli.SEED_FIX,
                 help="default: 7")
    args = parser.parse_args(argv)
    if args.names < 20 or args.days < 60 or not 0 < args.vol <= 2:
        parser.error("--names >= 20, --days >= 60 and --vol in (0, 2] are required: "
                     "e.g. --names 1000 --days 250 --vol 0.25")
    rules = PortfolioRules()
    rows = [measure(d, rules, args.vol, args.days, args.names, args.tails, args.seed + i)
            for i, d in enumerate(DRIFTS)]
    sys.stdout.write(table(rows, rules, args.vol, args.tails))
    return 0


if __name__ == "__main__":
    sys.exit(main())
