"""Validating a parameter change by replay before it is applied.

For each candidate (the current params with one suggested change) the replayer trades the last
N sessions (default 20) with the current params and with the candidate. The window is split in
time: the first 70% of the sessions are in sample, the most recent 30% out of sample. A
candidate is applied only when BOTH hold:

1. it beats the current params out of sample: a strictly higher net P&L on the out-of-sample
   sessions (the most recent ones);
2. its deflated Sharpe ratio is >= 0.95: the probability that its true per-session Sharpe over
   the whole window is above the best Sharpe that luck alone would give among ALL candidates
   ever tried in this DB (tonight's included; `tuning_trials` keeps every one, so trying more
   candidates makes each one harder to accept).

In-sample figures are reported next to the out-of-sample ones so a reader sees whether a change
helps everywhere or only recently. At most one change is applied per night (the passing
candidate with the largest out-of-sample improvement), so each change's effect stays
attributable; a candidate that beats the current params out of sample but fails the DSR may be
traded live as challenger B in an A/B test instead (improvement/ab_testing.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from evaluation.performance import compute_metrics
from evaluation.sharpe import deflated_sharpe_ratio, sharpe_ratio
from improvement.replay import Replayer, ReplayResult
from trade.models import Params

SUMMARY_KEYS = ("net_pnl", "trades", "win_rate", "profit_factor", "max_drawdown", "sharpe")


@dataclass(frozen=True, slots=True)
class WalkForward:
    sessions: int = 20
    oos_fraction: float = 0.3
    min_sessions: int = 6
    dsr_threshold: float = 0.95

    def split(self, days: Sequence[date]) -> tuple[list[date], list[date]]:
        """(in sample, out of sample): the out-of-sample sessions are the most recent."""
        k = min(max(1, round(len(days) * self.oos_fraction)), len(days) - 1)
        return list(days[:-k]), list(days[-k:])


@dataclass(frozen=True, slots=True)
class Validation:
    sessions: tuple[date, ...]
    in_sample: tuple[date, ...]
    out_of_sample: tuple[date, ...]
    current_in_sample: dict[str, Any]
    candidate_in_sample: dict[str, Any]
    current_out_of_sample: dict[str, Any]
    candidate_out_of_sample: dict[str, Any]
    sharpe: float | None  # candidate, per session, whole window (the trial's Sharpe)
    dsr: float | None
    trials: int  # every candidate ever tried, tonight's included
    beats_out_of_sample: bool
    passed: bool
    reason: str

    @property
    def oos_improvement(self) -> float:
        return (self.candidate_out_of_sample["net_pnl"] or 0.0) - (
            self.current_out_of_sample["net_pnl"] or 0.0)

    def as_dict(self) -> dict[str, Any]:
        def days(seq: Sequence[date]) -> dict[str, Any]:
            return {"from": seq[0].isoformat(), "to": seq[-1].isoformat(), "sessions": len(seq)}

        return {
            "sessions": days(self.sessions),
            "in_sample": {**days(self.in_sample), "current": self.current_in_sample,
                          "candidate": self.candidate_in_sample},
            "out_of_sample": {**days(self.out_of_sample), "current": self.current_out_of_sample,
                              "candidate": self.candidate_out_of_sample},
            "sharpe_per_session": _round(self.sharpe),
            "dsr": _round(self.dsr),
            "trials_counted": self.trials,
            "beats_out_of_sample": self.beats_out_of_sample,
            "passed": self.passed,
            "reason": self.reason,
        }


def _round(value: float | None) -> float | None:
    return round(value, 6) if value is not None and math.isfinite(value) else None


def window_problem(replayer: Replayer, until: date, window: WalkForward) -> str | None:
    """Why the replay window cannot validate anything tonight (None: it can)."""
    found = replayer.sessions(until, window.sessions)
    if len(found) < window.min_sessions:
        return (f"not validated: {len(found)} sessions of replay data up to {until}, "
                f"validation needs at least {window.min_sessions}")
    return None


def validate(replayer: Replayer, current: Params, candidates: Sequence[Params], until: date,
             window: WalkForward, earlier_trial_sharpes: Sequence[float], equity: float,
             allocation: float) -> list[Validation]:
    """Replay the current params and every candidate over the window and judge each."""
    days = replayer.sessions(until, window.sessions)
    in_sample, out_of_sample = window.split(days)
    base = replayer.replay(current, days)
    results = [replayer.replay(c, days) for c in candidates]
    sharpes = [_sharpe(r, equity) for r in results]
    trials = [*earlier_trial_sharpes, *(s if s is not None else 0.0 for s in sharpes)]
    out = []
    for result, sharpe in zip(results, sharpes, strict=True):
        returns = [pnl / equity for _, pnl in result.daily_pnl]
        dsr = deflated_sharpe_ratio(returns, trials)
        cur_oos = _summary(base.only(out_of_sample), equity, allocation)
        cand_oos = _summary(result.only(out_of_sample), equity, allocation)
        beats = cand_oos["net_pnl"] > cur_oos["net_pnl"]
        passed = beats and dsr is not None and dsr >= window.dsr_threshold
        out.append(Validation(
            tuple(days), tuple(in_sample), tuple(out_of_sample),
            _summary(base.only(in_sample), equity, allocation),
            _summary(result.only(in_sample), equity, allocation), cur_oos, cand_oos, sharpe, dsr,
            len(trials), beats, passed, _reason(beats, dsr, window, cand_oos, cur_oos, len(trials)),
        ))
    return out


def _sharpe(result: ReplayResult, equity: float) -> float | None:
    return sharpe_ratio([pnl / equity for _, pnl in result.daily_pnl])


def _summary(result: ReplayResult, equity: float, allocation: float) -> dict[str, Any]:
    m = compute_metrics(result.trades, result.daily_pnl, equity, allocation).as_dict()
    return {k: m[k] for k in SUMMARY_KEYS}


def _reason(beats: bool, dsr: float | None, window: WalkForward, cand: dict[str, Any],
            cur: dict[str, Any], trials: int) -> str:
    oos = (f"out of sample {cand['net_pnl']:+.2f} vs current {cur['net_pnl']:+.2f}")
    shown = "undefined (no variance)" if dsr is None else f"{dsr:.3f}"
    if not beats:
        return f"does not beat the current params out of sample ({oos})"
    if dsr is None or dsr < window.dsr_threshold:
        return (f"beats the current params out of sample ({oos}) but its deflated Sharpe "
                f"ratio {shown} over {trials} trials is below {window.dsr_threshold}")
    return (f"beats the current params out of sample ({oos}) and its deflated Sharpe ratio "
            f"{shown} over {trials} trials is >= {window.dsr_threshold}")


def best(validations: Sequence[Validation | None], *, passed: bool) -> int | None:
    """Index of the largest out-of-sample improvement among those that passed (or, with
    `passed=False`, among those that beat the current params but failed the DSR)."""
    pool = [(v.oos_improvement, -i, i) for i, v in enumerate(validations)
            if v is not None and v.beats_out_of_sample and v.passed == passed]
    return max(pool)[2] if pool else None
