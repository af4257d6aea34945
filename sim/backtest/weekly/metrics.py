"""The figures of an equity line (policy or benchmark) and of the policy's cycles.

From the session-close marks: total return, CAGR (over calendar years, 365.25 days), annualised
volatility and Sharpe ratio of the daily returns (x sqrt 252; the risk-free rate is taken as 0,
the same for every line, so the lines compare), the largest peak-to-trough fall (fraction and
dollars). From the cycles: two-sided turnover per cycle (traded value / budget; the first cycle
that trades, which buys the book from cash, is left out of the mean and counted apart),
commissions, slippage, and how often membership changed: a cycle "replaces" names when it both
drops and adds (the count is the smaller of the two), the churn measured on the 2019 Mondays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from sim.backtest.weekly.analysis import DayAnalysis
from sim.backtest.weekly.engine import CycleRecord

TRADING_DAYS = 252


def line_metrics(marks: Sequence[tuple[date, float]], start: float) -> dict[str, float]:
    values = [start] + [v for _, v in marks]
    returns = [b / a - 1.0 for a, b in zip(values, values[1:], strict=False) if a > 0]
    years = ((marks[-1][0] - marks[0][0]).days + 1) / 365.25 if marks else 0.0
    final = values[-1]
    mean = math.fsum(returns) / len(returns) if returns else 0.0
    var = math.fsum((r - mean) ** 2 for r in returns) / (len(returns) - 1) \
        if len(returns) > 1 else 0.0
    std = math.sqrt(var)
    peak, worst, worst_money = start, 0.0, 0.0
    for value in values:
        peak = max(peak, value)
        if peak > 0 and 1.0 - value / peak > worst:
            worst, worst_money = 1.0 - value / peak, peak - value
    return {
        "final_equity": round(final, 2),
        "net_pnl": round(final - start, 2),
        "total_return": round(final / start - 1.0, 6),
        "cagr": round((final / start) ** (1.0 / years) - 1.0, 6) if years > 0 and final > 0
        else 0.0,
        "volatility": round(std * math.sqrt(TRADING_DAYS), 6),
        "sharpe": round(mean / std * math.sqrt(TRADING_DAYS), 4) if std > 0 else 0.0,
        "max_drawdown_pct": round(worst, 6),
        "max_drawdown": round(worst_money, 2),
        "sessions": float(len(marks)),
    }


def cycle_metrics(cycles: Sequence[CycleRecord], years: float) -> dict[str, float]:
    done = [c for c in cycles if c.status == "done"]
    # the buy-in from cash (the first cycle that traded) is counted apart; a later return from
    # an all-cash book is turnover like any other
    first = next((i for i, c in enumerate(done) if c.traded_value > 0), len(done))
    later = done[first + 1:]
    replaced = [min(len(c.added), len(c.dropped)) for c in later]

    def mean(values: Sequence[float]) -> float:
        return math.fsum(values) / len(values) if values else 0.0

    traded = math.fsum(c.traded_value for c in done)
    return {
        "cycles": float(len(cycles)),
        "failed_cycles": float(len(cycles) - len(done)),
        "turnover_per_cycle": round(mean([c.turnover for c in later]), 6),
        "turnover_first_cycle": round(done[first].turnover, 6) if first < len(done) else 0.0,
        "turnover_per_year": round(math.fsum(c.turnover for c in later) / years, 4)
        if years > 0 else 0.0,
        "traded_value": round(traded, 2),
        "commissions": round(math.fsum(c.commission for c in done), 2),
        "slippage_cost": round(math.fsum(c.slippage for c in done), 2),
        "expected_cost": round(math.fsum(float(c.expected.get("total", 0.0)) for c in done), 2),
        "names_replaced_per_cycle": round(mean(replaced), 4),
        "cycles_with_replacement": float(sum(1 for r in replaced if r > 0)),
        "cycles_after_first": float(len(later)),
        "names_added_per_cycle": round(mean([len(c.added) for c in later]), 4),
        "names_dropped_per_cycle": round(mean([len(c.dropped) for c in later]), 4),
        "avg_names_held": round(mean([len(c.members) for c in done]), 3),
        "avg_candidates": round(mean([c.candidates for c in done]), 2),
        "avg_passed": round(mean([c.passed for c in done]), 2),
    }


def rank_noise(analyses: Sequence[DayAnalysis]) -> dict[str, float]:
    """How much a name's score and rank move from one cycle to the next: the noise the
    hysteresis (`hold_buffer`, `entry_margin`) has to ride out. Over consecutive cycles, every
    name assessed in both: the standard deviation of its score change and the 90th percentile
    of its rank change (rank among all assessed names, best = 1)."""
    changes: list[float] = []
    moves: list[int] = []
    previous: tuple[dict[str, float], dict[str, int]] | None = None
    for day in analyses:
        if day.analysis is None:
            previous = None
            continue
        scores = {a.symbol: a.score for a in day.analysis.assessments}
        order = sorted(scores, key=lambda s: (-scores[s], s))
        rank = {s: i + 1 for i, s in enumerate(order)}
        if previous is not None:
            for symbol in scores.keys() & previous[0].keys():
                changes.append(scores[symbol] - previous[0][symbol])
                moves.append(abs(rank[symbol] - previous[1][symbol]))
        previous = (scores, rank)
    if not changes:
        return {"score_change_sd": 0.0, "rank_change_p90": 0.0}
    mean = math.fsum(changes) / len(changes)
    sd = math.sqrt(math.fsum((c - mean) ** 2 for c in changes) / len(changes))
    return {"score_change_sd": round(sd, 4),
            "rank_change_p90": float(sorted(moves)[int(0.9 * (len(moves) - 1))])}


def years_of(marks: Sequence[tuple[date, float]]) -> float:
    return ((marks[-1][0] - marks[0][0]).days + 1) / 365.25 if marks else 0.0


def summary_rows(lines: dict[str, dict[str, Any]]) -> list[str]:
    """One fixed-width line per equity line: what the command prints."""
    out = [f"{'':38} {'CAGR':>8} {'Sharpe':>7} {'max DD':>8} {'final':>14}"]
    for name, m in lines.items():
        out.append(f"{name:38} {m['cagr']:>8.2%} {m['sharpe']:>7.2f} "
                   f"{-m['max_drawdown_pct']:>8.1%} {m['final_equity']:>14,.0f}")
    return out
