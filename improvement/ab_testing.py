"""The A/B test: a challenger B that passed the gate (improvement/gate.py) confirmed forward,
on sessions that did not exist when it was chosen, before it replaces the current params (A).

Days alternate A, B, A, ... by NYSE session from the test's first day (an A day;
improvement/ab_assignment.py), so each variant really trades half the days. Each day is also
replayed under the variant that did NOT trade it, so every session gives one paired
observation: d = P&L(B) - P&L(A) on the same day, the traded variant's from the live record,
the other's from the replay. Alternating which side is live cancels a systematic live-vs-replay
difference (slippage the replay does not see) out of the mean. A sizing change is judged
risk-adjusted: B's P&L is scaled by A's mean position notional over B's.

The gate for promoting B (the statistic is improvement/paired.py's, per session, never per
trade: the trades of one day share that day's shock):
- looks only at 5, 10, 15 and 20 paired sessions (the last one ends the test); each look tests
  at alpha / 4 = 1.25% (Bonferroni over the 4 looks, so a B that is not better is promoted in at
  most 5% of tests however often the test is looked at);
- promote when the lower bound of the paired difference is above 0;
- retire at a look whose upper bound is below 0 (B shown worse), or at the last look.
While the sample is too small or between looks nothing changes and the report says when the
next look is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from improvement.paired import PairedTest, money, paired_test

ALPHA = 0.05
LOOK_EVERY = 5
LOOKS = 4
ALPHA_PER_LOOK = ALPHA / LOOKS
MIN_SESSIONS = LOOK_EVERY


@dataclass(frozen=True, slots=True)
class ABVerdict:
    """`decision`: collecting | continue | promote | retire."""

    decision: str
    reason: str
    sessions: int  # paired sessions (traded by one variant, replayed under the other)
    a_sessions: int  # of which traded by A
    b_sessions: int
    unpaired: int = 0  # sessions traded in the test that could not be replayed (no data)
    look: int | None = None
    alpha: float = ALPHA_PER_LOOK
    test: PairedTest | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "test"}
        out["paired"] = self.test.as_dict() if self.test else None
        return out


def evaluate(diffs: Sequence[float], looks_done: int, *, a_sessions: int, b_sessions: int,
             unpaired: int = 0, seed: int = 0) -> ABVerdict:
    """Tonight's verdict on the test from its paired per-session differences (B - A)."""
    n = len(diffs)
    missing = f" ({unpaired} traded sessions had no replay data)" if unpaired else ""
    if n < MIN_SESSIONS:
        return ABVerdict("collecting", (
            f"sample too small: {n} paired sessions{missing}, the first look needs "
            f"{MIN_SESSIONS}; A stays the current params meanwhile"), n, a_sessions, b_sessions,
            unpaired)
    look = min(n // LOOK_EVERY, LOOKS)
    if look <= looks_done:
        return ABVerdict("collecting", (
            f"between looks: {n} paired sessions{missing}, next look at "
            f"{(looks_done + 1) * LOOK_EVERY}"), n, a_sessions, b_sessions, unpaired)
    test = paired_test(diffs, ALPHA_PER_LOOK, seed)
    stats = (f"B - A {money(test.mean)}/session over {n} paired sessions, "
             f"{1 - 2 * ALPHA_PER_LOOK:.1%} interval {test.interval_text()}")
    if test.passed:
        decision, reason = "promote", f"look {look}/{LOOKS}: B confirmed ({stats} above 0)"
    elif test.harmful:
        decision, reason = "retire", f"look {look}/{LOOKS}: B shown worse ({stats} below 0); A stays"
    elif look >= LOOKS:
        decision, reason = "retire", f"final look {look}/{LOOKS}: B not confirmed ({stats}); A stays"
    else:
        decision, reason = "continue", (f"look {look}/{LOOKS}: not confirmed yet ({stats}); next "
                                        f"look at {(look + 1) * LOOK_EVERY} paired sessions")
    return ABVerdict(decision, reason, n, a_sessions, b_sessions, unpaired, look=look, test=test)
