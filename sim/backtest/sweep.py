"""Parameter sweeps: one row of metrics per parameter set, on all local cores or a Dask cluster.

    python -m sim.backtest.sweep --grid grid.json --symbols SPY QQQ --from 2026-01-22 \\
        --to 2026-02-27 [--data DIR] [--engine fast|event] [--params BASE.json] \\
        [--scheduler tcp://HOST:8786] [--workers N] [--json OUT] [--sort METRIC] [--top N]

`grid.json` is either an object of parameter -> list of values (every combination, the last
parameter varying fastest) or a list of objects (each one parameter set), always over the
`--params` base. The unit of work is one parameter set on one session's batch of symbols: the
symbols of a day interact (the allocation's exposure cap, the equal split over the kept
symbols), so a day is never split. The fast engine's sessions are prepared once on the local
cores and shipped with the job, so cluster workers need no copy of the data (the event engine
reads the data root on each worker). Rows are in grid order, whatever ran where: the JSON is
the same for any worker count or scheduler; the screen table is sorted by `--sort`.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.performance import Metrics
from sim.backtest.config import BacktestConfig, BacktestInputError
from sim.backtest.progress import Progress
from sim.backtest.report import table
from sim.backtest.result import dumps
from sim.backtest.runner import Overrides, sweep_metrics
from sim.backtest.sessions import Sessions
from sim.backtest.workers import SCHEDULER_TIMEOUT_S
from trade.models import Params

Grid = Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]


def expand_grid(grid: Grid, base: Params | None = None) -> list[Params]:
    """Every parameter set of `grid` over `base` (see the module docstring)."""
    base = base or Params()
    if isinstance(grid, Mapping):
        if not grid:
            raise BacktestInputError("the grid is empty: give at least one parameter and values")
        names = list(grid)
        values = []
        for name in names:
            options = grid[name]
            if isinstance(options, str) or not isinstance(options, Sequence):
                options = [options]
            if not options:
                raise BacktestInputError(f"grid: {name} has no values: list at least one")
            values.append(list(options))
        sets: list[dict[str, Any]] = [dict(zip(names, combo, strict=True))
                                      for combo in itertools.product(*values)]
    else:
        sets = [dict(s) if isinstance(s, Mapping) else s for s in grid]
        if not sets:
            raise BacktestInputError("the grid is empty: give at least one parameter set")
    out = []
    for i, changes in enumerate(sets):
        if not isinstance(changes, dict):
            raise BacktestInputError(f"grid[{i}] must be an object of parameters")
        try:
            out.append(base.with_overrides(changes))
        except (TypeError, ValueError) as exc:
            raise BacktestInputError(f"grid {changes}: {exc}") from None
    return out


def load_grid(path: Path | str) -> Grid:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BacktestInputError(f"--grid {path} not found: pass a JSON file such as "
                                 '{"profit_target": [0.01, 0.02]}') from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BacktestInputError(f"--grid {path} is not readable JSON ({exc}): use an object of "
                                 'parameter -> list, e.g. {"profit_target": [0.01, 0.02]}') from None
    if not isinstance(data, dict | list):
        raise BacktestInputError(f"--grid {path} must be an object of parameter -> list of "
                                 "values, or a list of parameter objects")
    return data


@dataclass(slots=True)
class SweepRow:
    params: Params
    metrics: Metrics


@dataclass(slots=True)
class SweepResult:
    engine: str
    sessions: Sessions
    days: list[Any]
    config: BacktestConfig
    rows: list[SweepRow]

    def varying(self) -> list[str]:
        """The parameters that differ across rows (the sweep's axes), in field order."""
        dicts = [r.params.as_dict() for r in self.rows]
        return [k for k in dicts[0] if len({json.dumps(d[k]) for d in dicts}) > 1] if dicts else []

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "sweep",
            "engine": self.engine,
            "sessions": {"symbols": list(self.sessions.symbols),
                         "from": self.days[0].isoformat() if self.days else None,
                         "to": self.days[-1].isoformat() if self.days else None,
                         "count": len(self.days)},
            "starting_equity": float(self.config.equity),
            "allocation": self.config.allocation,
            "rows": [{"params": r.params.as_dict(), "metrics": r.metrics.as_dict()}
                     for r in self.rows],
        }

    def to_json(self) -> str:
        return dumps(self.as_dict())

    def table(self, sort_by: str = "net_pnl", top: int | None = None) -> str:
        rows = [(r.params.as_dict(), r.metrics.as_dict()) for r in self.rows]
        if rows and sort_by not in rows[0][1]:
            raise BacktestInputError(f"--sort {sort_by} is not a metric: use one of "
                                     f"{', '.join(rows[0][1])}")
        ascending = sort_by in ("max_drawdown", "max_drawdown_pct", "longest_losing_streak")
        keyed = sorted(rows, key=lambda r: _sort_key(r[1].get(sort_by), ascending))
        return table(keyed[:top] if top else keyed, self.varying() or ["profit_target"])


def _sort_key(value: Any, ascending: bool) -> tuple[int, float]:
    if value is None:
        return (1, 0.0)
    return (0, float(value) if ascending else -float(value))


def sweep(param_grid: Grid, sessions: Sessions, *, base: Params | None = None,
          config: BacktestConfig | None = None, engine: str = "fast",
          workers: int | None = None, scheduler: str | None = None,
          overrides: Overrides | None = None, progress: bool = True,
          scheduler_timeout: float = SCHEDULER_TIMEOUT_S) -> SweepResult:
    """Backtest every parameter set of `param_grid` over `sessions`: one row each, in grid order."""
    config = config or BacktestConfig()
    param_sets = expand_grid(param_grid, base)
    days = sessions.days()
    bar = Progress(len(param_sets) * len(days), f"sweep ({engine})") if progress else None
    metrics = sweep_metrics(engine, sessions, days, param_sets, config, workers=workers,
                            scheduler=scheduler, overrides=overrides, progress=bar,
                            scheduler_timeout=scheduler_timeout)
    rows = [SweepRow(p, m) for p, m in zip(param_sets, metrics, strict=True)]
    return SweepResult(engine, sessions, days, config, rows)


# -- the command line ----------------------------------------------------------------------
PROG = "python -m sim.backtest.sweep"


def build_parser() -> Any:
    from sim.backtest.cli import add_market_flags
    from trade import cli

    parser = cli.OneLineArgumentParser(
        prog=PROG, description="Sweep the day trader's parameters over recorded or synthetic "
        "sessions: one row of metrics per parameter set.")
    cli.add_flag(parser, "--grid", required=True, metavar="GRID.json",
                 fix='a JSON file such as {"profit_target": [0.01, 0.02]}',
                 help="parameter -> list of values (every combination), or a list of sets")
    add_market_flags(parser)
    cli.add_flag(parser, "--scheduler", metavar="tcp://HOST:8786",
                 fix="a Dask scheduler address, e.g. tcp://10.0.0.5:8786",
                 help="run the units on this Dask cluster instead of the local cores")
    cli.add_flag(parser, "--sort", default="net_pnl", metavar="METRIC", fix="a metric name",
                 help="metric the screen table is sorted by (default: net_pnl)")
    cli.add_flag(parser, "--top", type=int, metavar="N", fix="a whole number >= 1",
                 help="show only the best N rows on screen")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sim.backtest.cli import fail, resolve, write_json

    args = build_parser().parse_args(argv)
    try:
        sessions, params, config = resolve(args)
        grid = load_grid(args.grid)
        if args.top is not None and args.top < 1:
            raise BacktestInputError(f"--top {args.top} is invalid: use a whole number >= 1")
        result = sweep(grid, sessions, base=params, config=config, engine=args.engine,
                       workers=args.workers, scheduler=args.scheduler)
        shown = result.table(args.sort, args.top)
    except BacktestInputError as exc:
        return fail(str(exc), PROG)
    write_json(result.to_json(), args.json)
    if args.json != "-":
        sys.stdout.write(f"sweep ({result.engine} engine): {len(result.rows)} parameter sets x "
                         f"{len(result.days)} sessions of {len(sessions.symbols)} symbols, sorted "
                         f"by {args.sort}\n{shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
