"""The safety bounds of nightly tuning, and the screen every suggested change passes first.

Only these parameters may be changed by the nightly cycle, and only inside these bounds
(the founders' safety bounds: target 0.8-3.0%, stop 0.5-2.0%, position size 3-10% of net liquidation; a re-entry
cooldown of 0-120 minutes when the strategy has one). Anything else is refused with a reason:
a parameter the strategy does not have, one that is not tunable, a value of the wrong type.

Rules compute their values (x 1.25 and so on) and are clamped into the bounds; an explicit value
from the LLM (or a manual request) outside the bounds is refused rather than clamped: quietly
applying a different number would misreport what was recommended.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from trade.models import Params

SAFETY_BOUNDS: dict[str, tuple[float, float]] = {
    "profit_target": (0.008, 0.030),
    "stop_loss": (0.005, 0.020),
    "position_pct": (0.03, 0.10),
    "cooldown_minutes": (0, 120),
}
WHOLE_NUMBERS = frozenset({"cooldown_minutes"})


def param_names() -> set[str]:
    return {f.name for f in dataclasses.fields(Params)}


def tunable_bounds() -> dict[str, tuple[float, float]]:
    """The bounds of the tunable parameters this version of `Params` actually has."""
    known = param_names()
    return {k: v for k, v in SAFETY_BOUNDS.items() if k in known}


@dataclass(frozen=True, slots=True)
class Screened:
    ok: bool
    value: Any
    reason: str


def screen(parameter: str, value: Any, *, clamp: bool) -> Screened:
    """Check one suggested value; `clamp` pulls an out-of-bounds number inside (rules only)."""
    bounds = tunable_bounds()
    if parameter not in param_names():
        return Screened(False, value, f"unknown parameter {parameter!r}: the strategy has no "
                        f"such parameter (tunable: {', '.join(sorted(bounds))})")
    if parameter not in bounds:
        return Screened(False, value, f"{parameter} is not tunable by the nightly cycle "
                        f"(tunable: {', '.join(sorted(bounds))})")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return Screened(False, value, f"{parameter}={value!r} has the wrong type: use a number")
    if parameter in WHOLE_NUMBERS:
        if float(value) != int(value):
            return Screened(False, value, f"{parameter}={value!r} has the wrong type: use a "
                            "whole number of minutes")
        value = int(value)
    low, high = bounds[parameter]
    if not low <= value <= high:
        if not clamp:
            return Screened(False, value, f"{parameter}={value:g} is outside the safety bounds "
                            f"{low:g}-{high:g}")
        value = min(max(value, low), high)
    if parameter not in WHOLE_NUMBERS:
        value = round(float(value), 6)
    return Screened(True, value, "within the safety bounds")
