"""`python -m improvement.cycle --date YYYY-MM-DD [--db PATH]`: the nightly cycle for one traded session,
by hand. Wiring only: flags and settings -> the day's allocation, the market data, tracing ->
`improvement.after_close.after_close`, which the day trader calls after the close too.

Bad input is one line on stderr and exit 2 (a date that is not a session, a DB that does not
exist, a day with nothing recorded); a DB that cannot be opened is exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from improvement.after_close import after_close, summary_line
from improvement.cycle import CycleError
from improvement.gate import GateSettings
from improvement.regime import DEFAULT_SYMBOL, regime_bars
from observability.history import HistoryDBError
from observability.tracing import TracingConfigError, setup_tracing
from sim.market.bar_sources import CsvBarSource
from trade.calendar import MarketCalendar
from trade.config import MARKET_DATA_FIX, ConfigError, Settings, load_settings, no_market_data
from trade.intraday.run_log import run_logs_of
from trade.watchlist import WatchlistError, load_watchlist

DEFAULT_EQUITY = 100_000.0
PROG = "python -m improvement.cycle"  # its documented name; `python -m improvement` runs it too


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run the nightly improvement cycle for one traded session: "
        "metrics, LLM insights, regime, replay-validated parameter changes, A/B test, report.")
    parser.add_argument("--date", required=True, metavar="YYYY-MM-DD",
                        help="the session to review (it must have been traded)")
    parser.add_argument("--db", metavar="PATH", help="history DB (default: DB_PATH or "
                        "trading_history.db; use trading_history.sim.db for --sim days)")
    parser.add_argument("--watchlist", metavar="PATH", help="watchlist (default: WATCHLIST_PATH)")
    parser.add_argument("--data", metavar="DIR", help="market data for the replays and the "
                        "regime (default: MARKET_DATA_DIR)")
    parser.add_argument("--allocation", type=float, metavar="F",
                        help="the day's allocation (default: from the day's run log)")
    parser.add_argument("--equity", type=float, metavar="N",
                        help=f"net liquidation at the day's start (default: {DEFAULT_EQUITY:,.0f})")
    parser.add_argument("--sessions", type=int, default=20, metavar="N",
                        help="the replay window: contiguous sessions up to --date, the older "
                        "half in sample, the recent half the test (default: 20)")
    parser.add_argument("--log-level", default="WARNING", metavar="LEVEL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (CycleError, ConfigError, WatchlistError) as exc:
        return _fail(str(exc), 2)
    except HistoryDBError as exc:
        return _fail(str(exc), 1)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise CycleError(f"--date {args.date} is invalid: use YYYY-MM-DD, e.g. 2026-02-27") from None
    if not MarketCalendar().is_trading_day(day):
        raise CycleError(f"--date {day} is not an NYSE session: pick a trading day")
    if args.sessions < 4:
        raise CycleError(f"--sessions {args.sessions} is invalid: use at least 4")
    settings = load_settings(cli={"db_path": args.db, "watchlist_path": args.watchlist,
                                  "market_data_dir": args.data}, bot="day_trader")
    if not Path(settings.db_path).is_file():
        raise CycleError(f"--db {settings.db_path} not found: point --db at the history DB the "
                         "day trader wrote (trading_history.sim.db for --sim days)")
    watchlist = load_watchlist(settings.watchlist_path, settings.params)  # fail early if bad
    allocation = args.allocation if args.allocation is not None else _logged_allocation(
        settings, day)
    data = settings.market_data_dir
    if data is None:
        raise CycleError(no_market_data())
    if not (data / "intraday").is_dir() and not (data / "daily").is_dir():
        raise CycleError(f"--data {data} has neither intraday/ nor daily/: use {MARKET_DATA_FIX}")
    source = CsvBarSource(data, watchlist.symbols) if (data / "intraday").is_dir() else None
    regime = regime_bars(CsvBarSource(data), DEFAULT_SYMBOL)
    try:
        tracing_handle = setup_tracing("day-trader")
    except TracingConfigError as exc:
        raise CycleError(str(exc)) from None
    try:
        outcome = after_close(
            settings, day=day, allocation=allocation,
            equity=args.equity or DEFAULT_EQUITY, replay_source=source, regime=regime,
            gate=GateSettings(sessions=args.sessions),
            data_source=f"--data {data}" if source is not None else "")
    finally:
        tracing_handle.shutdown()
    print(summary_line(outcome), flush=True)
    return 0


def _logged_allocation(settings: Settings, day: date) -> float:
    logs = Path(settings.logs_dir)
    found = run_logs_of(logs, day) or run_logs_of(logs / "sim", day)
    path = found[-1] if found else logs / f"day_trader_run_{day.isoformat()}.json"
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["allocation"])
    except (OSError, ValueError, KeyError, TypeError):
        raise CycleError(f"--allocation is needed: no readable run log {path} to take the "
                         "day's allocation from") from None


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return code
