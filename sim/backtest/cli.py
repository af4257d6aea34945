"""`python -m sim.backtest`: replay sessions with the live trader (event) or its compiled twin (fast).

    python -m sim.backtest [--data DIR | --seed N] --symbols SPY QQQ --from 2026-01-22 \\
        --to 2026-02-27 [--engine fast|event] [--params FILE.json] [--allocation F] \\
        [--equity N] [--json OUT] [--workers N]

`--data` defaults to MARKET_DATA_DIR (trade/config.py); with neither, one line says so (exit 2).
Prints the metrics (and a progress bar on a terminal) and writes the JSON the tearsheet reads
(`python -m ui.tearsheet OUT -o OUT.html`). Bad input (a missing or malformed date, an unknown
symbol, an empty range, a bad parameter) is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trade import allocation, cli
from trade.config import MARKET_DATA_ENV, MARKET_DATA_FIX, ConfigError, require_market_data

PROG = "python -m sim.backtest"
DATA_FIX = MARKET_DATA_FIX


def add_market_flags(parser: argparse.ArgumentParser) -> None:
    """The flags a backtest and a sweep share: the market, the sessions, money, engine, output."""
    market = parser.add_mutually_exclusive_group()
    cli.add_flag(market, "--data", metavar="DIR", fix=DATA_FIX,
                 help=f"the market data directory (default: {MARKET_DATA_ENV})")
    cli.add_flag(market, "--seed", type=cli.seed, metavar="N", fix=cli.SEED_FIX,
                 help="trade seeded synthetic sessions instead of recorded data")
    cli.add_flag(parser, "--symbols", nargs="+", required=True, metavar="SYM",
                 fix="one or more tickers, e.g. --symbols SPY QQQ",
                 help="symbols, in the order the trader subscribes to them")
    cli.add_flag(parser, "--from", dest="first", type=cli.iso_date, required=True,
                 metavar="YYYY-MM-DD", fix=cli.DATE_FIX, help="first session (inclusive)")
    cli.add_flag(parser, "--to", dest="last", type=cli.iso_date, required=True,
                 metavar="YYYY-MM-DD", fix=cli.DATE_FIX, help="last session (inclusive)")
    cli.add_flag(parser, "--engine", default="fast", choices=("fast", "event"),
                 fix="fast or event",
                 help="fast: the compiled engine (default); event: the live trader itself")
    cli.add_flag(parser, "--params", metavar="FILE.json", fix='a JSON object such as '
                 '{"profit_target": 0.02}', help="strategy parameters over the defaults")
    cli.add_flag(parser, "--allocation", type=float, default=0.25, metavar="F",
                 fix=allocation.FIX,  # validated by BacktestConfig (trade.allocation)
                 help="fraction of net liquidation the bot may use (default: 0.25)")
    cli.add_flag(parser, "--equity", type=float, default=100_000.0, metavar="N",
                 fix="a positive amount, e.g. 100000",
                 help="net liquidation at each session's start (default: 100000)")
    cli.add_flag(parser, "--json", metavar="OUT", fix="a file path, or - for stdout",
                 help="write the result as JSON (- for stdout)")
    cli.add_flag(parser, "--workers", type=int, metavar="N", fix="a whole number >= 1",
                 help="local worker processes (default: all cores)")


def build_parser() -> argparse.ArgumentParser:
    parser = cli.OneLineArgumentParser(
        prog=PROG, description="Backtest the day trader over recorded or synthetic sessions.")
    add_market_flags(parser)
    return parser


def resolve(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(sessions, params, config) from the shared flags; `BacktestInputError` on bad input."""
    from sim.backtest.config import BacktestConfig, BacktestInputError, params_from_json
    from sim.backtest.sessions import Market, resolve_sessions

    if args.workers is not None and args.workers < 1:
        raise BacktestInputError(f"--workers {args.workers} is invalid: use a whole number >= 1")
    if args.seed is not None:
        market = Market(seed=args.seed)
    else:
        try:
            data = require_market_data(args.data, "--data DIR (or --seed N)")
        except ConfigError as exc:
            raise BacktestInputError(str(exc)) from None
        market = Market(data=str(data))
    sessions = resolve_sessions(market, args.symbols, args.first, args.last)
    params = params_from_json(args.params) if args.params else None
    config = BacktestConfig(allocation=args.allocation, equity=args.equity)
    return sessions, params, config


def write_json(text: str, where: str | None) -> None:
    if not where:
        return
    if where == "-":
        sys.stdout.write(text)
        return
    path = Path(where)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def fail(message: str, prog: str = PROG) -> int:
    sys.stderr.write(f"{prog}: error: {message}\n")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sim.backtest.config import BacktestInputError
    from sim.backtest.report import backtest_summary
    from sim.backtest.runner import run_backtest
    from trade.models import Params

    try:
        sessions, params, config = resolve(args)
        result = run_backtest(sessions, params or Params(), config, engine=args.engine,
                              workers=args.workers)
    except BacktestInputError as exc:
        return fail(str(exc))
    write_json(result.to_json(), args.json)
    if args.json != "-":
        sys.stdout.write(backtest_summary(result, sessions))
    return 0
