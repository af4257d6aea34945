"""A/B variants: the current params (A) against a challenger (B), alternating by trading day.

Assignment is deterministic from the date (`variant_for`, improvement/ab_assignment.py): the
test's first session is an A day, then B, A, B ... in NYSE sessions. Trades carry their variant.

The gate for promoting B (stated, and checked by the tests over 200 seeds):
- minimum sample: at least 10 sessions per variant, AND B's record at least as long as its
  minimum track record length (MinTRL, Bailey & Lopez de Prado) for 95% confidence that B's
  Sharpe is above zero;
- interim looks only at 10, 20 and 30 sessions per variant (the last: the test ends). Each look
  tests at alpha / 3 = 1.67% (Bonferroni), so the chance of promoting a B that is not better
  stays at or below 5% over the whole test, despite looking three times;
- at a look, B is promoted only when BOTH Welch's t-test on per-trade returns (net P&L per
  dollar of entry notional; one-sided, B > A) has p < alpha / 3 AND the bootstrap confidence
  interval of the difference in mean daily net P&L (B - A) lies above zero at the same level.
While the sample is too small, or between looks, nothing changes: A remains the current params,
the days keep alternating and the report says when the next look is. After the last look
without significance B is retired and A stays. A promotion is a logged parameter change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

from evaluation.performance import TradeRecord
from evaluation.sharpe import min_track_record_length, sharpe_ratio

ALPHA = 0.05
MIN_SESSIONS = 10
LOOK_EVERY = 10
LOOKS = 3
ALPHA_PER_LOOK = ALPHA / LOOKS
BOOTSTRAP_RESAMPLES = 4000

@dataclass(frozen=True, slots=True)
class ABSample:
    """What the variants did so far: per-trade returns and per-session net P&L."""

    a_trade_returns: Sequence[float]
    b_trade_returns: Sequence[float]
    a_daily_pnl: Sequence[float]
    b_daily_pnl: Sequence[float]
    equity: float

    @classmethod
    def from_records(cls, trades: Sequence[TradeRecord], daily: Sequence[tuple[date, float]],
                     variant_of: dict[date, str], equity: float) -> ABSample:
        by = {"A": [], "B": []}  # type: dict[str, list[float]]
        for t in trades:
            if variant_of.get(t.trading_date) in by:
                by[variant_of[t.trading_date]].append(t.return_pct)
        days = {"A": [], "B": []}  # type: dict[str, list[float]]
        for day, pnl in daily:
            if variant_of.get(day) in days:
                days[variant_of[day]].append(pnl)
        return cls(by["A"], by["B"], days["A"], days["B"], equity)


@dataclass(frozen=True, slots=True)
class ABVerdict:
    """`decision`: collecting | continue | promote | retire."""

    decision: str
    reason: str
    a_sessions: int
    b_sessions: int
    a_trades: int
    b_trades: int
    look: int | None = None  # the interim look this verdict is (1..3), None between looks
    alpha: float = ALPHA_PER_LOOK
    welch_t: float | None = None
    welch_p: float | None = None
    daily_diff: float | None = None  # mean daily net P&L, B - A
    ci_low: float | None = None
    ci_high: float | None = None
    b_sharpe: float | None = None  # per session, annualised
    b_min_track_record: float | None = None  # sessions (None: B's Sharpe is not above 0)

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 8) if isinstance(v, float) and math.isfinite(v) else v)
                for k, v in asdict(self).items()}


def evaluate(sample: ABSample, looks_done: int, *, seed: int = 0) -> ABVerdict:
    """Tonight's verdict on the test; a look happens only the first night each 10-session
    milestone (per variant) is reached, which `looks_done` tracks."""
    a_days, b_days = len(sample.a_daily_pnl), len(sample.b_daily_pnl)
    counts = dict(a_sessions=a_days, b_sessions=b_days, a_trades=len(sample.a_trade_returns),
                  b_trades=len(sample.b_trade_returns))
    both = min(a_days, b_days)
    if both < MIN_SESSIONS:
        return ABVerdict("collecting", (
            f"sample too small: {a_days} A and {b_days} B sessions, the first look needs "
            f"{MIN_SESSIONS} of each; A stays the current params meanwhile"), **counts)
    look = min(both // LOOK_EVERY, LOOKS)
    if look <= looks_done:
        return ABVerdict("collecting", (
            f"between looks: {a_days} A and {b_days} B sessions, next look at "
            f"{(looks_done + 1) * LOOK_EVERY} sessions of each"), **counts)
    stats = _statistics(sample, seed)
    verdict = ABVerdict("continue", "", look=look, **counts, **stats)
    failed = _failed_checks(verdict)
    if not failed:
        return _with(verdict, "promote", (
            f"look {look}/{LOOKS}: B beats A (Welch p={verdict.welch_p:.4f} < {ALPHA_PER_LOOK:.4f}, "
            f"daily P&L difference CI [{verdict.ci_low:.2f}, {verdict.ci_high:.2f}] above 0, "
            f"{b_days} B sessions >= MinTRL {verdict.b_min_track_record:.1f})"))
    if look >= LOOKS:
        return _with(verdict, "retire", (
            f"final look {look}/{LOOKS}: B not shown better ({'; '.join(failed)}); A stays"))
    return _with(verdict, "continue", (
        f"look {look}/{LOOKS}: not significant yet ({'; '.join(failed)}); next look at "
        f"{(look + 1) * LOOK_EVERY} sessions of each"))


def _statistics(sample: ABSample, seed: int) -> dict[str, float | None]:
    a, b = np.asarray(sample.a_trade_returns, float), np.asarray(sample.b_trade_returns, float)
    welch_t = welch_p = None
    if len(a) >= 2 and len(b) >= 2 and (a.var() > 0 or b.var() > 0):
        # imported here: scipy.stats costs ~1 s, and every day-trader start imports this module
        from scipy.stats import ttest_ind

        result = ttest_ind(b, a, equal_var=False, alternative="greater")
        welch_t, welch_p = float(result.statistic), float(result.pvalue)
    da, db = np.asarray(sample.a_daily_pnl, float), np.asarray(sample.b_daily_pnl, float)
    rng = np.random.default_rng(seed)
    diffs = (rng.choice(db, (BOOTSTRAP_RESAMPLES, len(db))).mean(axis=1)
             - rng.choice(da, (BOOTSTRAP_RESAMPLES, len(da))).mean(axis=1))
    b_returns = [p / sample.equity for p in sample.b_daily_pnl]
    b_sharpe = sharpe_ratio(b_returns)
    mintrl = min_track_record_length(b_returns)
    return {
        "welch_t": welch_t, "welch_p": welch_p, "daily_diff": float(db.mean() - da.mean()),
        "ci_low": float(np.quantile(diffs, ALPHA_PER_LOOK)),
        "ci_high": float(np.quantile(diffs, 1 - ALPHA_PER_LOOK)),
        "b_sharpe": b_sharpe * math.sqrt(252) if b_sharpe is not None else None,
        "b_min_track_record": mintrl if mintrl is not None and math.isfinite(mintrl) else None,
    }


def _failed_checks(v: ABVerdict) -> list[str]:
    failed = []
    if v.welch_p is None:
        failed.append("too few trades for Welch's test")
    elif v.welch_p >= ALPHA_PER_LOOK:
        failed.append(f"Welch p={v.welch_p:.4f} >= {ALPHA_PER_LOOK:.4f}")
    if v.ci_low is None or v.ci_low <= 0:
        failed.append(f"daily P&L difference CI low {v.ci_low:.2f} <= 0")
    if v.b_min_track_record is None:
        failed.append("B's Sharpe is not above 0 (no track record is long enough)")
    elif v.b_sessions < v.b_min_track_record:
        failed.append(f"{v.b_sessions} B sessions < MinTRL {v.b_min_track_record:.1f}")
    return failed


def _with(v: ABVerdict, decision: str, reason: str) -> ABVerdict:
    return ABVerdict(**{**asdict(v), "decision": decision, "reason": reason})
