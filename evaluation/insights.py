"""Nightly LLM insights on the day trader's recent sessions: what the prompt carries and the
answer's schema.

The prompt holds the metrics of the sessions it reviews, a summary of their trades (per symbol
and exit reason, best and worst), the market regime and the current parameters with their
safety bounds. The nightly cycle passes the in-sample part of its replay window only (the
current parameters' replayed trades there), so a recommendation is then tested on sessions the
LLM never saw (improvement/gate.py). It never holds
the account id, order refs or any key: it is built only from those plain values, and the
finished text still goes through `scrub_text` as a guard.

The answer must fit `NightlyInsights` exactly (no extra keys, no strings for numbers); anything
else is an `LLMAnswer` with an error status and no parsed value (see `evaluation.llm`). A
recommendation that fits the schema is still only a suggestion: improvement/tuning.py checks the
parameter name, type and bounds, then replays it before anything changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evaluation.llm import LLMAnswer, LLMEndpoint, ask_structured
from evaluation.performance import TradeRecord
from observability.redaction import scrub_text

MAX_RECOMMENDATIONS = 3


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameter: str
    value: float = Field(allow_inf_nan=False)  # NaN/Infinity never reach a parameter
    priority: Literal["high", "medium", "low"]
    reason: str


class NightlyInsights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str
    insights: list[str]
    recommendations: list[Recommendation]


SYSTEM = (
    "You review recent trading sessions of an automated long-only intraday strategy on US "
    "stocks. It "
    "buys a symbol when its 1-minute close is above VWAP(20), RSI(14) is below rsi_max and ATR "
    "is above atr_min_pct of the price; each entry has a take-profit at +profit_target and a "
    "stop at -stop_loss held at the broker; everything is sold 5 minutes before the close. "
    "Read the metrics, the trade summary, the market regime and the current parameters. Give a "
    "one-paragraph summary, a few concrete insights, and at most "
    f"{MAX_RECOMMENDATIONS} parameter recommendations. Recommend only parameters listed under "
    "tunable_bounds, with a numeric value inside its bounds, and only when the data supports "
    "it; an empty recommendations list is a good answer on an unremarkable day."
)


def trade_summary(trades: Sequence[TradeRecord]) -> dict[str, Any]:
    """The trades in aggregate: per symbol and per exit reason, plus the best and worst."""
    per_symbol: dict[str, dict[str, float]] = {}
    per_exit: dict[str, int] = {}
    for t in trades:
        row = per_symbol.setdefault(t.symbol, {"trades": 0, "net_pnl": 0.0, "wins": 0})
        row["trades"] += 1
        row["net_pnl"] = round(row["net_pnl"] + t.net_pnl, 2)
        row["wins"] += t.net_pnl > 0
        per_exit[t.exit_reason or "unknown"] = per_exit.get(t.exit_reason or "unknown", 0) + 1

    def brief(t: TradeRecord) -> dict[str, Any]:
        return {"symbol": t.symbol, "net_pnl": round(t.net_pnl, 2), "exit_reason": t.exit_reason,
                "minutes": round(t.minutes, 1), "return_pct": round(t.return_pct, 5)}

    ranked = sorted(trades, key=lambda t: t.net_pnl)
    return {
        "per_symbol": per_symbol,
        "per_exit_reason": per_exit,
        "best": brief(ranked[-1]) if ranked else None,
        "worst": brief(ranked[0]) if ranked else None,
    }


def build_prompt(day: date, metrics: Mapping[str, Any], trades: Sequence[TradeRecord],
                 regime: Mapping[str, Any], params: Mapping[str, Any],
                 bounds: Mapping[str, tuple[float, float]]) -> str:
    """The user message: one JSON document of plain values (no account, no refs, no keys).
    `day` is the night of the review; `metrics` and `trades` are those of the sessions the
    prompt is about (the cycle: its in-sample sessions, named in `metrics`)."""
    body = {
        "date": day.isoformat(),
        "metrics": dict(metrics),
        "trade_summary": trade_summary(trades),
        "regime": {"name": regime.get("name"), "reason": regime.get("reason")},
        "current_params": dict(params),
        "tunable_bounds": {k: {"min": lo, "max": hi} for k, (lo, hi) in bounds.items()},
    }
    return scrub_text(json.dumps(body, sort_keys=True, default=str))


async def nightly_insights(endpoint: LLMEndpoint | None, prompt: str,
                           skipped_because: str = "no DEEPSEEK_API_KEY",
                           ) -> LLMAnswer[NightlyInsights]:
    """Ask for tonight's insights; never raises (see `evaluation.llm.ask_structured`)."""
    return await ask_structured(endpoint, NightlyInsights, SYSTEM, prompt,
                                skipped_because=skipped_because)
