"""Command line of the conformance walk (see `sim/conformance/__init__.py`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence

from ib_async import IB

from sim.conformance.walker import Outcome, Walker

DEFAULT_CLIENT_ID = 990  # out of the way of a bot's clientIds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim.conformance",
        description="Walk ib_async through every TWS API request kind against a Gateway (the simulator) "
                    "and report, per kind: answered / IB-style error / no answer.")
    parser.add_argument("--port", type=int, required=True, help="the Gateway's API port")
    parser.add_argument("--host", default="127.0.0.1", help="the Gateway's host (default 127.0.0.1)")
    parser.add_argument("--client-id", type=int, default=DEFAULT_CLIENT_ID,
                        help=f"clientId of the walk (default {DEFAULT_CLIENT_ID})")
    parser.add_argument("--symbol", default="SPY", help="a US stock the Gateway serves (default SPY)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    return parser


async def conformance(host: str, port: int, client_id: int, symbol: str, timeout: float) -> list[Outcome]:
    """Connect, walk every kind, disconnect."""
    ib = IB()
    await ib.connectAsync(host, port, clientId=client_id, timeout=timeout)
    try:
        walker = Walker(ib, symbol, timeout)
        await walker.prepare()
        return await walker.walk()
    finally:
        ib.disconnect()


def summary(outcomes: Sequence[Outcome]) -> str:
    return f"conformance: {sum(o.conforms for o in outcomes)}/{len(outcomes)}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"--port {args.port}: use the Gateway's API port (1-65535)", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print(f"--timeout {args.timeout}: use a positive number of seconds, e.g. 5", file=sys.stderr)
        return 2
    quiet = [logging.getLogger(name) for name in ("ib_async.wrapper", "ib_async.client", "ib_async.ib")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)  # the walk reports; the client need not
    try:
        outcomes = asyncio.run(conformance(args.host, args.port, args.client_id, args.symbol, args.timeout))
    except (OSError, TimeoutError, ConnectionError) as exc:
        print(f"cannot connect to {args.host}:{args.port} ({exc or type(exc).__name__}): start the "
              "simulator (python -m sim.gateway) or pass its --port", file=sys.stderr)
        return 1
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    if args.json:
        print(json.dumps({"kinds": [o.as_dict() for o in outcomes], "summary": summary(outcomes)}, indent=2))
    else:
        for outcome in outcomes:
            print(outcome.line())
        print(summary(outcomes))
    return 0 if all(o.conforms for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
