"""The analyst: per candidate a quantitative score, a Monte Carlo filter, then an LLM rating.

Quantitative, from completed daily bars (stated so the report can be read):
- momentum 12-1: the return from ~12 months ago to 1 month ago (close 21 sessions back over the
  first close of the year of history): the classic cross-sectional momentum signal, skipping the
  last month's reversal;
- volatility: annualised standard deviation of the last 63 daily log returns (x sqrt 252);
- max drawdown: the largest peak-to-trough fall of the closes over the year, as a fraction;
- the Monte Carlo of the holding period (`montecarlo.py`, a stationary bootstrap seeded by the
  cycle date so a rerun of the same day gives the same figures): expected return, stdev,
  P(return > 0), 5% VaR and CVaR.
quant_score = 0.6 z(momentum) - 0.2 z(volatility) - 0.2 z(drawdown), z-scores across the
assessed candidates. P(up) is reported, not scored: it is the trailing year's drift again
(0.6-correlated with momentum) measured with a coin flip's error.
The FILTER (`edge.py`): the expected return net of the round trip, in standard errors of the
resampling error, and the CVaR: `passed` (may be bought) needs >= `rules.min_edge_z`,
`holdable` (may be kept) >= `rules.hold_edge_z`, both CVaR <= `rules.max_cvar`.

Then one LLM question rates every holdable candidate 1..5 with reasons (strict schema, no account
data in the prompt). score = quant_score + `rules.llm_weight` x (rating - 3). When the LLM is
skipped, unreachable, or answers anything but a complete, valid rating of exactly those
candidates, the quantitative score alone decides and the analysis says why.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evaluation.llm import LLMEndpoint, ask_structured
from observability.redaction import scrub_text
from trade.portfolio.edge import Edge, edge_of, judge
from trade.portfolio.montecarlo import RiskFigures, portfolio_figures, risk_figures, simulate
from trade.portfolio.screener import Candidate
from trade.portfolio.universe import PortfolioRules

log = logging.getLogger(__name__)

MOMENTUM_SKIP = 21
VOLATILITY_DAYS = 63
MIN_COMMON_DAYS = 30
WEIGHTS = {"momentum_12_1": 0.6, "volatility": -0.2, "max_drawdown": -0.2}


class RatingItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str
    rating: int = Field(ge=1, le=5)
    reasons: list[str] = Field(min_length=1, max_length=5)


class Ratings(BaseModel):
    """The one answer the LLM must give: a rating per candidate."""

    model_config = ConfigDict(extra="forbid")
    ratings: list[RatingItem]


SYSTEM = (
    "You are a cautious equity analyst. A long-only portfolio is rebalanced weekly and holds "
    "each name for about {days} trading sessions. Rate every candidate from 1 (avoid) to 5 "
    "(strong hold) for that period using only the figures given (momentum 12-1, annualised "
    "volatility, max drawdown over a year, a Monte Carlo of the holding period, and "
    "fundamentals when present). Give one to three short reasons per candidate."
)


@dataclass(slots=True)
class Assessment:
    symbol: str
    metrics: dict[str, float]
    risk: RiskFigures | None
    passed: bool  # may be bought
    reason: str
    holdable: bool = False  # may be kept if held (passed implies holdable)
    edge: Edge | None = None
    quant_score: float = 0.0
    llm_rating: int | None = None
    llm_reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    fundamentals: dict[str, float | None] = field(default_factory=dict)
    last_close: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "passed": self.passed, "holdable": self.holdable,
            "reason": self.reason,
            "metrics": {k: round(v, 5) for k, v in self.metrics.items()},
            "monte_carlo": self.risk.as_dict() if self.risk else None,
            "edge": self.edge.as_dict() if self.edge else None,
            "quant_score": round(self.quant_score, 4), "llm_rating": self.llm_rating,
            "llm_reasons": self.llm_reasons, "score": round(self.score, 4),
            "fundamentals": self.fundamentals, "last_close": self.last_close,
        }


@dataclass(slots=True)
class LLMVerdict:
    model: str  # provider:model, or "none"
    status: str  # ok | skipped: ... | error: ...
    used: bool

    def as_dict(self) -> dict[str, Any]:
        note = ("LLM ratings combined with the quantitative score" if self.used else
                f"quantitative score alone ({self.status})")
        return {"model": self.model, "status": self.status, "used": self.used, "note": note}


@dataclass(slots=True)
class Analysis:
    assessments: list[Assessment]  # best first: holdable candidates by score, then the rest
    llm: LLMVerdict
    thresholds: dict[str, float]
    symbols: list[str] = field(default_factory=list)  # rows of `paths`
    paths: np.ndarray | None = None  # (symbols, paths) simple returns over the holding period

    def portfolio_risk(self, weights: dict[str, float]) -> RiskFigures | None:
        """Monte Carlo figures of a portfolio of `weights` (fractions; the rest is cash)."""
        if self.paths is None or not weights:
            return None
        w = np.array([weights.get(s, 0.0) for s in self.symbols])
        return portfolio_figures(self.paths, w)

    def as_dict(self) -> dict[str, Any]:
        return {"llm": self.llm.as_dict(), "thresholds": self.thresholds,
                "candidates": [a.as_dict() for a in self.assessments]}


def measure(bars: Sequence[Any]) -> dict[str, float]:
    """Momentum 12-1, annualised volatility and max drawdown of daily bars (oldest first)."""
    closes = np.array([b.close for b in bars], dtype=np.float64)
    momentum = closes[-1 - MOMENTUM_SKIP] / closes[0] - 1.0 if len(closes) > MOMENTUM_SKIP else 0.0
    logs = np.diff(np.log(closes))[-VOLATILITY_DAYS:]
    volatility = float(logs.std(ddof=1) * math.sqrt(252)) if len(logs) > 1 else 0.0
    peaks = np.maximum.accumulate(closes)
    drawdown = float(((peaks - closes) / peaks).max()) if len(closes) else 0.0
    return {"momentum_12_1": float(momentum), "volatility": volatility, "max_drawdown": drawdown}


def aligned_log_returns(candidates: Sequence[Candidate]) -> tuple[list[str], np.ndarray]:
    """Daily log returns of every candidate on the dates all of them traded (oldest first)."""
    closes = [{b.start.date(): b.close for b in c.bars} for c in candidates]
    common = sorted(set.intersection(*(set(c) for c in closes))) if closes else []
    matrix = np.array([[c[d] for d in common] for c in closes], dtype=np.float64)
    if matrix.size == 0 or matrix.shape[1] < 2:
        return [c.symbol for c in candidates], np.zeros((len(candidates), 0))
    return [c.symbol for c in candidates], np.diff(np.log(matrix), axis=1)


def _z(values: list[float]) -> list[float]:
    array = np.array(values, dtype=np.float64)
    std = array.std()
    return [0.0] * len(values) if std == 0 or not np.isfinite(std) else list(
        (array - array.mean()) / std)


def quantitative(candidates: Sequence[Candidate], rules: PortfolioRules,
                 seed: int) -> tuple[list[Assessment], list[str], np.ndarray | None]:
    """Metrics, Monte Carlo, filter and quant score of every candidate (no LLM)."""
    symbols, returns = aligned_log_returns(candidates)
    days = returns.shape[1]
    paths: np.ndarray | None = None
    figures: list[RiskFigures | None] = [None] * len(candidates)
    if days >= MIN_COMMON_DAYS:
        paths = simulate(returns, rules.holding_days, rules.mc_paths, rules.mc_block_days, seed)
        figures = list(risk_figures(paths))
    out: list[Assessment] = []
    for candidate, risk in zip(candidates, figures, strict=True):
        metrics = measure(candidate.bars)
        edge = None
        if risk is None:
            passed = holdable = False
            reason = (f"filtered: only {days} common daily returns (< {MIN_COMMON_DAYS}) for "
                      "the Monte Carlo")
        else:
            edge = edge_of(risk, candidate.last_close, days, rules)
            verdict = judge(edge, risk, rules)
            passed, holdable, reason = verdict.passed, verdict.holdable, verdict.reason
        metrics["prob_up"] = risk.prob_up if risk else 0.0
        out.append(Assessment(candidate.symbol, metrics, risk, passed, reason, holdable, edge,
                              fundamentals=dict(candidate.fundamentals),
                              last_close=candidate.last_close))
    columns = {name: _z([a.metrics[name] for a in out]) for name in WEIGHTS}
    for i, assessment in enumerate(out):
        score = sum(weight * columns[name][i] for name, weight in WEIGHTS.items())
        assessment.quant_score = assessment.score = float(score)
    return out, symbols, paths


def rating_prompt(assessments: Sequence[Assessment], rules: PortfolioRules) -> tuple[str, str]:
    """(system, user) for the LLM: figures only, nothing about the account."""
    rows = [{
        "symbol": a.symbol,
        **{k: round(v, 4) for k, v in a.metrics.items()},
        **({k: round(v, 4) for k, v in a.risk.as_dict().items()} if a.risk else {}),
        **{k: v for k, v in a.fundamentals.items() if v is not None},
    } for a in assessments]
    user = (f"Candidates ({len(rows)}), figures over the last year; Monte Carlo over "
            f"{rules.holding_days} sessions:\n" + json.dumps(rows, separators=(",", ":")))
    return SYSTEM.format(days=rules.holding_days), user


def apply_ratings(passing: Sequence[Assessment], answer: Ratings, weight: float) -> str | None:
    """Fold the ratings into the scores; returns why the answer is unusable (nothing changed)."""
    wanted = {a.symbol for a in passing}
    given = [r.symbol for r in answer.ratings]
    if len(given) != len(set(given)):
        return "error: the answer rates a symbol twice"
    if set(given) != wanted:
        extra, missing = sorted(set(given) - wanted), sorted(wanted - set(given))
        return (f"error: the answer does not rate exactly the candidates (unknown: "
                f"{', '.join(extra) or 'none'}; missing: {', '.join(missing) or 'none'})")
    by_symbol = {r.symbol: r for r in answer.ratings}
    for assessment in passing:
        rating = by_symbol[assessment.symbol]
        assessment.llm_rating = rating.rating
        assessment.llm_reasons = [scrub_text(" ".join(r.split()))[:200] for r in rating.reasons]
        assessment.score = assessment.quant_score + weight * (rating.rating - 3)
    return None


async def analyse(candidates: Sequence[Candidate], rules: PortfolioRules,
                  endpoint: LLMEndpoint | None, skipped_because: str, seed: int) -> Analysis:
    """Assess every candidate; ask the LLM about the ones that pass the filter."""
    assessments, symbols, paths = quantitative(candidates, rules, seed)
    eligible = [a for a in assessments if a.holdable]  # each may end up in the book
    if not eligible:
        llm = LLMVerdict("none", "skipped: no candidate passed the Monte Carlo filter", False)
    else:
        system, user = rating_prompt(eligible, rules)
        answer = await ask_structured(endpoint, Ratings, system, user,
                                      skipped_because=skipped_because)
        status = answer.status
        if answer.ok and answer.parsed is not None:
            status = apply_ratings(eligible, answer.parsed, rules.llm_weight) or "ok"
        llm = LLMVerdict(answer.model, status, status == "ok")
        if not llm.used:
            log.warning("analyst: LLM %s: %s; the quantitative score alone decides",
                        answer.model, status)
    ranked = sorted(assessments, key=lambda a: (not a.holdable, -a.score, a.symbol))
    thresholds = {"min_edge_z": rules.min_edge_z, "hold_edge_z": rules.hold_edge_z,
                  "max_cvar": rules.max_cvar, "slippage_bps": rules.slippage_bps,
                  "holding_days": float(rules.holding_days), "mc_paths": float(rules.mc_paths),
                  "mc_block_days": float(rules.mc_block_days), "llm_weight": rules.llm_weight}
    return Analysis(ranked, llm, thresholds, symbols, paths)
