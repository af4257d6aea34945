"""`python -m improvement.calibration --seeds N [--json]`: how often the nightly cycle changes
something that does not help, and how often it finds a change that does, measured.

For each seed the cycle runs night after night, unchanged (improvement/calibration_run.py), on
two markets built from the simulator's seeded generator (improvement/calibration_markets.py):
- the null market, for one month (21 sessions): nothing the cycle can change helps by anything
  close to the planted edge, so every change traded as challenger B or applied as A is a false
  change. The false-change rate is the share of null market-months with at least one;
- a planted-edge market, for 40 sessions: one known change within the bounds (stop_loss
  0.008 -> 0.01 on even seeds, profit_target 0.014 -> 0.0112 on odd ones) is worth about +0.1%
  per trade. The power is the share of them in which that change was APPLIED (confirmed by the
  A/B test and made the current params) within the 40 sessions.
Both come with 95% Wilson intervals. The last line is `false_change_rate: X power: Y`.

Markets run in parallel on `--workers` processes (default: the machine's cores, at most 2).
`--effects` instead measures the true effect of every candidate change on long stretches of
each kind of market (what docs/improvement.md states about the markets).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from improvement.calibration_markets import KINDS, PLANTED, base_market, market
from improvement.calibration_run import MarketRun, market_days, run_market
from improvement.gate import GateSettings

NULL_NIGHTS = 21  # one market-month
PLANTED_NIGHTS = 40
GOAL_FALSE_CHANGE, GOAL_POWER = 0.05, 0.80
PROG = "python -m improvement.calibration"


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sensible at 0 and at n successes too)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def seed_pair(seed: int, gate: GateSettings | None = None) -> tuple[MarketRun, MarketRun]:
    """The null month and the planted-edge run of one seed (one generated market)."""
    gate = gate or GateSettings()
    kind = KINDS[seed % len(KINDS)]
    days = market_days(PLANTED_NIGHTS, gate.sessions)
    base = base_market(seed, days)  # generated once: the two markets differ only by the wicks
    return (run_market(market(seed, days, None, base), "null", NULL_NIGHTS, gate),
            run_market(market(seed, days, kind, base), kind, PLANTED_NIGHTS, gate))


def calibrate(seeds: Sequence[int], workers: int,
              gate: GateSettings | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    gate = gate or GateSettings()
    run = functools.partial(seed_pair, gate=gate)
    if workers > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pairs = list(pool.map(run, seeds))
    else:
        pairs = [run(s) for s in seeds]
    nulls = [n for n, _ in pairs]
    planted = [p for _, p in pairs]
    false = sum(n.changes > 0 for n in nulls)
    found = sum(p.right_applied_night is not None for p in planted)
    by_kind = {}
    for kind in KINDS:
        runs = [p for p in planted if p.kind == kind]
        hits = sum(p.right_applied_night is not None for p in runs)
        nights = sorted(p.right_applied_night for p in runs if p.right_applied_night)
        by_kind[kind] = {
            "change": f"{PLANTED[kind].parameter} {PLANTED[kind].old} -> {PLANTED[kind].new}",
            "markets": len(runs), "applied": hits, "power": _r(hits / len(runs) if runs else 0),
            "interval": [_r(x) for x in wilson(hits, len(runs))],
            "median_night_applied": nights[len(nights) // 2] if nights else None,
            "traded_as_b": sum(p.right_b_night is not None for p in runs),
            "other_changes": sum(p.changes - (p.right_b_night is not None) for p in runs)}
    return {
        "seeds": len(seeds), "null_nights": NULL_NIGHTS, "planted_nights": PLANTED_NIGHTS,
        "gate": {"alpha": gate.alpha, "sessions": gate.sessions, "max_tested": gate.max_tested},
        "false_change_rate": _r(false / len(nulls)),
        "false_change_interval": [_r(x) for x in wilson(false, len(nulls))],
        "false_changes": sum(n.changes for n in nulls),
        "null_months_with_a_change": false,
        "power": _r(found / len(planted)),
        "power_interval": [_r(x) for x in wilson(found, len(planted))],
        "by_kind": by_kind,
        "goal": {"false_change_rate_max": GOAL_FALSE_CHANGE, "power_min": GOAL_POWER},
        "seconds": round(time.perf_counter() - started, 1),
        "markets": {"null": [n.as_dict() for n in nulls if n.changes],
                    "planted_missed": [p.as_dict() for p in planted
                                       if p.right_applied_night is None]},
    }


def _r(x: float) -> float:
    return round(x, 4)


def text(result: dict[str, Any]) -> list[str]:
    lo, hi = result["false_change_interval"]
    plo, phi = result["power_interval"]
    lines = [
        f"{result['seeds']} seeds: {result['seeds']} null market-months "
        f"({result['null_nights']} sessions) and {result['seeds']} planted-edge markets "
        f"({result['planted_nights']} sessions), {result['seconds']:.0f} s",
        f"false changes: {result['null_months_with_a_change']} of {result['seeds']} null "
        f"months changed something ({result['false_changes']} changes): rate "
        f"{result['false_change_rate']:.1%}, 95% interval [{lo:.1%}, {hi:.1%}]",
        f"power: the planted change applied within {result['planted_nights']} sessions in "
        f"{result['power']:.1%}, 95% interval [{plo:.1%}, {phi:.1%}]",
    ]
    for kind, k in result["by_kind"].items():
        lines.append(f"  {kind}: {k['change']}: applied in {k['applied']} of {k['markets']} "
                     f"(median night {k['median_night_applied']}), traded as B in "
                     f"{k['traded_as_b']}, other changes {k['other_changes']}")
    lines.append(f"false_change_rate: {result['false_change_rate']} power: {result['power']}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=200, metavar="N",
                        help="markets of each kind (default 200)")
    parser.add_argument("--first-seed", type=int, default=1, metavar="S")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--alpha", type=float, default=GateSettings().alpha, metavar="A",
                        help="the gate's nightly level to measure (default: the cycle's)")
    parser.add_argument("--json", action="store_true", help="the full result as JSON")
    parser.add_argument("--effects", action="store_true",
                        help="measure the true effects of the candidate changes instead")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        print(f"{PROG}: error: --seeds {args.seeds} is invalid: use at least 1", file=sys.stderr)
        return 2
    if args.workers < 1:
        print(f"{PROG}: error: --workers {args.workers} is invalid: use at least 1",
              file=sys.stderr)
        return 2
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.effects:
        from improvement.calibration_effects import effects

        result = effects(seeds, args.workers)
        print(json.dumps(result, indent=2))
        return 0
    if not 0 < args.alpha < 0.5:
        print(f"{PROG}: error: --alpha {args.alpha} is invalid: use a level in (0, 0.5), e.g. "
              "0.01", file=sys.stderr)
        return 2
    result = calibrate(seeds, args.workers, GateSettings(alpha=args.alpha))
    if args.json:
        print(json.dumps(result, indent=2))
        print(text(result)[-1])
    else:
        print("\n".join(text(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
