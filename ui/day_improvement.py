"""The daily report's improvement section: what the nightly cycle concluded about the day.

Reads `reports/improvement/improvement_report_<date>.json` as the cycle writes it (`notes`,
`decisions` (one line per candidate: what was decided and why), `regime` {name, reason,
features}, `window`, `suggestions` [{parameter, old, new, source, priority, why, challenger,
passed, reason, decision, validation}], `ab_test`, `llm` {status, model, summary, insights,
recommendations}, `metrics`, `next_session`, `next_variant`, `next_params`, `params_today`),
plus the parameter changes and evaluations the DB holds for the day. Keys it does not know are
left out, keys that are missing leave their part out: the cycle's format can grow without
breaking the page, and reports written by earlier versions (`applied`, an out-of-sample
validation with a DSR) still render. An `unknown` regime is shown as a warning: no regime rule
could apply that night.
"""

from __future__ import annotations

from typing import Any

from ui import html
from ui.day_inputs import NY, DayInputs
from ui.html import Cell, esc

_DAY_METRICS = ("net_pnl", "trades", "win_rate", "profit_factor", "expectancy", "max_drawdown",
                "longest_losing_streak", "avg_trade_minutes")


def improvement_section(inputs: DayInputs) -> str:
    parts = []
    report = inputs.improvement
    if report is not None:
        parts.append(_regime(report.get("regime")))
        parts.append(_decisions(report))
        parts.append(_suggestions(report.get("suggestions") or []))
        parts.append(_ab_test(report.get("ab_test")))
        parts.append(_next_session(report))
        parts.append(_llm(report.get("llm")))
        parts.append(_metrics(report.get("metrics")))
    else:
        parts.append(html.missing("the improvement cycle did not run for this day"))
    if inputs.parameter_changes:
        rows = [[c.time.astimezone(NY).strftime("%H:%M:%S"), c.parameter, str(c.old_value),
                 str(c.new_value), c.source, c.status, c.reason] for c in inputs.parameter_changes]
        parts.append("<h3>Parameter changes recorded</h3>" + html.table(
            ["time", "parameter", "old", "new", "source", "status", "reason"], rows,
            "parameter-changes"))
    for evaluation in inputs.evaluations:
        parts.append(f"<h3>Evaluation ({esc(evaluation.kind)}, {esc(evaluation.status)})</h3>"
                     + html.pretty_json(evaluation.content))
    return html.section("Improvement", "".join(parts), "improvement")


def regime_text(regime: Any) -> str:
    if isinstance(regime, dict):
        name = regime.get("name") or regime.get("label") or "not stated"
        reason = regime.get("reason")
        return f"{name}: {reason}" if reason else str(name)
    return "not stated" if regime is None else str(regime)


def _regime(regime: Any) -> str:
    text = esc(regime_text(regime))
    if isinstance(regime, dict) and regime.get("name") == "unknown":
        return html.missing(f"Regime UNKNOWN: {regime_text(regime)} (no regime rule applied "
                            "that night)")
    return f"<p>Regime: <b>{text}</b></p>"


def _decisions(report: dict[str, Any]) -> str:
    """The night in a few lines: notes (the window it could use), then one line per candidate
    and the A/B test's, as the cycle wrote them."""
    notes = [n for n in report.get("notes") or [] if isinstance(n, str)]
    lines = [d for d in report.get("decisions") or [] if isinstance(d, str)]
    if not notes and not lines:
        return ""
    body = "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    if lines:
        body += '<ol class="decisions">' + "".join(f"<li>{esc(d)}</li>" for d in lines) + "</ol>"
    return "<h3>What the cycle decided</h3>" + body


def validation_text(validation: Any) -> str:
    """A replay validation in one line: the paired test (sessions, difference, interval,
    verdict), or an earlier version's out-of-sample net P&L current vs candidate and DSR."""
    if not isinstance(validation, dict):
        return "not validated" if validation is None else str(validation)
    if "stage" in validation:
        return _gate_text(validation)
    parts = []
    out = validation.get("out_of_sample")
    if isinstance(out, dict):
        current, candidate = out.get("current") or {}, out.get("candidate") or {}
        if "net_pnl" in current and "net_pnl" in candidate:
            parts.append(f"out of sample ({out.get('sessions', '?')} sessions): "
                         f"{html.money(current['net_pnl'])} now vs {html.money(candidate['net_pnl'])}")
    if isinstance(validation.get("dsr"), int | float):
        parts.append(f"DSR {validation['dsr']:.3f}")
    if "passed" in validation:
        parts.append("passed" if validation["passed"] else "did not pass")
    return "; ".join(parts) or ", ".join(f"{k}: {v}" for k, v in validation.items())


def _gate_text(v: dict[str, Any]) -> str:
    test = v.get("test")
    inside = v.get("in_sample") or {}
    if not isinstance(test, dict):
        mean = inside.get("mean")
        shown = f"{mean:+,.2f}/session" if isinstance(mean, int | float) else "?"
        return f"not tested: in sample {shown} ({v.get('stage', '?')})"
    mean, low, high = test.get("mean"), test.get("low"), test.get("high")
    if not all(isinstance(x, int | float) for x in (mean, low, high)):
        return f"tested on {test.get('sessions', '?')} sessions: no interval"
    verdict = "passed" if v.get("passed") else "did not pass"
    return (f"tested on {test.get('sessions', '?')} sessions: {mean:+,.2f}/session, "
            f"[{low:+,.2f}, {high:+,.2f}], alpha {test.get('alpha', 0):.3%} "
            f"({v.get('distinct_candidates', '?')} distinct); {verdict}")


def _outcome(s: dict[str, Any]) -> Cell:
    if s.get("challenger"):
        return Cell("challenger B", css="pos")
    if "challenger" in s:
        return Cell("passed" if s.get("passed") else "not traded")
    return Cell("applied", css="pos") if s.get("applied") else Cell("not applied")


def _suggestions(suggestions: list[Any]) -> str:
    if not suggestions:
        return '<p class="note">No parameter suggestions.</p>'
    rows: list[list[Cell | str]] = [
            [str(s.get("parameter", "")), f"{s.get('old', '')} → {s.get('new', '')}",
             str(s.get("source", "")), str(s.get("priority", "")), str(s.get("why", "")),
             _outcome(s), str(s.get("reason", "")), validation_text(s.get("validation"))]
            for s in suggestions if isinstance(s, dict)]
    return "<h3>Suggestions</h3>" + html.table(
        ["parameter", "change", "source", "priority", "why", "decision", "outcome",
         "validation"], rows, "suggestions")


def _ab_test(ab: Any) -> str:
    if not isinstance(ab, dict):
        return ""
    status, reason = str(ab.get("status") or ""), str(ab.get("reason") or "")
    text = reason if reason.startswith(status) else f"{status}: {reason}".strip(": ")
    return f"<h3>A/B test</h3><p>{esc(text or 'no A/B test')}</p>"


def _next_session(report: dict[str, Any]) -> str:
    params = report.get("next_params")
    if not isinstance(params, dict):
        return ""
    today = (report.get("params_today") or {}).get("params") or {}
    rows = [[name, _shown(today.get(name, "–")),
             Cell(f"<b>{_shown(value)}</b>" if name in today and today[name] != value else _shown(value))]
            for name, value in params.items()]
    title = (f"Parameters for the next session ({esc(report.get('next_session', '?'))}, "
             f"variant {esc(report.get('next_variant') or '–')})")
    return f"<h3>{title}</h3>" + html.table(["parameter", "today", "next"], rows, "next-params",
                                            sortable=False)


def _shown(value: Any) -> str:
    return "–" if value is None else esc(value)


def _llm(llm: Any) -> str:
    if not isinstance(llm, dict):
        return ""
    body = f"<p>Status: {esc(llm.get('status', '?'))}; model {esc(llm.get('model', '?'))}</p>"
    if llm.get("summary"):
        body += f"<p>{esc(llm['summary'])}</p>"
    insights = [i for i in llm.get("insights") or [] if i]
    if insights:
        body += "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in insights) + "</ul>"
    recommendations = [r for r in llm.get("recommendations") or [] if isinstance(r, dict)]
    if recommendations:
        columns = list(dict.fromkeys(k for r in recommendations for k in r))
        body += html.table(columns, [[str(r.get(c, "")) for c in columns] for r in recommendations],
                           "llm-recommendations")
    return "<h3>LLM insights</h3>" + body


def _metrics(metrics: Any) -> str:
    day = metrics.get("day") if isinstance(metrics, dict) else None
    if not isinstance(day, dict):
        return ""
    rows: list[list[Cell | str]] = [
        [name.replace("_", " "), html.num_cell(day[name], 0 if name == "trades" else 2)]
            for name in _DAY_METRICS if isinstance(day.get(name), int | float)]
    return "<h3>The day's metrics (evaluation)</h3>" + html.table(["metric", "value"], rows,
                                                                  "day-metrics", sortable=False)
