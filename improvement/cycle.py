"""The nightly improvement cycle, run after a session's close:

    metrics -> regime (at tonight's close, for tomorrow) -> replay window (in sample | test)
      -> LLM insights (in sample) -> suggestions (in sample) -> A/B test look
      -> gate (improvement/gate.py) -> at most one new challenger B -> tomorrow's params
      -> report (reports/improvement/improvement_report_<date>.json)

Nothing trades unless it passed the gate: a candidate that passes becomes challenger B in an A/B
test, and only the A/B test's forward confirmation (improvement/ab_testing.py) makes it the
current params (A). Every step has a span (`cycle.<step>` under `cycle`). Every suggestion is a
`parameter_changes` row with its source and the reason for what became of it; the LLM's answer
(or why there was none) is an `evaluations` row; every candidate replayed is a `tuning_trials`
row. A night's decisions are committed in one transaction together with the report, and a night
already on file is not run again: the second run only rewrites the stored report.

Callable once per session (the multi-day simulation loops it); synchronous, because the
replays drive their own event loops: async callers use `asyncio.to_thread(run_cycle, ...)`.
`python -m improvement.cycle --date YYYY-MM-DD [--db PATH]` runs it by hand (improvement/cli.py, which
imports this library; this library never imports the command).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from evaluation.expectancy import expectancy, losing_line
from evaluation.insights import NightlyInsights, Recommendation, build_prompt, nightly_insights
from evaluation.llm import LLMAnswer, LLMEndpoint
from evaluation.performance import TradeRecord, compute_metrics
from improvement import ab_decisions, night_decisions
from improvement.bounds import tunable_bounds
from improvement.gate import GateSettings, ReplayWindow, replay_window
from improvement.llm_loop import run_on_llm_loop
from improvement.night_metrics import NothingRecorded, night_metrics
from improvement.params_store import apply_tuned, current_tuned, params_for_day
from improvement.regime import Regime, classify
from improvement.replay import Replayer
from improvement.report import SuggestionOutcome, report_text, write_report
from improvement.suggestions import (
    llm_suggestions,
    performance_suggestions,
    regime_suggestions,
    search_suggestions,
)
from observability import tracing
from observability.history import HistoryDB
from observability.schema import EvaluationRow, ImprovementCycleCommit, ParamsScheduleRow
from trade.calendar import MarketCalendar
from trade.models import Bar, Params


class CycleError(ValueError):
    """The cycle cannot run for this input; one line naming the problem and the fix."""


@dataclass(frozen=True, slots=True)
class CycleInputs:
    day: date  # the session reviewed
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
    gate: GateSettings = field(default_factory=GateSettings)
    data_source: str = ""  # where the replay data comes from (said in the report)


@dataclass(frozen=True, slots=True)
class ImprovementOutcome:
    report: dict[str, Any]
    path: Path
    already_ran: bool


_CALENDAR = MarketCalendar()  # one per process: each instance builds its own session tables


def run_cycle(db_path: Path | str, inputs: CycleInputs) -> ImprovementOutcome:
    """Run (or, if it already ran, re-report) the cycle for `inputs.day` on the DB at `db_path`."""
    calendar = _CALENDAR
    if not calendar.is_trading_day(inputs.day):
        raise CycleError(f"--date {inputs.day} is not an NYSE session: pick a trading day")
    with HistoryDB.open(db_path) as db, tracing.span("cycle", {"cycle.date": str(inputs.day)}):
        stored = db.improvement_cycle_report(inputs.day)
        if stored is not None:
            return ImprovementOutcome(stored, write_report(inputs.reports_dir, stored), True)
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
        self.outcomes: list[SuggestionOutcome] = []
        self.in_sample_trades: list[TradeRecord] = []
        self.in_sample_metrics: dict[str, Any] = {}
        self.window_trades: list[TradeRecord] = []  # what the DB recorded over the window

    def run(self) -> ImprovementOutcome:
        with tracing.span("cycle.metrics"):
            try:
                metrics, window_trades = night_metrics(
                    self.db, self.day, self.inputs.equity, self.inputs.allocation,
                    self.today.variant, self.calendar)
            except NothingRecorded as exc:
                raise CycleError(str(exc)) from None
            self.window_trades = window_trades
        with tracing.span("cycle.regime") as span:
            regime = self._regime()
            tracing.set_attrs(span, {"cycle.regime": regime.name})
        with tracing.span("cycle.window") as span:
            window = self._window()
            tracing.set_attrs(span, {"cycle.window": window.coverage})
        with tracing.span("cycle.llm") as span:
            answer = self._insights(window, metrics, window_trades, regime)
            tracing.set_attrs(span, {"llm.status": answer.status})
        with tracing.span("cycle.suggest") as span:
            self._suggest(regime, window, answer)
            tracing.set_attrs(span, {"cycle.suggestions": len(self.outcomes)})
        with tracing.span("cycle.ab_test") as span:
            ab = ab_decisions.look(self.db, self.day, self.time, self.inputs.replayer,
                                   self.inputs.base_params)
            tracing.set_attrs(span, {"cycle.ab_decision": ab.decision})
        with tracing.span("cycle.validate") as span:
            self._validate(window, ab.blocks_tuning)
            tracing.set_attrs(span, {"cycle.tested": sum(
                o.verdict is not None and o.verdict.test is not None for o in self.outcomes)})
        with tracing.span("cycle.apply") as span:
            new_current, ab = self._apply(ab)
            tracing.set_attrs(span, {"cycle.ab_decision": ab.decision})
        with tracing.span("cycle.report"):
            return self._commit(metrics, regime, window, answer, ab, new_current)

    def _expectancy(self, window: ReplayWindow) -> tuple[str, dict[str, Any]]:
        """What tonight's current parameters earn per trade, with its interval: from their replay
        on the window's in-sample sessions, else from the trades the DB recorded over the window.
        The headline says it plainly when it is negative (docs/strategy.md)."""
        if self.in_sample_trades or self.in_sample_metrics:
            trades, where = self.in_sample_trades, (
                f"the current parameters, replayed on the {len(window.in_sample)} sessions "
                f"{window.in_sample[0]} to {window.in_sample[-1]},")
        else:
            trades, where = self.window_trades, "the current parameters, as traded over the window,"
        earned = expectancy(trades)
        line = losing_line(earned, where)
        headline = line or (f"{where} expectancy {earned.text()}" if earned is not None
                            else f"{where} made no trade: no expectancy")
        return headline, {"per_trade": earned.as_dict() if earned else None,
                          "measured_on": where.rstrip(","), "losing": line is not None,
                          "line": line}

    # -- steps --------------------------------------------------------------------------------
    def _regime(self) -> Regime:
        if not self.inputs.regime_bars:
            return Regime("unknown", "no daily bars of the regime symbol were available",
                          self.day)
        return classify(self.inputs.regime_bars, self.day)

    def _window(self) -> ReplayWindow:
        """Tonight's contiguous window, and the current params' in-sample replay (what the
        rules and the LLM read: never the test part)."""
        window = replay_window(self.inputs.replayer, self.day, self.inputs.gate, self.calendar)
        if window.problem is None and self.inputs.replayer is not None:
            result = self.inputs.replayer.replay(self.current_params, window.in_sample)
            self.in_sample_trades = result.trades
            m = compute_metrics(result.trades, result.daily_pnl, self.inputs.equity,
                                self.inputs.allocation)
            self.in_sample_metrics = {"sessions": len(window.in_sample),
                                      "from": window.in_sample[0].isoformat(),
                                      "to": window.in_sample[-1].isoformat(), **m.as_dict()}
        return window

    def _insights(self, window: ReplayWindow, metrics: dict[str, Any],
                  window_trades: list[TradeRecord], regime: Regime) -> LLMAnswer[NightlyInsights]:
        if window.problem is None:  # the in-sample part only: its advice is then tested
            shown = {"in_sample_replay": self.in_sample_metrics}
            trades = self.in_sample_trades
        else:  # nothing can be tested tonight: the LLM reviews the recorded window
            shown, trades = {"recorded_window": metrics["window"]}, window_trades
        prompt = build_prompt(self.day, shown, trades, regime.as_dict(),
                              self.current_params.as_dict(), tunable_bounds())
        return run_on_llm_loop(nightly_insights(self.inputs.llm, prompt,
                                                self.inputs.llm_skipped_because))

    def _suggest(self, regime: Regime, window: ReplayWindow,
                 answer: LLMAnswer[NightlyInsights]) -> None:
        params = self.current_params
        fraction = params.position_pct or self.inputs.allocation / max(len(self.inputs.symbols), 1)
        found = [*regime_suggestions(regime, params, fraction)]
        if window.problem is None:
            found += performance_suggestions(self.in_sample_metrics, self.in_sample_trades,
                                             params)
            found += search_suggestions(params, fraction)
        if answer.ok and answer.parsed is not None:
            found += llm_suggestions(answer.parsed, params)
        since = window.wanted[0]
        self.outcomes = night_decisions.screened_outcomes(found, params, self.db.ab_tests(),
                                                          since)

    def _validate(self, window: ReplayWindow, blocked: str | None) -> None:
        open_ = [o for o in self.outcomes if not o.reason]
        problem = blocked or window.problem
        if problem or self.inputs.replayer is None:
            for o in open_:
                o.reason = problem or "not validated: no replay data configured"
            return
        earlier = night_decisions.earlier_tested(self.db.tuning_trials(), window.wanted[0],
                                                 self.day)
        night_decisions.validate(self.outcomes, self.inputs.replayer, window,
                                 self.inputs.base_params, self.current, self.inputs.gate,
                                 earlier, self.day)

    def _apply(self, ab: ab_decisions.ABNight) -> tuple[dict[str, Any], ab_decisions.ABNight]:
        new_current = dict(self.current)
        if ab.promoted_values is not None:
            new_current = dict(ab.promoted_values)
        elif ab.running is None:
            chosen = night_decisions.choose(self.outcomes, self.next_day)
            if chosen is not None:
                ab = ab_decisions.start(ab, self.next_day, chosen.suggestion, self.current,
                                        self.time)
        return new_current, ab

    def _commit(self, metrics: dict[str, Any], regime: Regime, window: ReplayWindow,
                answer: LLMAnswer[NightlyInsights], ab: ab_decisions.ABNight,
                new_current: dict[str, Any]) -> ImprovementOutcome:
        changes, trials = night_decisions.rows_for(self.outcomes, self.day, self.time,
                                                   self.current)
        changes.extend(ab.changes)
        variant, tuned = ab_decisions.for_session(ab, self.next_day, new_current)
        next_params = apply_tuned(self.inputs.base_params, tuned)
        headline, earned = self._expectancy(window)
        report: dict[str, Any] = {
            "headline": headline,  # first: a losing strategy is said before anything else
            "date": self.day.isoformat(),
            "next_session": self.next_day.isoformat(),
            "notes": _notes(regime, window),
            "decisions": [o.line() for o in self.outcomes] + _ab_lines(ab),
            "metrics": metrics,
            "llm": _llm_section(answer, self.outcomes),
            "window": {**window.as_dict(), "data": self.inputs.data_source,
                       "gate": {"alpha": self.inputs.gate.alpha,
                                "max_tested": self.inputs.gate.max_tested}},
            "suggestions": [o.as_dict() for o in self.outcomes],
            "ab_test": ab.as_dict(),
            "regime": regime.as_dict(),
            "params_today": {"params": self.today.params.as_dict(), "variant": self.today.variant,
                             "source": self.today.source},
            "tuned": new_current,
            "next_variant": variant,
            "next_params": next_params.as_dict(),
            "expectancy": earned,
        }
        report_text(report)  # a number JSON cannot hold fails here, before anything is stored
        llm: dict[str, Any] = report["llm"]
        evaluation = EvaluationRow(self.time, "llm", {**llm, "date": report["date"],
                                                      "raw": answer.raw if not answer.ok else ""},
                                   answer.status)
        schedule = ParamsScheduleRow(self.next_day, tuned, new_current, self.day, self.time,
                                     variant, regime.name, ab.running.id if ab.running else None)
        self.db.commit_improvement_cycle(ImprovementCycleCommit(
            self.day, self.time, report, trials, changes, evaluation, schedule,
            ab.started, ab.update))
        stored = self.db.improvement_cycle_report(self.day)
        assert stored is not None
        return ImprovementOutcome(stored, write_report(self.inputs.reports_dir, stored), False)


def _notes(regime: Regime, window: ReplayWindow) -> list[str]:
    """What a reader must not miss: an unknown regime, a window that decided nothing."""
    notes = []
    if regime.name == "unknown":
        notes.append(f"regime unknown ({regime.symbol}): {regime.reason}; no regime rule "
                     "applied tonight")
    notes.append(f"replay window {window.wanted[0]}..{window.wanted[-1]}: data for "
                 f"{window.coverage}" + (f"; {window.problem}" if window.problem else ""))
    return notes


def _ab_lines(ab: ab_decisions.ABNight) -> list[str]:
    if ab.decision == "none":
        return []
    said = ab.reason if ab.reason.startswith(ab.decision) else f"{ab.decision}: {ab.reason}"
    return [f"A/B test: {said}"]


def _llm_section(answer: LLMAnswer[NightlyInsights],
                 outcomes: Sequence[SuggestionOutcome]) -> dict[str, Any]:
    """The report's `llm` section; each recommendation with what became of it (the LLM's
    suggestions are the outcomes with source `llm`, in the answer's order)."""
    parsed = answer.parsed if answer.ok else None
    recommendations: list[Recommendation] = list(parsed.recommendations) if parsed else []
    verdicts = [o.reason for o in outcomes if o.suggestion.source == "llm"]
    return {
        "status": answer.status,
        "model": answer.model,
        "summary": parsed.summary if parsed else "",
        "insights": list(parsed.insights) if parsed else [],
        "recommendations": [{**r.model_dump(), "outcome": outcome}
                            for r, outcome in zip(recommendations, verdicts, strict=True)],
    }


if __name__ == "__main__":  # `python -m improvement.cycle` (the command's documented name) runs
    import runpy  # the command (improvement/cli.py), which this library never imports

    runpy.run_module("improvement", run_name="__main__", alter_sys=True)
