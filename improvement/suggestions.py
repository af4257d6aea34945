"""Where nightly parameter suggestions come from: the regime, recent performance, a neighbour
search, the LLM.

Each source proposes single-parameter changes with a reason; none of them changes anything.
Rule values (x 1.25, x 0.8, ...) are clamped into the safety bounds (improvement.bounds); an LLM
value goes to the screen as given. Then the gate (improvement/gate.py) replays every surviving
suggestion. Every source reads the in-sample part of tonight's window only (the performance
rules get the current params' replayed in-sample trades, the LLM their metrics), so the test
part stays out of sample.

Regime rules (tomorrow's regime, classified at tonight's close):
- high_volatility: stop_loss x 1.25 (wider swings stop out a tight stop before the move);
- low_volatility: profit_target x 0.8 (a calm market rarely travels the full target in a day);
- trending_up: profit_target x 1.2 (let winners run with the tape);
- trending_down: position size x 0.75 (a long-only momentum bot fights the tape);
- ranging: profit_target x 0.9 (moves reverse before reaching far targets).
Performance rules (the book's trades over the recent window, at least 10 trades):
- stops dominate: >= 60% of exits are stops and win rate < 40% -> stop_loss x 1.25;
- targets out of reach: <= 10% of exits hit the target and >= 30% are flattened at the close
  -> profit_target x 0.8;
- winners cut short: win rate >= 55% but average win < 0.8 x average loss -> profit_target x 1.2;
- losing streaks: a streak of >= 6 losses -> cooldown_minutes + 15 (when the strategy has one).
Neighbour search (source `search`): one step each way from every tunable value (target x 1.2 /
x 0.8, stop x 1.25 / x 0.8, position size x 1.25 / x 0.75, cooldown +/- 15 minutes), clamped
into the bounds. The rules say where to look when a pattern is obvious; the search makes sure a
real improvement one step away is not missed because no rule fired. The in-sample screen keeps
the gate's multiple-testing cost small: only the best two go on to the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.insights import NightlyInsights
from evaluation.performance import TradeRecord
from improvement.bounds import screen
from improvement.regime import Regime
from trade.models import Params

MIN_TRADES = 10


@dataclass(frozen=True, slots=True)
class Suggestion:
    parameter: str
    old: Any
    new: Any
    source: str  # rule | regime | llm | manual
    reason: str
    priority: str = "medium"


def _scaled(params: Params, parameter: str, factor: float, source: str, reason: str,
            base: float | None = None) -> Suggestion | None:
    old = getattr(params, parameter, None)
    start = base if base is not None else old
    if start is None:
        return None
    screened = screen(parameter, start * factor, clamp=True)
    if not screened.ok or screened.value == old:
        return None  # already at the bound: nothing to suggest
    return Suggestion(parameter, old, screened.value, source, reason)


def regime_suggestions(regime: Regime, params: Params,
                       position_fraction: float) -> list[Suggestion]:
    """At most one suggestion for tomorrow's regime. `position_fraction` is today's effective
    fraction of net liquidation per position (allocation / symbols when `position_pct` is
    None), the base of a size change."""
    why = f"regime {regime.name}: {regime.reason}"
    rules = {
        "high_volatility": ("stop_loss", 1.25, None),
        "low_volatility": ("profit_target", 0.8, None),
        "trending_up": ("profit_target", 1.2, None),
        "trending_down": ("position_pct", 0.75, params.position_pct or position_fraction),
        "ranging": ("profit_target", 0.9, None),
    }
    if regime.name not in rules:
        return []
    parameter, factor, base = rules[regime.name]
    found = _scaled(params, parameter, factor, "regime", why, base)
    return [found] if found else []


SEARCH_STEPS: tuple[tuple[str, str, float], ...] = (
    ("profit_target", "x", 1.2), ("profit_target", "x", 0.8),
    ("stop_loss", "x", 1.25), ("stop_loss", "x", 0.8),
    ("position_pct", "x", 1.25), ("position_pct", "x", 0.75),
    ("cooldown_minutes", "+", 15), ("cooldown_minutes", "+", -15),
)


def search_suggestions(params: Params, position_fraction: float) -> list[Suggestion]:
    """One step each way from every tunable value (see the module docstring); two steps that
    clamp to the same bound are one suggestion."""
    out: list[Suggestion] = []
    for parameter, how, step in SEARCH_STEPS:
        if not hasattr(params, parameter):
            continue
        if how == "+":
            old = getattr(params, parameter)
            screened = screen(parameter, old + step, clamp=True)
            if screened.ok and screened.value != old:
                out.append(Suggestion(parameter, old, screened.value, "search",
                                      f"neighbour search: {parameter} {step:+g}"))
            continue
        base = (params.position_pct or position_fraction) if parameter == "position_pct" else None
        found = _scaled(params, parameter, step, "search", f"neighbour search: {parameter} "
                        f"x {step:g}", base)
        if found is not None and (parameter, found.new) not in {(o.parameter, o.new) for o in out}:
            out.append(found)
    return out


def performance_suggestions(metrics: dict[str, Any], trades: Sequence[TradeRecord],
                            params: Params) -> list[Suggestion]:
    """Rules on the recent window's trades (see the module docstring)."""
    count = len(trades)
    if count < MIN_TRADES:
        return []
    exits = {reason: sum(t.exit_reason == reason for t in trades) / count
             for reason in ("stop", "target", "flatten")}
    win_rate = metrics.get("win_rate") or 0.0
    out: list[Suggestion | None] = []
    if exits["stop"] >= 0.6 and win_rate < 0.4:
        out.append(_scaled(params, "stop_loss", 1.25, "rule",
                           f"{exits['stop']:.0%} of {count} recent trades stopped out, win "
                           f"rate {win_rate:.0%}: the stop is inside normal noise"))
    if exits["target"] <= 0.1 and exits["flatten"] >= 0.3:
        out.append(_scaled(params, "profit_target", 0.8, "rule",
                           f"only {exits['target']:.0%} of {count} recent trades reached the "
                           f"target, {exits['flatten']:.0%} were flattened at the close"))
    avg_win, avg_loss = metrics.get("avg_win"), metrics.get("avg_loss")
    if win_rate >= 0.55 and avg_win and avg_loss and avg_win < 0.8 * -avg_loss:
        out.append(_scaled(params, "profit_target", 1.2, "rule",
                           f"win rate {win_rate:.0%} but average win {avg_win:.2f} < 0.8 x "
                           f"average loss {-avg_loss:.2f}: winners are cut short"))
    streak = metrics.get("longest_losing_streak") or 0
    cooldown = getattr(params, "cooldown_minutes", None)
    if streak >= 6 and cooldown is not None:
        screened = screen("cooldown_minutes", cooldown + 15, clamp=True)
        if screened.ok and screened.value != cooldown:
            out.append(Suggestion("cooldown_minutes", cooldown, screened.value, "rule",
                                  f"a streak of {streak} losing trades: re-entries came too soon"))
    unique: dict[str, Suggestion] = {}
    for s in out:
        if s is not None:
            unique.setdefault(s.parameter, s)
    return list(unique.values())


def llm_suggestions(answer: NightlyInsights, params: Params) -> list[Suggestion]:
    """The LLM's recommendations as suggestions, values as given (screened later)."""
    return [Suggestion(r.parameter, getattr(params, r.parameter, None), r.value, "llm",
                       f"LLM ({r.priority}): {r.reason}", r.priority)
            for r in answer.recommendations]
