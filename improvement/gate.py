"""The gate every parameter change passes before it trades (as challenger B, then as A).

Tonight's replay window is the `sessions` (default 20) NYSE sessions ending at the reviewed
day, contiguous by the calendar: a session the replay data lacks is a hole, never replaced by an
older one (a December night must not "validate" on February). The window is split in time: the
older 35% (7 of 20 sessions) is the in-sample part, the recent 65% (13) the test part: the
in-sample part only proposes and ranks, the test part decides, and its power grows with its
length. When either part has less than 80% of its sessions, nothing is decided ("data for 12
of 20 sessions" says why).

1. Candidates come from the in-sample part only: the rules read the current parameters'
   replayed in-sample trades, the LLM reads their metrics, the neighbour search replays them
   (improvement/suggestions.py).
2. In-sample screen: every candidate is replayed on the in-sample sessions next to the current
   parameters. Only candidates that earned more per session there go on, at most `max_tested`
   of them (the highest in-sample t first). The test part is not read for this choice.
3. Test, touched once: each selected candidate is replayed on exactly the test sessions the
   current parameters are replayed on; the statistic is the per-session P&L difference
   (improvement/paired.py: block-bootstrap standard error, Student-t bound). The level is
   `alpha` deflated (Sidak) for the number of DISTINCT candidates tested on the nights of the
   look-back window, tonight's included: re-testing one candidate on overlapping sessions
   night after night is not a new trial, trying many different ones is.
4. The candidate passes when its lower bound is above the materiality margin: `MIN_EDGE`
   (0.025%) per trade of the current params, i.e. 0.025% x their in-sample trades per session x
   their mean position notional, in dollars per session. Smaller real effects exist (in the
   calibration's null market a wider stop saves about 0.013% per trade in stop slippage) but
   are within what a replay cannot promise live (fills, slippage), and not worth a change.

A sizing change (`position_pct`) is judged risk-adjusted: its per-session P&L is scaled by the
ratio of the current parameters' mean position notional to the candidate's (measured in
sample), so a bigger size that only earns proportionally more (and risks proportionally more)
shows no improvement.

`ALPHA` is the family level per night; the false-change rate it produces over whole months of
nights is measured by `python -m improvement.calibration` (docs/improvement.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from improvement.paired import PairedTest, deflated_alpha, money, paired_test, seed_of
from improvement.replay import Replayer, ReplayResult
from trade.calendar import MarketCalendar
from trade.models import Params

ALPHA = 0.02
MIN_EDGE = 0.00025  # per trade, as a fraction of the position's notional
SCREEN_ALPHA = 0.5  # the in-sample screen only ranks: its bound is not a decision


@dataclass(frozen=True, slots=True)
class GateSettings:
    sessions: int = 20
    test_fraction: float = 0.65  # 20 sessions: 7 in sample, 13 in the test part
    min_present: float = 0.8  # share of each part that must have replay data
    alpha: float = ALPHA
    max_tested: int = 2
    min_edge: float = MIN_EDGE

    def __post_init__(self) -> None:
        if self.sessions < 4:
            raise ValueError(f"sessions={self.sessions} is too small: use at least 4")


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    wanted: tuple[date, ...]  # the contiguous sessions ending at the reviewed day
    present: tuple[date, ...]  # those the replay data holds
    in_sample: tuple[date, ...]
    test: tuple[date, ...]
    problem: str | None

    @property
    def coverage(self) -> str:
        return f"{len(self.present)} of {len(self.wanted)} sessions"

    def as_dict(self) -> dict[str, Any]:
        def span(days: Sequence[date]) -> dict[str, Any]:
            return {"from": days[0].isoformat() if days else None,
                    "to": days[-1].isoformat() if days else None, "sessions": len(days)}

        return {"wanted": span(self.wanted), "present": len(self.present),
                "coverage": self.coverage, "in_sample": span(self.in_sample),
                "test": span(self.test), "problem": self.problem,
                "missing": [d.isoformat() for d in self.wanted if d not in set(self.present)]}


def replay_window(replayer: Replayer | None, day: date, settings: GateSettings,
                  calendar: MarketCalendar | None = None) -> ReplayWindow:
    """Tonight's window and whether it can decide anything."""
    calendar = calendar or MarketCalendar()
    wanted = [day]
    while len(wanted) < settings.sessions:
        wanted.append(calendar.previous_session(wanted[-1]).date)
    wanted.reverse()
    k = min(max(1, round(len(wanted) * settings.test_fraction)), len(wanted) - 1)
    in_wanted, test_wanted = wanted[:-k], wanted[-k:]
    if replayer is None:
        return ReplayWindow(tuple(wanted), (), (), (), "not validated: no replay data configured")
    present = set(replayer.available(wanted))
    in_sample = tuple(d for d in in_wanted if d in present)
    test = tuple(d for d in test_wanted if d in present)
    found = tuple(d for d in wanted if d in present)
    problem = None
    short = [(name, len(got), len(need)) for name, got, need in
             (("in-sample", in_sample, in_wanted), ("test", test, test_wanted))
             if len(got) < math.ceil(settings.min_present * len(need)) or len(got) < 2]
    if short:
        parts = ", ".join(f"{name} part {got} of {need}" for name, got, need in short)
        problem = (f"not validated: replay data for {len(found)} of {len(wanted)} sessions "
                   f"{wanted[0]}..{wanted[-1]} ({parts}; each part needs "
                   f"{settings.min_present:.0%})")
    return ReplayWindow(tuple(wanted), found, in_sample, test, problem)


@dataclass(frozen=True, slots=True)
class ParamCandidate:
    key: str  # the tuned values as canonical JSON: what "distinct" means
    params: Params
    sizing: bool = False


def candidate_key(tuned: dict[str, Any]) -> str:
    return json.dumps(tuned, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class GateVerdict:
    stage: str  # in_sample (screened out) | not_selected | tested
    in_sample: PairedTest
    test: PairedTest | None
    scale: float
    distinct: int  # K, the distinct candidates the level is deflated for
    margin: float  # dollars per session the lower bound must clear
    current_test_pnl: float | None
    candidate_test_pnl: float | None
    passed: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "in_sample": self.in_sample.as_dict(),
                "test": self.test.as_dict() if self.test else None,
                "sizing_scale": round(self.scale, 6), "distinct_candidates": self.distinct,
                "margin": round(self.margin, 2),
                "current_test_pnl": _r(self.current_test_pnl),
                "candidate_test_pnl": _r(self.candidate_test_pnl),
                "passed": self.passed, "reason": self.reason}


def _r(x: float | None) -> float | None:
    return round(x, 2) if x is not None and math.isfinite(x) else None


def judge(replayer: Replayer, window: ReplayWindow, current: Params,
          candidates: Sequence[ParamCandidate], earlier: set[str], settings: GateSettings,
          day: date) -> list[GateVerdict]:
    """Screen every candidate in sample, test the selected ones once (see the docstring).
    `earlier`: the keys of the distinct candidates tested on the look-back's earlier nights."""
    base_in = replayer.replay(current, window.in_sample)
    margin = materiality(base_in, settings.min_edge)
    screened = []
    for c in candidates:
        result = replayer.replay(c.params, window.in_sample)
        scale = sizing_scale(base_in, result) if c.sizing else 1.0
        screen = paired_test(differences(base_in, result, scale), SCREEN_ALPHA, 0,
                             bootstrap=False)
        screened.append((c, scale, screen, bool(result.trades)))
    eligible = sorted((i for i, (_, _, s, _) in enumerate(screened) if s.mean > 0 and s.sessions),
                      key=lambda i: (-(screened[i][2].t or 0.0), -screened[i][2].mean, i))
    chosen = eligible[:settings.max_tested]
    distinct = len(earlier | {screened[i][0].key for i in chosen})
    alpha = deflated_alpha(settings.alpha, distinct)
    base_test = replayer.replay(current, window.test) if chosen else None
    out = []
    for i, (c, scale, screen, traded) in enumerate(screened):
        where = (f"in sample ({len(window.in_sample)} sessions {_span(window.in_sample)}) "
                 f"{money(screen.mean)}/session")
        if i not in chosen:
            stage = "in_sample" if i not in eligible else "not_selected"
            reason = (f"not tested: {where} vs the current params" if stage == "in_sample" else
                      f"not tested: {where}, t {screen.t or 0:.2f}, below the "
                      f"{settings.max_tested} best candidates tonight")
            if not traded and not base_in.trades:
                reason = (f"not tested: in sample ({len(window.in_sample)} sessions "
                          f"{_span(window.in_sample)}) neither the current params nor this "
                          "change made a trade: nothing to compare")
            out.append(GateVerdict(stage, screen, None, scale, distinct, margin, None, None,
                                   False, reason))
            continue
        assert base_test is not None
        result = replayer.replay(c.params, window.test)
        test = paired_test(differences(base_test, result, scale), alpha, seed_of(day, c.key))
        level = (f"{1 - 2 * alpha:.2%} interval {test.interval_text()}, alpha {alpha:.3%} = "
                 f"{settings.alpha:.0%} deflated for {distinct} distinct candidate"
                 f"{'s' if distinct != 1 else ''}")
        sized = f", risk-adjusted x{scale:.3f}" if c.sizing else ""
        passed = test.low is not None and test.low > margin
        verdict = "passed" if passed else "rejected"
        reason = (f"{verdict}: tested on {len(window.test)} sessions {_span(window.test)}"
                  f" ({where}): difference {money(test.mean)}/session{sized}, {level}")
        if not passed:
            reason += (f"; the gate needs the interval above {money(margin)}/session "
                       f"({settings.min_edge:.3%} per trade)")
        out.append(GateVerdict("tested", screen, test, scale, distinct, margin,
                               _total(base_test), _total(result) * scale, passed, reason))
    return out


def materiality(base: ReplayResult, min_edge: float) -> float:
    """`min_edge` per trade of the current params in dollars per session: their trades per
    session times their mean position notional (0 when they did not trade)."""
    trades = base.trades
    if not trades or not base.days:
        return 0.0
    notional = sum(t.notional for t in trades) / len(trades)
    return min_edge * notional * len(trades) / len(base.days)


def differences(base: ReplayResult, candidate: ReplayResult, scale: float = 1.0) -> list[float]:
    """Per-session net P&L, candidate (scaled) minus current, session by session."""
    mine = {d.day: d.net_pnl for d in candidate.days}
    return [mine[d.day] * scale - d.net_pnl for d in base.days if d.day in mine]


def sizing_scale(base: ReplayResult, candidate: ReplayResult) -> float:
    """Current mean position notional / the candidate's (1.0 when either never traded)."""
    a = [t.notional for t in base.trades]
    b = [t.notional for t in candidate.trades]
    if not a or not b or sum(b) <= 0:
        return 1.0
    return (sum(a) / len(a)) / (sum(b) / len(b))


def _total(result: ReplayResult) -> float:
    return sum(d.net_pnl for d in result.days)


def _span(days: Sequence[date]) -> str:
    return f"{days[0]}..{days[-1]}" if days else "(none)"
