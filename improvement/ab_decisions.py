"""The A/B test's nightly bookkeeping against the history DB: look at the running test, promote
or retire B, stop a test whose A changed, start a new one, and say which variant a session
trades. The statistics and the gate live in improvement/ab_testing.py.

Which sessions count: those with a `daily_metrics` row carrying variant A or B between the
test's start and tonight, i.e. sessions the day trader really traded with that variant (a
session the bot did not run is not a zero-P&L day for either side).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from evaluation.performance import DAY_TRADER, daily_pnl_series, trade_records
from improvement.ab_assignment import variant_for
from improvement.ab_testing import ABSample, ABVerdict, evaluate
from improvement.suggestions import Suggestion
from observability.history import HistoryDB
from observability.schema import ABTestRow, ABTestUpdate, ParameterChangeRow


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
        if self.promoted_values is None:
            return None
        return ("not validated: tonight's change is the A/B promotion of "
                f"{self.ended.parameter if self.ended else 'B'} (one change per night)")

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


def look(db: HistoryDB, day: date, equity: float, time: datetime) -> ABNight:
    """Tonight's look at the running test (if any); nothing is written here."""
    running = [t for t in db.ab_tests("running") if t.started <= day]
    if not running:
        return ABNight("none", "no A/B test running")
    test = running[-1]
    rows = db.daily_metrics(DAY_TRADER, test.started, day)
    variant_of = {r.trading_date: r.variant for r in rows if r.variant in ("A", "B")}
    trades = trade_records(db, test.started, day)
    sample = ABSample.from_records(trades, daily_pnl_series(trades, sorted(variant_of)),
                                   variant_of, equity)
    verdict = evaluate(sample, test.looks, seed=test.id or 0)
    looks = verdict.look or test.looks
    assert test.id is not None
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


def stop_for_change(ab: ABNight, parameter: str, day: date, time: datetime) -> ABNight:
    """A validated change to A ends the running test: its A no longer exists."""
    test = ab.running
    if test is None or test.id is None:
        return ab
    reason = f"stopped: A changed ({parameter} applied by validated tuning)"
    looks = ab.update.looks if ab.update else test.looks
    change = ParameterChangeRow(time, test.parameter, test.a_values.get(test.parameter),
                                test.b_values.get(test.parameter), f"A/B test {test.id} {reason}",
                                "ab_test", "rejected", "B")
    return dataclasses.replace(ab, decision="stopped", reason=reason, running=None, ended=test,
                               update=ABTestUpdate(test.id, "stopped", looks, reason, day),
                               changes=[*ab.changes, change])


def start(ab: ABNight, first_day: date, challenger: Suggestion, current: dict[str, Any],
          time: datetime) -> ABNight:
    """A new test from `first_day` (an A day): B = the current tuned values + the challenger."""
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
