"""What the cycle decides about tonight's suggestions, after the sources have spoken: screen
them (bounds, already current, already B, retired lately, duplicates), judge the survivors with
the gate, pick at most one challenger, and turn every outcome into the DB's rows.

Kept apart from improvement/cycle.py (the night's order of steps and its commit) so each module
has one job; the decisions themselves are the gate's (improvement/gate.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from improvement.bounds import screen
from improvement.gate import GateSettings, ParamCandidate, ReplayWindow, candidate_key, judge
from improvement.params_store import apply_tuned
from improvement.replay import Replayer
from improvement.report import SuggestionOutcome
from improvement.suggestions import Suggestion
from observability.schema import ABTestRow, ParameterChangeRow, TuningTrialRow
from trade.models import Params

__all__ = ["screened_outcomes", "validate", "choose", "earlier_tested", "rows_for"]


def screened_outcomes(found: Iterable[Suggestion], params: Params, tests: Sequence[ABTestRow],
                      since: date) -> list[SuggestionOutcome]:
    """Every suggestion with the reason it cannot be tried, if any (duplicates merged)."""
    running = {(t.parameter, t.b_values.get(t.parameter)): t for t in tests
               if t.status == "running"}
    retired = {(t.parameter, t.b_values.get(t.parameter)): t for t in tests
               if t.status in ("retired", "stopped") and t.ended is not None and t.ended >= since}
    out: list[SuggestionOutcome] = []
    first: dict[tuple[str, Any], SuggestionOutcome] = {}
    for suggestion in found:
        outcome = SuggestionOutcome(suggestion)
        checked = screen(suggestion.parameter, suggestion.new, clamp=False)
        key = (suggestion.parameter, checked.value)
        if not checked.ok:
            outcome.reason = f"refused: {checked.reason}"
        elif checked.value == getattr(params, suggestion.parameter, None):
            outcome.reason = "refused: already the current value"
        elif key in running:
            outcome.reason = (f"not validated again: already trading as challenger B in A/B "
                              f"test {running[key].id}")
        elif key in retired:
            test = retired[key]
            outcome.reason = (f"not tried again: retired as challenger B by A/B test {test.id} "
                              f"on {test.ended} (its forward evidence is in)")
        elif key in first:
            outcome.duplicate_of = first[key]
            first[key].extra_sources.append(suggestion.source)
            outcome.reason = "same change as another suggestion"
        else:
            first[key] = outcome
        out.append(outcome)
    return out


def earlier_tested(trials: Iterable[TuningTrialRow], since: date, day: date) -> set[str]:
    """Keys of the distinct candidates tested (not just screened) on the look-back's earlier
    nights: what tonight's level is deflated for, next to tonight's own."""
    return {candidate_key(t.candidate) for t in trials
            if since <= t.cycle_date < day and (t.detail or {}).get("stage") == "tested"}


def validate(outcomes: Sequence[SuggestionOutcome], replayer: Replayer, window: ReplayWindow,
             base: Params, current: dict[str, Any], settings: GateSettings, earlier: set[str],
             day: date) -> None:
    """Judge every suggestion still open with the gate; each gets its verdict and reason."""
    pending = [o for o in outcomes if not o.reason]
    if not pending:
        return
    current_params = apply_tuned(base, current)
    candidates = []
    for o in pending:
        tuned = {**current, o.suggestion.parameter: o.suggestion.new}
        candidates.append(ParamCandidate(candidate_key(tuned), apply_tuned(base, tuned),
                                         sizing=o.suggestion.parameter == "position_pct"))
    for o, verdict in zip(pending, judge(replayer, window, current_params, candidates, earlier,
                                         settings, day), strict=True):
        o.verdict = verdict
        o.reason = verdict.reason


def choose(outcomes: Sequence[SuggestionOutcome], next_day: date) -> SuggestionOutcome | None:
    """The one challenger of the night: the passed candidate with the highest lower bound."""
    passed = [o for o in outcomes if o.passed and o.verdict and o.verdict.test]
    if not passed:
        return None
    best = max(passed, key=_lower_bound)
    best.challenger = True
    best.reason += f"; trading as challenger B from {next_day}, the A/B test confirms it forward"
    for o in passed:
        if o is not best:
            o.reason += (f"; not started: one challenger at a time ({best.suggestion.parameter} "
                         "has the higher lower bound)")
    return best


def _lower_bound(o: SuggestionOutcome) -> float:
    test = o.verdict.test if o.verdict else None
    return test.low if test is not None and test.low is not None else float("-inf")


def rows_for(outcomes: Sequence[SuggestionOutcome], day: date, time: datetime,
             current: dict[str, Any]) -> tuple[list[ParameterChangeRow], list[TuningTrialRow]]:
    """A `parameter_changes` row for every suggestion (none is applied directly: a change to A
    only ever comes from an A/B promotion) and a `tuning_trials` row for every replayed one."""
    changes, trials = [], []
    for o in outcomes:
        if o.duplicate_of is not None:
            o.reason = (f"same change as the {o.duplicate_of.suggestion.source} suggestion, "
                        f"decided there: {o.duplicate_of.reason}")
        s = o.suggestion
        changes.append(ParameterChangeRow(time, s.parameter, s.old, s.new,
                                          f"{s.reason} -> {o.reason}", o.sources, "rejected",
                                          "B" if o.challenger else ""))
        v = o.verdict
        if v is None:
            continue
        verdict = "challenger" if o.challenger else ("passed" if v.passed else "rejected")
        trials.append(TuningTrialRow(
            day, {**current, s.parameter: s.new}, s.parameter, o.sources,
            v.test.sessions if v.test else v.in_sample.sessions,
            v.test.t if v.test else v.in_sample.t, v.candidate_test_pnl, v.current_test_pnl,
            None, f"{verdict}: {v.reason}", time, v.as_dict()))
    return changes, trials
