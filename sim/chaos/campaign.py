"""The fault campaign: many seeded chaos sessions in parallel, one line each, a table at the end.

    python -m sim.chaos --seeds 300 --workers 2 --json chaos.json
    python -m sim.chaos --scenarios            # the fixed schedules of issue 16 item 10
    python -m sim.chaos --seeds 20 --realism off   # the instant simulator of before issue 20

Each seed reproduces its session exactly (`--first-seed S --seeds 1`; with the realism on, the
faults, the accounts and the timing model's variants are the seed's; the real-time draws of
the timing follow its seed too, the machine's pace does not); a session with a violation keeps
its working directory (bot logs, DB, run log) and the command exits 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sim.chaos.schedule import LEGACY, Fault, SessionSetup, random_session, scenario_sessions
from sim.chaos.session import ChaosSession
from sim.tws.realism import Realism, RealismError
from trade.config import ConfigError, require_market_data

INVARIANTS = ("I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "X0", "X1", "X2", "X3")


def run_one(setup: SessionSetup, data_dir: str, keep: bool, realism: Realism | None = None) -> dict[str, Any]:
    """One session in a worker process; its working directory is kept when it failed."""
    workdir = Path(tempfile.mkdtemp(prefix=f"chaos-{setup.name}-"))
    result = ChaosSession(setup, workdir, Path(data_dir), realism).run()
    out = result.as_dict()
    if result.violations or keep:
        out["workdir"] = str(workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def line(result: dict[str, Any]) -> str:
    faults = Counter(result["faults"])
    shown = " ".join(f"{k}x{n}" for k, n in sorted(faults.items())) or "none"
    verdict = "OK" if not result["violations"] else "VIOLATED: " + "; ".join(result["violations"])
    return (f"{result['name']}: {result['day']} {','.join(result['symbols'])} | faults {shown} | "
            f"trades {result['trades']} | {result['wall_s']:.1f} s | {verdict}")


def summary(results: Sequence[dict[str, Any]], wall_s: float) -> str:
    injected = Counter(f for r in results for f in r["faults"])
    by_invariant = Counter(v.split()[0] for r in results for v in r["violations"])
    width = max(len(kind.value) for kind in Fault) + 2
    rows = ["", f"{'fault':<{width}}{'injected':>9}", "-" * (width + 9)]
    rows += [f"{kind.value:<{width}}{injected.get(kind.value, 0):>9}" for kind in Fault]
    rows += ["-" * (width + 9), f"{'total':<{width}}{sum(injected.values()):>9}"
             f"   ({sum(1 for k in Fault if injected.get(k.value))} kinds)", ""]
    rows += _variants(results)
    rows += [f"{'invariant':<{width}}{'violations':>11}", "-" * (width + 11)]
    for code in INVARIANTS:
        rows.append(f"{code:<{width}}{by_invariant.get(code, 0):>11}")
    bad = [r["name"] for r in results if r["violations"]]
    rows += ["", f"{len(results)} sessions, {sum(r['trades'] for r in results)} trades, "
             f"{sum(injected.values())} faults, {len(bad)} with violations, {wall_s:.0f} s wall"]
    if bad:
        rows.append("reproduce: " + ", ".join(bad))
    return "\n".join(rows)


def _variants(results: Sequence[dict[str, Any]]) -> list[str]:
    """How many sessions ran each variant of IB's timing where IB's behaviour is unknown."""
    drawn = [r.get("realism") or {} for r in results]
    if not any(drawn):
        return ["IB's timing: off", ""]
    children = Counter("work for a partial fill" if d.get("children_on_partial_fill") else
                       "held until filled" for d in drawn if d)
    release = Counter({0: "allowed"}.get(d.get("release_refusal", 0), f"refused {d.get('release_refusal')}")
                      for d in drawn if d)
    warned = sum(1 for d in drawn if d.get("held_warning"))
    return [f"IB's timing: on in {sum(1 for d in drawn if d)} sessions; bracket children "
            + ", ".join(f"{k} {n}" for k, n in sorted(children.items()))
            + "; release of a held order " + ", ".join(f"{k} {n}" for k, n in sorted(release.items()))
            + f"; 399 for a held order in {warned}", ""]


def run_campaign(setups: Iterable[SessionSetup], data_dir: Path, workers: int, keep: bool = False,
                 echo: bool = True, realism: Realism | None = None) -> list[dict[str, Any]]:
    """Run `setups` (`realism`: the simulator's IB timing, None or off for instant answers)."""
    setups = list(setups)
    results: list[dict[str, Any]] = []
    if workers <= 1:
        for setup in setups:
            results.append(run_one(setup, str(data_dir), keep, realism))
            if echo:
                print(line(results[-1]), flush=True)
        return results
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_one, s, str(data_dir), keep, realism) for s in setups]
        for future in as_completed(futures):
            results.append(future.result())
            if echo:
                print(line(results[-1]), flush=True)
    order = {s.name: i for i, s in enumerate(setups)}
    return sorted(results, key=lambda r: order[r["name"]])


def parse_faults(text: str | None) -> frozenset[Fault] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if "legacy" in names:  # the kinds before issue 20
        names = [n for n in names if n != "legacy"] + [f.value for f in LEGACY]
    known = {f.value for f in Fault}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"--faults {','.join(unknown)}: unknown; use some of {', '.join(sorted(known))}")
    return frozenset(Fault(n) for n in names)


def _realism(text: str) -> Realism:
    try:
        return Realism.parse(text)
    except RealismError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.chaos",
                                description="Randomized fault campaign against day_trader.py and "
                                            "the Gateway simulator; checks the money-safety "
                                            "invariants from the simulator's ground truth.")
    p.add_argument("--seeds", type=int, default=10, help="sessions to run (default 10)")
    p.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--faults", type=parse_faults, default=None,
                   help="comma-separated fault kinds to draw from (default: all; 'legacy': "
                        "the kinds before issue 20)")
    p.add_argument("--workers", type=int, default=2, help="sessions in parallel (default 2)")
    p.add_argument("--scenarios", action="store_true",
                   help="run the fixed item-10 scenarios instead of random seeds")
    p.add_argument("--data", type=Path, default=None,
                   help="the market data directory (default: MARKET_DATA_DIR)")
    p.add_argument("--json", type=Path, default=None, help="write every session's result here")
    p.add_argument("--keep", action="store_true", help="keep every session's working directory")
    p.add_argument("--realism", type=_realism, default="default",
                   help="the simulator's IB timing: 'default' (on), a JSON file of settings "
                        "(see docs/simulator.md) or 'off'")
    args = p.parse_args(argv)
    if args.seeds < 1 or args.workers < 1:
        p.error("--seeds and --workers must be at least 1")
    try:
        args.data = require_market_data(args.data)
    except ConfigError as exc:
        p.error(str(exc))
    if not (args.data / "intraday").is_dir():
        p.error(f"--data {args.data}: no intraday/ directory there: point it at the market data")
    if args.scenarios:
        setups = list(scenario_sessions().values())
    else:
        setups = [random_session(s, args.faults)
                  for s in range(args.first_seed, args.first_seed + args.seeds)]
    started = time.monotonic()
    results = run_campaign(setups, args.data, args.workers, args.keep, realism=args.realism)
    wall = time.monotonic() - started
    print(summary(results, wall), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"sessions": results, "wall_s": round(wall, 1)}, indent=2))
    return 1 if any(r["violations"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
