"""improvement.ab_testing: deterministic alternation, the minimum sample, and the stated gate:
a B that is not better is promoted in at most 5% of 200 seeded tests; a better B is promoted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from improvement.ab_assignment import variant_for
from improvement.ab_testing import (
    ALPHA,
    LOOK_EVERY,
    LOOKS,
    MIN_SESSIONS,
    ABSample,
    ABVerdict,
    evaluate,
)

EQUITY = 100_000.0
NOTIONAL = 5_000.0


@dataclass
class Simulated:
    promoted: bool
    verdicts: list[ABVerdict] = field(default_factory=list)


def run_test(seed: int, a_mean: float, b_mean: float, sd: float = 0.01,
             trades_per_day: float = 5.0) -> Simulated:
    """Nightly evaluation over alternating sessions until B is promoted or retired."""
    rng = np.random.default_rng(seed)
    returns: dict[str, list[float]] = {"A": [], "B": []}
    daily: dict[str, list[float]] = {"A": [], "B": []}
    looks_done, out = 0, Simulated(False)
    for index in range(2 * LOOK_EVERY * LOOKS + 2):
        variant = "AB"[index % 2]
        mean = a_mean if variant == "A" else b_mean
        day = rng.normal(mean, sd, int(rng.poisson(trades_per_day)) + 1)
        returns[variant].extend(day)
        daily[variant].append(float(day.sum() * NOTIONAL))
        verdict = evaluate(ABSample(returns["A"], returns["B"], daily["A"], daily["B"], EQUITY),
                           looks_done, seed=seed)
        out.verdicts.append(verdict)
        looks_done = verdict.look or looks_done
        if verdict.decision in ("promote", "retire"):
            out.promoted = verdict.decision == "promote"
            return out
    raise AssertionError("the test never ended")


def test_days_alternate_by_session_from_the_start_date() -> None:
    start = date(2026, 1, 29)  # Thursday
    days = [date(2026, 1, 29), date(2026, 1, 30), date(2026, 2, 2), date(2026, 2, 3),
            date(2026, 2, 13), date(2026, 2, 17)]  # 2026-02-16 is Presidents' Day
    assert [variant_for(d, start) for d in days] == ["A", "B", "A", "B", "B", "A"]
    assert variant_for(date(2026, 2, 17), start) == variant_for(date(2026, 2, 17), start)


def test_nothing_is_decided_while_the_sample_is_too_small() -> None:
    small = ABSample([0.01] * 40, [0.02] * 40, [50.0] * 9, [900.0] * 9, EQUITY)
    verdict = evaluate(small, 0)
    assert verdict.decision == "collecting" and verdict.look is None
    assert "sample too small: 9 A and 9 B sessions" in verdict.reason
    assert f"needs {MIN_SESSIONS} of each" in verdict.reason


def test_a_look_happens_once_per_milestone() -> None:
    rng = np.random.default_rng(3)
    a, b = list(rng.normal(0, 1, 12)), list(rng.normal(0, 1, 11))
    sample = ABSample(list(rng.normal(0, 0.01, 50)), list(rng.normal(0, 0.01, 50)), a, b, EQUITY)
    first = evaluate(sample, 0)
    assert first.look == 1 and first.decision == "continue"
    again = evaluate(sample, 1)
    assert again.decision == "collecting" and "next look at 20 sessions" in again.reason


def test_a_b_that_is_not_better_is_promoted_at_most_at_the_stated_rate() -> None:
    # identical variants with a real edge (so B's MinTRL is reachable and only the A-vs-B
    # comparison stands between B and a promotion)
    results = [run_test(seed, 0.002, 0.002) for seed in range(200)]
    promoted = sum(r.promoted for r in results)
    assert promoted <= ALPHA * 200, promoted
    for r in results:
        first_decisive = next(v for v in r.verdicts if v.look is not None)
        assert min(first_decisive.a_sessions, first_decisive.b_sessions) >= MIN_SESSIONS


def test_a_truly_better_b_is_promoted_after_enough_days() -> None:
    results = [run_test(seed, 0.0, 0.004) for seed in range(20)]
    assert sum(r.promoted for r in results) >= 18
    for r in results:
        final = r.verdicts[-1]
        assert min(final.a_sessions, final.b_sessions) >= MIN_SESSIONS
        if r.promoted:
            assert final.welch_p is not None and final.welch_p < ALPHA / LOOKS
            assert final.ci_low is not None and final.ci_low > 0
            assert final.b_min_track_record is not None
            assert final.b_sessions >= final.b_min_track_record


def test_a_worse_b_is_retired_after_the_last_look() -> None:
    result = run_test(11, 0.002, -0.002)
    assert not result.promoted
    final = result.verdicts[-1]
    assert final.decision == "retire" and final.look == LOOKS and "A stays" in final.reason
