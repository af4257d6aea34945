"""The status page's command-line flags, shared by the entry scripts (kept free of heavy imports:
`--help` and argument errors must answer instantly)."""

from __future__ import annotations

import argparse
from pathlib import Path

from trade import cli
from ui.status.config import StatusPageConfig, check_config

DEFAULT_PORT = 8765
PORT_FIX = "0 (no status page) or a port 1-65535, e.g. 8765"


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


port = cli._type(PORT_FIX, _port)


def add_status_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("status page")
    cli.add_flag(group, "--status-port", type=port, default=DEFAULT_PORT, metavar="N", fix=PORT_FIX,
                 help=f"serve the live status page on this port (default: {DEFAULT_PORT}; 0: none)")
    cli.add_flag(group, "--status-host", default="127.0.0.1", metavar="HOST",
                 fix="an address to bind, e.g. 127.0.0.1",
                 help="address of the status page (default: 127.0.0.1; another address needs "
                      "--status-remote and --status-token-file)")
    cli.add_flag(group, "--status-remote", action="store_true",
                 help="allow a non-loopback --status-host")
    cli.add_flag(group, "--status-token-file", type=Path, metavar="PATH",
                 fix="a file holding the control token (chmod 600)",
                 help="control token file: used as is when it exists (must be mode 600), else a "
                      "new token is written there (default: <logs>/status_token, or "
                      "<logs>/status_token_<port> for another --status-port; new each start)")


def default_token_name(port: int) -> str:
    """`status_token` for the default port, `status_token_<port>` for another: a second bot on
    another port never overwrites the first one's token."""
    return "status_token" if port in (DEFAULT_PORT, 0) else f"status_token_{port}"


def status_config(args: argparse.Namespace, logs_dir: Path, parser: argparse.ArgumentParser
                  ) -> StatusPageConfig:
    """The page's configuration from parsed flags; a refused one is `parser.error` (exit 2)."""
    given = args.status_token_file
    config = StatusPageConfig(
        port=args.status_port, host=args.status_host,
        token_file=given if given is not None else logs_dir / default_token_name(args.status_port),
        provisioned=given is not None and given.exists(),
    )
    problem = check_config(config, args.status_remote)
    if problem is not None:
        parser.error(problem)
    return config
