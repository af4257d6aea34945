"""Command-line options of `python -m sim.gateway` and the bar source they select."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sim.market.bar_sources import CsvBarSource
from sim.market.replay import BarSource
from sim.market.sessions import previous_sessions
from sim.market.synthetic import SyntheticMarket

DEFAULT_ACCOUNT = "DU1234567"
SYNTHETIC_WARMUP_SESSIONS = 5


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sim.gateway", description="IB Gateway simulator (TWS API on loopback)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4002)
    p.add_argument("--admin-port", type=int, default=None, help="line-based fault/clock control port")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", type=Path, help="shared data directory (intraday/<SYM>/<DATE>.csv)")
    src.add_argument("--synthetic", action="store_true", help="a seeded synthetic market")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--date", type=date.fromisoformat, help="session to replay, YYYY-MM-DD")
    p.add_argument("--symbols", nargs="*", default=None)
    p.add_argument("--speed", type=float, default=1.0, help="N x real time; 0 = stepping (admin 'step')")
    p.add_argument("--cash", type=float, default=100_000.0)
    p.add_argument("--account", default=DEFAULT_ACCOUNT)
    return p.parse_args(argv)


def source_from_args(args: argparse.Namespace) -> tuple[BarSource, date, list[str]]:
    if args.synthetic:
        day = args.date or date(2025, 7, 3)
        symbols = [s.upper() for s in (args.symbols or ["SPY", "QQQ", "AAPL"])]
        days = [*previous_sessions(day, SYNTHETIC_WARMUP_SESSIONS), day]  # history to warm up on
        return SyntheticMarket(args.seed, symbols, days), day, symbols
    data = args.data or Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (data / "intraday").is_dir():
        raise SystemExit(f"--data {data}: no intraday/ directory there; pass --data DIR or --synthetic")
    source = CsvBarSource(data, args.symbols)
    if args.date is None:
        raise SystemExit("--date: required with --data (a session present in the data, e.g. 2025-07-03)")
    symbols = [s.upper() for s in args.symbols] if args.symbols else [
        s for s in source.symbols() if args.date in source.sessions(s)
    ]
    if not symbols:
        raise SystemExit(f"--date {args.date}: no symbol has intraday data that day; pick another date")
    return source, args.date, symbols
