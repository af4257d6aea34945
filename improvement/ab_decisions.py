"""The A/B test's nightly bookkeeping against the history DB: look at the running test (each
of its sessions paired with a replay under the other variant), promote or retire B, start a new
test for a challenger that passed the gate, and say which variant a session trades. The
statistics and the promotion rule live in improvement/ab_testing.py.

Which sessions count: those with a `daily_metrics` row carrying variant A or B between the
test's start and tonight, i.e. sessions the day trader really traded with that variant (a
session the bot did not run is not a zero-P&L day for either side). The traded variant's P&L is
the day's recorded trades (every run of that day); the other variant's is a replay of the same
session with its parameters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from evaluation.performance import DAY_TRADER, trade_records
from improvement.ab_assignment import variant_for
from improvement.ab_testing import ABVerdict, evaluate
from improvement.gate import sizing_scale
from improvement.paired import seed_of
from improvement.params_store import apply_tuned
from improvement.replay import ReplayDay, Replayer, ReplayResult
from improvement.suggestions import Suggestion
from observability.history import HistoryDB
from observability.schema import ABTestRow, ABTestUpdate, ParameterChangeRow
from trade.models import Params


@dataclass(slots=True)
class ABNight:
    decision: str  # none | collecting | continue | promote | retire | stopped | started
    reason: str = ""
    running: ABTestRow | None = None  # the test in force after tonight
    verdict: ABVerdict | None = None
    started: ABTestRow | None = None  # a test to insert tonight
    update: ABTestUpdate | None = None
    promoted_values: dict[str, Any] | None = None
    changes: list[ParameterChangeRow] = field(default_factory=list)
    ended: ABTestRow | None = None

    @property
    def blocks_tuning(self) -> str | None:
        """Why no new challenger is judged tonight: one change at a time, so each change's
        effect stays attributable (None: the gate may run)."""
        if self.promoted_values is not None:
            return ("not validated: tonight's change is the A/B promotion of "
                    f"{self.ended.parameter if self.ended else 'B'} (one change per night)")
        test = self.running
        if test is not None and self.started is None:
            return (f"not validated: A/B test {test.id} is confirming {test.parameter} "
                    f"{test.a_values.get(test.parameter)} -> {test.b_values.get(test.parameter)}"
                    " (one challenger at a time)")
        return None

    def as_dict(self) -> dict[str, Any]:
        test = self.running or self.ended
        return {
            "status": self.decision,
            "reason": self.reason,
            "test": None if test is None else {
                "id": test.id, "started": test.started.isoformat(), "parameter": test.parameter,
                "a": test.a_values, "b": test.b_values,
                "status": self.update.status if self.update else test.status,
            },
            "verdict": self.verdict.as_dict() if self.verdict else None,
        }


def look(db: HistoryDB, day: date, time: datetime, replayer: Replayer | None,
         base: Params) -> ABNight:
    """Tonight's look at the running test (if any); nothing is written here."""
    running = [t for t in db.ab_tests("running") if t.started <= day]
    if not running:
        return ABNight("none", "no A/B test running")
    test = running[-1]
    assert test.id is not None
    diffs, a_days, b_days, unpaired = paired_sessions(db, test, day, replayer, base)
    verdict = evaluate(diffs, test.looks, a_sessions=a_days, b_sessions=b_days,
                       unpaired=unpaired, seed=seed_of("ab", test.id, day))
    looks = verdict.look or test.looks
    a_old, b_new = test.a_values.get(test.parameter), test.b_values.get(test.parameter)
    if verdict.decision == "promote":
        return ABNight(
            "promote", verdict.reason, None, verdict,
            update=ABTestUpdate(test.id, "promoted", looks, verdict.reason, day),
            promoted_values=dict(test.b_values), ended=test,
            changes=[ParameterChangeRow(time, test.parameter, a_old, b_new,
                                        f"A/B test {test.id}: {verdict.reason}", "ab_test",
                                        "applied", "B")])
    if verdict.decision == "retire":
        return ABNight(
            "retire", verdict.reason, None, verdict,
            update=ABTestUpdate(test.id, "retired", looks, verdict.reason, day), ended=test,
            changes=[ParameterChangeRow(time, test.parameter, a_old, b_new,
                                        f"A/B test {test.id}: {verdict.reason}", "ab_test",
                                        "rejected", "B")])
    update = (ABTestUpdate(test.id, "running", looks, verdict.reason)
              if verdict.look is not None else None)
    return ABNight(verdict.decision, verdict.reason, test, verdict, update=update)


def paired_sessions(db: HistoryDB, test: ABTestRow, day: date, replayer: Replayer | None,
                    base: Params) -> tuple[list[float], int, int, int]:
    """(B - A per paired session, A sessions, B sessions, sessions without replay data)."""
    rows = db.daily_metrics(DAY_TRADER, test.started, day, run_id=None)
    variant_of: dict[date, str] = {}
    for r in rows:
        if r.variant in ("A", "B"):
            variant_of.setdefault(r.trading_date, r.variant)
    days = sorted(variant_of)
    trades = trade_records(db, test.started, day)
    live = {d: ReplayDay(d, sum(t.net_pnl for t in trades if t.trading_date == d),
                         tuple(t for t in trades if t.trading_date == d)) for d in days}
    held = set(replayer.available(days)) if replayer is not None else set()
    paired = [d for d in days if d in held]
    params = {"A": apply_tuned(base, test.a_values), "B": apply_tuned(base, test.b_values)}
    side: dict[str, list[ReplayDay]] = {"A": [], "B": []}
    for d in paired:
        traded = variant_of[d]
        other = "B" if traded == "A" else "A"
        assert replayer is not None
        [replayed] = replayer.replay(params[other], [d]).days
        side[traded].append(live[d])
        side[other].append(replayed)
    a, b = ReplayResult(tuple(side["A"])), ReplayResult(tuple(side["B"]))
    sizing = test.a_values.get("position_pct") != test.b_values.get("position_pct")
    scale = sizing_scale(a, b) if sizing else 1.0
    diffs = [bd.net_pnl * scale - ad.net_pnl for ad, bd in zip(a.days, b.days, strict=True)]
    counts = [sum(variant_of[d] == v for d in paired) for v in ("A", "B")]
    return diffs, counts[0], counts[1], len(days) - len(paired)


def start(ab: ABNight, first_day: date, challenger: Suggestion, current: dict[str, Any],
          time: datetime) -> ABNight:
    """A new test from `first_day` (an A day): B = the current tuned values + the challenger,
    which passed the gate tonight (nothing trades as B otherwise)."""
    test = ABTestRow(first_day, challenger.parameter, dict(current),
                     {**current, challenger.parameter: challenger.new}, time)
    reason = (f"started: B = {challenger.parameter} {challenger.old} -> {challenger.new} "
              f"({challenger.source}), alternating from {first_day}")
    return dataclasses.replace(ab, decision="started", reason=reason, running=test, started=test)


def for_session(ab: ABNight, day: date, current: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(variant, tuned values) session `day` trades with after tonight's decisions."""
    test = ab.running
    if test is None or day < test.started:
        return "", dict(current)
    variant = variant_for(day, test.started)
    return variant, dict(test.b_values if variant == "B" else current)
