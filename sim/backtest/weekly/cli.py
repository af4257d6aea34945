"""`python -m sim.backtest.weekly`: the weekly policy over the shared daily data, live code, from cash.

    python -m sim.backtest.weekly --from 2005-01-01 --to 2021-03-31 --json weekly.json
    python -m sim.backtest.weekly --from 2019-01-01 --to 2019-12-31 \\
        --universe weekly_universe.json --run-days Monday Thursday
    python -m sim.backtest.weekly --from 2019-01-01 --to 2019-12-31 \\
        --universe weekly_universe.json --rule hold_buffer=0 --rule entry_margin=0

Without `--universe` the universe is every daily file under `--data` (the shared data's 94) with
the default rules; a universe file brings its symbols and its rules, and `--rule NAME=VALUE`
overrides one rule (validated as the universe file's are). Prints the policy against SPY
buy-and-hold and the equal-weight universe; `--json OUT` writes what `python -m ui.tearsheet OUT`
draws. Bad input is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time as clock
from collections.abc import Sequence
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trade import cli
from trade.config import MARKET_DATA_ENV, ConfigError, require_market_data

if TYPE_CHECKING:  # imported lazily at run time: --help and argument errors stay instant
    from sim.backtest.weekly.engine import RunConfig
    from trade.portfolio.universe import PortfolioRules

PROG = "python -m sim.backtest.weekly"
RULE_FIX = "NAME=VALUE with a rule of the universe file, e.g. hold_buffer=4"


def _rule(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(text)
    return name.strip(), float(value)


def build_parser() -> cli.OneLineArgumentParser:
    parser = cli.OneLineArgumentParser(
        prog=PROG, description="Backtest the weekly rebalancer's policy (screener, analyst with "
        "the LLM off, Monte Carlo, manager: the live code) over the shared daily data.")
    cli.add_flag(parser, "--data", metavar="DIR", type=Path,
                 fix="a market data directory holding daily/<SYM>.csv",
                 help=f"the market data directory (default: {MARKET_DATA_ENV})")
    cli.add_flag(parser, "--from", dest="first", type=cli.iso_date, required=True,
                 metavar="YYYY-MM-DD", fix=cli.DATE_FIX, help="first session (inclusive)")
    cli.add_flag(parser, "--to", dest="last", type=cli.iso_date, required=True,
                 metavar="YYYY-MM-DD", fix=cli.DATE_FIX, help="last session (inclusive)")
    cli.add_flag(parser, "--run-days", nargs="+", metavar="DAY", type=cli.weekday,
                 fix=cli.WEEKDAY_FIX, help="rebalance weekdays (default: Monday), as main.py")
    cli.add_flag(parser, "--run-time", metavar="HH:MM", type=cli.hh_mm, fix=cli.TIME_FIX,
                 help="New York time of the cycle (default: 10:00): where the year of "
                 "history starts")
    cli.add_flag(parser, "--universe", metavar="FILE", type=Path,
                 fix="a universe JSON such as weekly_universe.json",
                 help="universe file: symbols and rules (default: every daily file, default "
                 "rules)")
    cli.add_flag(parser, "--rule", action="append", default=[], metavar="NAME=VALUE",
                 type=cli._type(RULE_FIX, _rule), fix=RULE_FIX,
                 help="override one rule (repeatable), e.g. --rule hold_buffer=0")
    cli.add_flag(parser, "--equity", type=float, default=100_000.0, metavar="N",
                 fix="a positive amount, e.g. 100000", help="starting cash (default: 100000)")
    cli.add_flag(parser, "--allocation", type=float, default=1.0, metavar="F",
                 fix="a fraction in (0, 1], e.g. 1", help="the book's fraction of net "
                 "liquidation, as main.py --allocation (default: 1)")
    cli.add_flag(parser, "--half-spread-bps", type=float, default=3.0, metavar="BP",
                 fix="basis points >= 0, e.g. 3", help="slippage model: half spread paid per "
                 "side (default: 3)")
    cli.add_flag(parser, "--impact", type=float, default=1.0, metavar="Y",
                 fix="a number >= 0, e.g. 1", help="slippage model: square-root impact "
                 "coefficient (default: 1)")
    cli.add_flag(parser, "--json", metavar="OUT", fix="a file path, or - for stdout",
                 help="write the result as JSON (- for stdout)")
    cli.add_flag(parser, "--workers", type=int, metavar="N", fix="a whole number >= 1",
                 help="processes for the daily analyses (default: all cores)")
    return parser


class InputError(ValueError):
    """One line naming the flag and the fix (exit 2)."""


def resolve(args: argparse.Namespace) -> tuple[RunConfig, list[str], PortfolioRules, str]:
    """(RunConfig, symbols, rules, universe label) from the flags; `InputError` on bad input."""
    from sim.backtest.weekly.data import daily_symbols
    from sim.backtest.weekly.engine import RunConfig
    from sim.backtest.weekly.fills import SlippageModel
    from sim.backtest.workers import default_workers
    from trade.portfolio.universe import PortfolioRules, load_universe, parse_rules

    if args.first > args.last:
        raise InputError(f"--from {args.first} is after --to {args.last}: swap them")
    if not args.equity > 0:
        raise InputError(f"--equity {args.equity:g} is invalid: use a positive amount")
    if not 0 < args.allocation <= 1:
        raise InputError(f"--allocation {args.allocation:g} is invalid: use a fraction in (0, 1]")
    if args.half_spread_bps < 0 or args.impact < 0:
        raise InputError("--half-spread-bps and --impact must be >= 0: e.g. 3 and 1")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers {args.workers} is invalid: use a whole number >= 1")
    weekend = [d for d in args.run_days or () if d in ("Saturday", "Sunday")]
    if weekend:
        raise InputError(f"--run-days {weekend[0]} is invalid: the market is closed on "
                         "weekends: use Monday to Friday")
    try:
        data_dir = require_market_data(args.data)
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    if args.universe is not None:
        universe = load_universe(args.universe)
        symbols, rules, label = list(universe.symbols), universe.rules, str(args.universe)
    else:
        symbols, rules = daily_symbols(data_dir), PortfolioRules()
        label = f"every daily file in {data_dir}"
    if args.rule:
        rules = parse_rules({**rules.as_dict(), **dict(args.rule)}, "--rule")
    days = tuple(d for d in cli.WEEKDAYS if d in (args.run_days or ("Monday",)))
    config = RunConfig(data_dir, args.first, args.last, days, args.run_time or time(10, 0),
                       args.equity, args.allocation,
                       SlippageModel(args.half_spread_bps, args.impact),
                       args.workers or default_workers())
    return config, symbols, rules, label


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sim.backtest.cli import write_json
    from sim.backtest.result import dumps
    from sim.backtest.weekly.data import WeeklyDataError
    from sim.backtest.weekly.engine import run
    from sim.backtest.weekly.result import document
    from trade.portfolio.universe import UniverseError

    trade_log = logging.getLogger("trade")
    level = trade_log.level
    trade_log.setLevel(logging.ERROR)  # the analyst says "LLM off" each day
    started = clock.perf_counter()
    try:
        config, symbols, rules, label = resolve(args)
        result = run(config, symbols, rules)
    except (InputError, UniverseError, WeeklyDataError) as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    finally:  # called in-process (tests, other tools): the caller's log is left as it was
        trade_log.setLevel(level)
    doc = document(result, label)
    write_json(dumps(doc), args.json)
    if args.json != "-":
        sys.stdout.write(summary(doc, clock.perf_counter() - started))
    return 0


def summary(doc: dict[str, Any], seconds: float) -> str:
    from sim.backtest.weekly.metrics import summary_rows

    metrics, sessions, benchmarks = doc["metrics"], doc["sessions"], doc["benchmarks"]
    lines = [f"weekly backtest: {sessions['rebalances']} cycles, {sessions['from']} to "
             f"{sessions['to']}, {len(doc['universe']['symbols'])} symbols "
             f"({seconds:.1f} s); LLM off: the quantitative score alone decides",
             *summary_rows({"policy": metrics,
                            **{b["label"]: b["metrics"] for b in benchmarks.values()}}),
             f"turnover {metrics['turnover_per_cycle']:.1%} per cycle (two-sided, after the "
             f"first), names replaced {metrics['names_replaced_per_cycle']:.2f} per cycle in "
             f"{metrics['cycles_with_replacement']:.0f} of {metrics['cycles_after_first']:.0f} "
             f"cycles; commissions {metrics['commissions']:,.2f}, slippage "
             f"{metrics['slippage_cost']:,.2f}"]
    return "\n".join(lines) + "\n"

