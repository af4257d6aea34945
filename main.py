#!/usr/bin/env python3
"""Weekly portfolio rebalancer and its scheduler: command line and wiring only.

    python main.py --allocation 0.5                          # every Monday at 10:00 New York
    python main.py --allocation 0.5 --run-days mon thu --run-time 10:30
    python main.py --allocation 0.5 --once --dry-run         # one cycle now, no orders

Settings come from defaults < .env < environment < these flags (see trade/config.py and
.env.example); `--allocation` may come from WEEKLY_ALLOCATION instead. Argument errors are one line
naming the flag and the fix, exit code 2. Heavy modules are imported inside `run` only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import time
from pathlib import Path

from trade import cli
from trade.config import ConfigError, Settings, load_settings, option_fix

BOT = "weekly"
DEFAULT_RUN_DAYS = ("Monday",)
DEFAULT_RUN_TIME = time(10, 0)


def build_parser() -> cli.OneLineArgumentParser:
    parser = cli.OneLineArgumentParser(
        prog="main.py",
        description=(
            "Weekly portfolio bot: screens, analyses and rebalances its book on the chosen "
            "weekdays (New York time); skips exchange holidays."
        ),
        epilog=cli.SETTINGS_EPILOG,
    )

    def fix(name: str) -> str:
        return option_fix(name, BOT)

    when = parser.add_argument_group("schedule")
    cli.add_flag(
        when,
        "--run-days",
        nargs="+",
        metavar="DAY",
        type=cli.weekday,
        fix=cli.WEEKDAY_FIX,
        help="weekdays to run on, case-insensitive, e.g. Monday Thursday (default: Monday)",
    )
    cli.add_flag(
        when,
        "--run-time",
        metavar="HH:MM",
        type=cli.hh_mm,
        fix=cli.TIME_FIX,
        help=f"New York time of the cycle (default: {DEFAULT_RUN_TIME:%H:%M})",
    )
    cli.add_flag(
        when, "--once", action="store_true", help="run one cycle now and exit (no scheduler)"
    )
    money = parser.add_argument_group("money and safety")
    cli.add_flag(
        money,
        "--allocation",
        metavar="FRACTION",
        fix=fix("allocation") + " (or set WEEKLY_ALLOCATION)",
        help="fraction of net liquidation for the weekly book, in (0, 1] "
        "(required unless WEEKLY_ALLOCATION is set)",
    )
    cli.add_flag(
        money,
        "--dry-run",
        action="store_true",
        help="analyse and report the rebalance, but place no orders",
    )
    cli.add_connection_flags(
        parser, fix, "API client id, unique per bot (default: 1, or IB_WEEKLY_CLIENT_ID)"
    )
    cli.add_flag(
        parser,
        "--sim",
        action="store_true",
        default=None,
        help="start the built-in IB Gateway simulator in-process and trade against it",
    )
    cli.add_records_flags(parser, fix)
    return parser


def parse_args(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> tuple[Settings, argparse.Namespace]:
    """Parse and validate; exits 2 with one line on any bad argument or setting."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.live and args.sim:
        parser.error("--live cannot be combined with --sim: drop --live to simulate")
    try:
        settings = load_settings(
            cli={
                "allocation": args.allocation,
                "live": args.live,
                "sim": args.sim,
                "ib_host": args.host,
                "ib_port": args.port,
                "ib_client_id": args.client_id,
                "ib_account": args.account,
                "db_path": args.db,
                "log_level": args.log_level,
            },
            env=env,
            dotenv_path=dotenv_path,
            bot=BOT,
        )
    except ConfigError as exc:
        parser.error(str(exc))
    if settings.allocation is None:
        parser.error(
            "--allocation is required: use a fraction in (0, 1], e.g. 0.5 "
            "(or set WEEKLY_ALLOCATION in .env or the environment)"
        )
    # one entry per weekday, in calendar order, whatever order or case they were given in
    days = args.run_days or DEFAULT_RUN_DAYS
    args.run_days = tuple(day for day in cli.WEEKDAYS if day in days)
    if args.run_time is None:
        args.run_time = DEFAULT_RUN_TIME
    return settings, args


def run(settings: Settings, args: argparse.Namespace) -> int:
    """THE WIRING POINT: build the connection, the weekly cycle and the scheduler here.

    For now it only says what it would do. Import heavy modules (pandas, ib_async, APScheduler,
    sim) inside this function, not at the top of the file.
    """
    if args.once:
        when = "one cycle now, then exit"
    else:
        when = f"every {', '.join(args.run_days)} at {args.run_time:%H:%M} New York time"
    where = (
        "the in-process simulator"
        if settings.sim
        else f"IB at {settings.ib_host}:{settings.ib_port} (client id {settings.ib_client_id})"
    )
    orders = "no orders (dry run)" if args.dry_run else "orders"
    account_rule = "any account (--live)" if settings.live else "paper accounts (DU...) only"
    print(f"weekly: would rebalance {settings.allocation:.0%} of net liquidation on {where}")
    print(f"weekly: schedule {when}; {orders}; accounts allowed: {account_rule}")
    print(f"weekly: history DB {settings.db_path}; log level {settings.log_level}")
    print(f"weekly: settings {settings!r}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    settings, args = parse_args(argv)
    return run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
