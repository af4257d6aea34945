"""evaluation.insights: what the prompt carries (and never carries), and the answer's schema."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from evaluation.insights import NightlyInsights, build_prompt, trade_summary
from evaluation.performance import TradeRecord

NY = ZoneInfo("America/New_York")
DAY = date(2026, 2, 18)


def trade(symbol: str, net: float, reason: str) -> TradeRecord:
    opened = datetime(2026, 2, 18, 10, 0, tzinfo=NY)
    return TradeRecord(symbol, DAY, opened, opened + timedelta(minutes=12), 10, 100.0,
                       100.0 + (net + 1) / 10, net + 1, 1.0, "", reason)


TRADES = [trade("NVDA", 40.0, "target"), trade("NVDA", -20.0, "stop"), trade("SPY", 5.0, "flatten")]


def test_the_prompt_holds_metrics_trades_regime_and_params_only() -> None:
    text = build_prompt(DAY, {"day": {"net_pnl": 25.0}, "account": "DU1234567"}, TRADES,
                        {"name": "ranging", "reason": "ADX 12 < 20", "features": {"adx": 12}},
                        {"profit_target": 0.014}, {"profit_target": (0.008, 0.03)})
    body = json.loads(text)
    assert set(body) == {"date", "metrics", "trade_summary", "regime", "current_params",
                         "tunable_bounds"}
    assert body["regime"] == {"name": "ranging", "reason": "ADX 12 < 20"}
    assert body["tunable_bounds"] == {"profit_target": {"min": 0.008, "max": 0.03}}
    assert "DU1234567" not in text and "****4567" in text  # an account id is masked even if passed
    summary = body["trade_summary"]
    assert summary["per_symbol"]["NVDA"] == {"trades": 2, "net_pnl": 20.0, "wins": 1}
    assert summary["per_exit_reason"] == {"target": 1, "stop": 1, "flatten": 1}
    assert summary["best"]["symbol"] == "NVDA" and summary["worst"]["net_pnl"] == -20.0


def test_an_empty_day_has_an_empty_summary() -> None:
    assert trade_summary([]) == {"per_symbol": {}, "per_exit_reason": {}, "best": None,
                                 "worst": None}


@pytest.mark.parametrize("answer", [
    {"summary": "s", "insights": [], "recommendations": [], "extra": 1},
    {"summary": "s", "insights": [], "recommendations": [
        {"parameter": "stop_loss", "value": 0.01, "priority": "urgent", "reason": "r"}]},
    {"summary": "s", "insights": "one", "recommendations": []},
    {"summary": "s", "insights": [], "recommendations": [
        {"parameter": "stop_loss", "value": float("nan"), "priority": "high", "reason": "r"}]},
    {"summary": "s", "insights": [], "recommendations": [
        {"parameter": "position_pct", "value": float("inf"), "priority": "high", "reason": "r"}]},
])
def test_the_schema_is_strict(answer: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NightlyInsights.model_validate(answer, strict=True)
