"""improvement.bounds: only the tunable parameters, inside the safety bounds, of the right type."""

from __future__ import annotations

import pytest

from improvement.bounds import screen, tunable_bounds


def test_the_tunable_parameters_and_their_bounds() -> None:
    bounds = tunable_bounds()
    assert bounds["profit_target"] == (0.008, 0.030)
    assert bounds["stop_loss"] == (0.005, 0.020)
    assert bounds["position_pct"] == (0.03, 0.10)
    assert bounds["cooldown_minutes"] == (0, 120)
    assert set(bounds) == {"profit_target", "stop_loss", "position_pct", "cooldown_minutes"}


@pytest.mark.parametrize(("parameter", "value", "reason"), [
    ("leverage", 2.0, "unknown parameter 'leverage'"),
    ("rsi_max", 55.0, "rsi_max is not tunable"),
    ("profit_target", "0.02", "has the wrong type"),
    ("profit_target", True, "has the wrong type"),
    ("stop_loss", float("nan"), "has the wrong type"),
    ("profit_target", 0.031, "outside the safety bounds 0.008-0.03"),
    ("position_pct", 0.02, "outside the safety bounds 0.03-0.1"),
    ("cooldown_minutes", 12.5, "use a whole number of minutes"),
    ("cooldown_minutes", 121, "outside the safety bounds 0-120"),
    ("atr_timeframe", "1 min", "atr_timeframe is not tunable"),
])
def test_refusals_carry_the_reason(parameter: str, value: object, reason: str) -> None:
    result = screen(parameter, value, clamp=False)
    assert not result.ok and reason in result.reason


def test_rules_are_clamped_into_the_bounds_and_values_inside_pass() -> None:
    assert screen("stop_loss", 0.03, clamp=True).value == 0.02
    assert screen("profit_target", 0.004, clamp=True).value == 0.008
    ok = screen("position_pct", 0.05, clamp=False)
    assert ok.ok and ok.value == 0.05
    assert screen("profit_target", 1, clamp=True).value == 0.03
    minutes = screen("cooldown_minutes", 30.0, clamp=False)
    assert minutes.ok and minutes.value == 30 and isinstance(minutes.value, int)
