"""`python -m trade.ib.preflight`: the paper-account preflight on its own (also
`python day_trader.py --preflight`). Flags are few: the connection, the symbol, the log level;
everything else comes from .env and the environment as for the day trader (IB_HOST, IB_PORT,
IB_ACCOUNT, LOGS_DIR). Bad input is one line and exit 2."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trade import cli
from trade.config import ConfigError, load_settings, option_fix

PROG = "python -m trade.ib.preflight"


def build_parser() -> cli.OneLineArgumentParser:
    parser = cli.OneLineArgumentParser(
        prog=PROG,
        description="Prove on your IB paper account, with one share during regular hours, the "
        "broker behaviours the day trader relies on; one line per step, a JSON record in the "
        "logs directory that the day trader's start reads (docs/operating.md).",
        epilog=cli.SETTINGS_EPILOG)

    def fix(name: str) -> str:
        return option_fix(name, "day_trader")

    cli.add_flag(parser, "--symbol", metavar="SYMBOL", type=cli.symbol, default="SPY",
                 fix=cli.SYMBOL_FIX, help="the liquid ETF or stock to trade one share of "
                 "(default: SPY)")
    cli.add_flag(parser, "--host", metavar="HOST", fix=fix("ib_host"),
                 help="Gateway host (default: 127.0.0.1, or IB_HOST)")
    cli.add_flag(parser, "--port", metavar="PORT", fix=fix("ib_port"),
                 help="Gateway port (default: 4001, or IB_PORT; paper Gateway: 4002, TWS 7497)")
    cli.add_flag(parser, "--client-id", metavar="N", fix=fix("ib_client_id"),
                 help="API client id (default: 9, the preflight's own)")
    cli.add_flag(parser, "--account", metavar="ID", fix=fix("ib_account"),
                 help="the paper account (default: IB_ACCOUNT, or the login's only account)")
    cli.add_flag(parser, "--log-level", metavar="LEVEL", fix=fix("log_level"),
                 help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: INFO, or LOG_LEVEL)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(cli={
            "ib_host": args.host, "ib_port": args.port, "ib_client_id": args.client_id,
            "ib_account": args.account, "log_level": args.log_level}, bot="day_trader")
    except ConfigError as exc:
        parser.error(str(exc))
    from trade import startup
    from trade.ib.preflight.command import run_command

    client_id = settings.ib_client_id if args.client_id is not None else None
    return startup.guarded(PROG, lambda: run_command(settings, symbol=args.symbol,
                                                     client_id=client_id))


if __name__ == "__main__":
    sys.exit(main())
