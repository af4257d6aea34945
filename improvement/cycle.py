"""The nightly improvement cycle, run after a session's close:

    metrics -> regime (at tonight's close, for tomorrow) -> LLM insights -> suggestions
      -> A/B test look -> validation by replay -> apply (at most one change) -> tomorrow's params
      -> report (reports/improvement/improvement_report_<date>.json)

Every step has a span (`cycle.<step>` under `cycle`). Every decision, applied or not, is a
`parameter_changes` row with its source and reason; the LLM's answer (or why there was none) is
an `evaluations` row; every candidate replayed is a `tuning_trials` row. All of a night's
decisions are committed in one transaction together with the report, and a night that is
already on file is not run again: the second run only rewrites the stored report, so running
the cycle twice for one date changes nothing.

Callable once per session (the multi-day simulation loops it); synchronous, because the
replays drive their own event loops: async callers use `asyncio.to_thread(run_cycle, ...)`.
`python -m improvement.cycle --date YYYY-MM-DD [--db PATH]` runs it by hand (improvement/cli.py).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from evaluation.insights import NightlyInsights, build_prompt, nightly_insights
from evaluation.llm import LLMAnswer, LLMEndpoint
from evaluation.performance import (
    DAY_TRADER,
    compute_metrics,
    daily_pnl_series,
    metrics_by_label,
    record_day_metrics,
    trade_records,
)
from improvement import ab_decisions
from improvement.bounds import screen, tunable_bounds
from improvement.llm_loop import run_on_llm_loop
from improvement.params_store import apply_tuned, current_tuned, params_for_day
from improvement.regime import Regime, classify
from improvement.replay import Replayer
from improvement.report import SuggestionOutcome, write_report
from improvement.suggestions import (
    llm_suggestions,
    performance_suggestions,
    regime_suggestions,
)
from improvement.tuning import WalkForward, best, validate, window_problem
from observability import tracing
from observability.history import HistoryDB
from observability.schema import (
    EvaluationRow,
    ImprovementCycleCommit,
    ParameterChangeRow,
    ParamsScheduleRow,
    TuningTrialRow,
)
from trade.calendar import MarketCalendar
from trade.models import Bar, Params


class CycleError(ValueError):
    """The cycle cannot run for this input; one line naming the problem and the fix."""


@dataclass(frozen=True, slots=True)
class CycleInputs:
    day: date
    base_params: Params  # the configured defaults (settings), before tuning
    symbols: tuple[str, ...]
    allocation: float
    equity: float  # net liquidation at the start of `day` (returns are on it)
    reports_dir: Path
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per symbol
    replayer: Replayer | None = None
    regime_bars: Sequence[Bar] = ()
    llm: LLMEndpoint | None = None
    llm_skipped_because: str = "no DEEPSEEK_API_KEY"
    window: WalkForward = field(default_factory=WalkForward)
    metrics_sessions: int = 20


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    report: dict[str, Any]
    path: Path
    already_ran: bool


def run_cycle(db_path: Path | str, inputs: CycleInputs) -> CycleOutcome:
    """Run (or, if it already ran, re-report) the cycle for `inputs.day` on the DB at `db_path`."""
    calendar = MarketCalendar()
    if not calendar.is_trading_day(inputs.day):
        raise CycleError(f"--date {inputs.day} is not an NYSE session: pick a trading day")
    with HistoryDB.open(db_path) as db, tracing.span("cycle", {"cycle.date": str(inputs.day)}):
        stored = db.improvement_cycle_report(inputs.day)
        if stored is not None:
            return CycleOutcome(stored, write_report(inputs.reports_dir, stored), True)
        return _Night(db, inputs, calendar).run()


class _Night:
    """One cycle's working state, step by step (each step one method and one span)."""

    def __init__(self, db: HistoryDB, inputs: CycleInputs, calendar: MarketCalendar) -> None:
        self.db, self.inputs, self.calendar = db, inputs, calendar
        self.day = inputs.day
        self.time = calendar.session(inputs.day).close
        self.next_day = calendar.next_session(inputs.day).date
        self.today = params_for_day(db, inputs.day, inputs.base_params)
        self.current = current_tuned(db, inputs.day)
        self.current_params = apply_tuned(inputs.base_params, self.current)
        self.changes: list[ParameterChangeRow] = []
        self.outcomes: list[SuggestionOutcome] = []
        self.trials: list[TuningTrialRow] = []

    def run(self) -> CycleOutcome:
        with tracing.span("cycle.metrics"):
            metrics, window_trades, window_metrics = self._metrics()
        with tracing.span("cycle.regime") as span:
            regime = self._regime()
            tracing.set_attrs(span, {"cycle.regime": regime.name})
        with tracing.span("cycle.llm") as span:
            answer = self._insights(metrics, regime)
            tracing.set_attrs(span, {"llm.status": answer.status})
        with tracing.span("cycle.suggest") as span:
            self._suggest(regime, window_metrics, window_trades, answer)
            tracing.set_attrs(span, {"cycle.suggestions": len(self.outcomes)})
        with tracing.span("cycle.ab_test") as span:
            ab = ab_decisions.look(self.db, self.day, self.inputs.equity, self.time)
            tracing.set_attrs(span, {"cycle.ab_decision": ab.decision})
        with tracing.span("cycle.validate") as span:
            self._validate(skip_because=ab.blocks_tuning)
            tracing.set_attrs(span, {"cycle.trials": len(self.trials)})
        with tracing.span("cycle.apply") as span:
            new_current, ab = self._apply(ab)
            tracing.set_attrs(span, {"cycle.applied": sum(o.applied for o in self.outcomes)})
        with tracing.span("cycle.report"):
            return self._commit(metrics, regime, answer, ab, new_current)

    # -- steps --------------------------------------------------------------------------------
    def _metrics(self) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
        db, inputs, day = self.db, self.inputs, self.day
        day_rows = db.daily_metrics(DAY_TRADER, day, day, run_id=None)  # a quiet run counts too
        day_trades = trade_records(db, day, day)
        if not day_rows and not day_trades:
            raise CycleError(f"nothing recorded for {day} in {db.path}: run the day trader for "
                             "that session first (or pick a date it traded)")
        span = timedelta(days=2 * inputs.metrics_sessions + 10)
        sessions = [s.date for s in self.calendar.sessions_between(day - span, day)]
        sessions = sessions[-inputs.metrics_sessions:]
        # every run's row too: a session the bot traded without a single trade still ran
        rows = {r.trading_date: r for r in db.daily_metrics(DAY_TRADER, sessions[0], day, run_id=None)}
        trades = trade_records(db, sessions[0], day)
        ran = [d for d in sessions if d in rows or any(t.trading_date == d for t in trades)]
        daily = daily_pnl_series(trades, ran)
        window_equity = inputs.equity - sum(p for d, p in daily if d != day)
        day_metrics = compute_metrics(day_trades, daily_pnl_series(day_trades, [day]),
                                      inputs.equity, inputs.allocation)
        window = compute_metrics(trades, daily, window_equity, inputs.allocation)
        variants = {d: rows[d].variant for d in ran if d in rows and rows[d].variant}
        regimes = {d: s.regime for d in ran if (s := db.params_schedule(d)) and s.regime}
        variant = rows[day].variant if day in rows else self.today.variant
        record_day_metrics(db, day, day_metrics, variant=variant, window_sharpe=window.sharpe,
                           extra={"starting_equity": inputs.equity, "window_sessions": len(ran),
                                  "regime": regimes.get(day, "")})
        metrics = {
            "day": day_metrics.as_dict(),
            "window": {"sessions": len(ran), "from": ran[0].isoformat(),
                       "to": ran[-1].isoformat(), **window.as_dict()},
            "by_variant": metrics_by_label(trades, daily, variants, window_equity,
                                           inputs.allocation),
            "by_regime": metrics_by_label(trades, daily, regimes, window_equity,
                                          inputs.allocation),
        }
        return metrics, trades, window.as_dict()

    def _regime(self) -> Regime:
        if not self.inputs.regime_bars:
            return Regime("unknown", "no daily bars of the regime symbol were available",
                          self.day)
        return classify(self.inputs.regime_bars, self.day)

    def _insights(self, metrics: dict[str, Any],
                  regime: Regime) -> LLMAnswer[NightlyInsights]:
        prompt = build_prompt(self.day, {"day": metrics["day"], "window": metrics["window"]},
                              trade_records(self.db, self.day, self.day), regime.as_dict(),
                              self.today.params.as_dict(), tunable_bounds())
        return run_on_llm_loop(nightly_insights(self.inputs.llm, prompt,
                                                self.inputs.llm_skipped_because))

    def _suggest(self, regime: Regime, window_metrics: dict[str, Any], window_trades: list[Any],
                 answer: LLMAnswer[NightlyInsights]) -> None:
        params = self.current_params
        fraction = params.position_pct or self.inputs.allocation / max(len(self.inputs.symbols), 1)
        found = [*regime_suggestions(regime, params, fraction),
                 *performance_suggestions(window_metrics, window_trades, params)]
        if answer.ok and answer.parsed is not None:
            found += llm_suggestions(answer.parsed, params)
        challengers = {(t.parameter, t.b_values.get(t.parameter)): t.id
                       for t in self.db.ab_tests("running")}
        for suggestion in found:
            outcome = SuggestionOutcome(suggestion)
            screened = screen(suggestion.parameter, suggestion.new, clamp=False)
            tested = challengers.get((suggestion.parameter, screened.value))
            if not screened.ok:
                outcome.reason = f"refused: {screened.reason}"
            elif screened.value == getattr(params, suggestion.parameter, None):
                outcome.reason = "refused: already the current value"
            elif tested is not None:
                outcome.reason = (f"not validated again: already trading as challenger B in "
                                  f"A/B test {tested}")
            self.outcomes.append(outcome)

    def _validate(self, skip_because: str | None) -> None:
        pending = [o for o in self.outcomes if not o.reason]
        unique: dict[tuple[str, Any], SuggestionOutcome] = {}
        for o in pending:
            first = unique.setdefault((o.suggestion.parameter, o.suggestion.new), o)
            if first is not o:
                first.extra_sources.append(o.suggestion.source)
                o.duplicate_of = first
                o.reason = "same change as another suggestion"
        candidates = list(unique.values())
        if not candidates:
            return
        replayer = self.inputs.replayer
        problem = skip_because or (
            "not validated: no replayer configured" if replayer is None
            else window_problem(replayer, self.day, self.inputs.window))
        if problem:
            for o in candidates:
                o.reason = problem
            return
        assert replayer is not None
        earlier = [t.sharpe if t.sharpe is not None else 0.0 for t in self.db.tuning_trials()]
        tried = [self.current_params.with_overrides({o.suggestion.parameter: o.suggestion.new})
                 for o in candidates]
        validations = validate(replayer, self.current_params, tried, self.day, self.inputs.window,
                               earlier, self.inputs.equity, self.inputs.allocation)
        for o, v in zip(candidates, validations, strict=True):
            o.validation = v
            o.reason = v.reason

    def _apply(self, ab: ab_decisions.ABNight) -> tuple[dict[str, Any], ab_decisions.ABNight]:
        new_current = dict(self.current)
        if ab.promoted_values is not None:
            new_current = dict(ab.promoted_values)
        validated = [o for o in self.outcomes if o.validation is not None]
        chosen = best([o.validation for o in validated], passed=True)
        if chosen is not None:
            winner = validated[chosen]
            winner.applied = True
            winner.reason = "applied: " + winner.reason
            new_current[winner.suggestion.parameter] = winner.suggestion.new
            for o in validated:
                if o is not winner and o.validation is not None and o.validation.passed:
                    o.reason = (f"validated but not applied: {winner.suggestion.parameter} was "
                                "applied tonight (one change per night keeps effects attributable)")
            ab = ab_decisions.stop_for_change(ab, winner.suggestion.parameter, self.day,
                                              self.time)
        elif ab.running is None and ab.promoted_values is None:
            pick = best([o.validation for o in validated], passed=False)
            if pick is not None:
                challenger = validated[pick]
                challenger.ab_challenger = True
                challenger.reason += (f"; trading it as challenger B in an A/B test from "
                                      f"{self.next_day}")
                ab = ab_decisions.start(ab, self.next_day, challenger.suggestion, self.current,
                                        self.time)
        for o in self.outcomes:
            if o.duplicate_of is not None:
                o.reason = (f"same change as the {o.duplicate_of.suggestion.source} suggestion, "
                            f"decided there: {o.duplicate_of.reason}")
            s = o.suggestion
            self.changes.append(ParameterChangeRow(
                self.time, s.parameter, s.old, s.new, f"{s.reason} -> {o.reason}", o.sources,
                "applied" if o.applied else "rejected", "B" if o.ab_challenger else ""))
            if o.validation is not None:
                v = o.validation
                verdict = "applied" if o.applied else ("validated" if v.passed else "rejected")
                self.trials.append(TuningTrialRow(
                    self.day, {**self.current, s.parameter: s.new}, s.parameter, o.sources,
                    len(v.sessions), v.sharpe, v.candidate_out_of_sample["net_pnl"],
                    v.current_out_of_sample["net_pnl"], v.dsr, f"{verdict}: {v.reason}",
                    self.time, v.as_dict()))
        self.changes.extend(ab.changes)
        return new_current, ab

    def _commit(self, metrics: dict[str, Any], regime: Regime,
                answer: LLMAnswer[NightlyInsights], ab: ab_decisions.ABNight,
                new_current: dict[str, Any]) -> CycleOutcome:
        variant, tuned = ab_decisions.for_session(ab, self.next_day, new_current)
        next_params = apply_tuned(self.inputs.base_params, tuned)
        report = {
            "date": self.day.isoformat(),
            "next_session": self.next_day.isoformat(),
            "metrics": metrics,
            "llm": _llm_section(answer, self.outcomes),
            "suggestions": [o.as_dict() for o in self.outcomes],
            "ab_test": ab.as_dict(),
            "regime": regime.as_dict(),
            "params_today": {"params": self.today.params.as_dict(), "variant": self.today.variant,
                             "source": self.today.source},
            "tuned": new_current,
            "next_variant": variant,
            "next_params": next_params.as_dict(),
        }
        evaluation = EvaluationRow(self.time, "llm", {**report["llm"], "date": report["date"],
                                                      "raw": answer.raw if not answer.ok else ""},
                                   answer.status)
        schedule = ParamsScheduleRow(self.next_day, tuned, new_current, self.day, self.time,
                                     variant, regime.name, ab.running.id if ab.running else None)
        self.db.commit_improvement_cycle(ImprovementCycleCommit(
            self.day, self.time, report, self.trials, self.changes, evaluation, schedule,
            ab.started, ab.update))
        stored = self.db.improvement_cycle_report(self.day)
        assert stored is not None
        return CycleOutcome(stored, write_report(self.inputs.reports_dir, stored), False)


def _llm_section(answer: LLMAnswer[NightlyInsights],
                 outcomes: Sequence[SuggestionOutcome]) -> dict[str, Any]:
    """The report's `llm` section; each recommendation with what became of it (the LLM's
    suggestions are the outcomes with source `llm`, in the answer's order)."""
    parsed = answer.parsed if answer.ok else None
    recommendations = list(parsed.recommendations) if parsed else []
    verdicts = [o.reason for o in outcomes if o.suggestion.source == "llm"]
    return {
        "status": answer.status,
        "model": answer.model,
        "summary": parsed.summary if parsed else "",
        "insights": list(parsed.insights) if parsed else [],
        "recommendations": [{**r.model_dump(), "outcome": outcome}
                            for r, outcome in zip(recommendations, verdicts, strict=True)],
    }


def main(argv: Sequence[str] | None = None) -> int:
    from improvement.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
