"""`python -m sim.gateway`: flags, their validation (one line, exit 2) and the serving loop.

Which sessions: `--date D` replays one session; `--from A --to B` every NYSE session in between
(all of them must have data for the symbols); `--days N` the N sessions ending at `--date`/`--to`.
`--synthetic` without a date replays the last completed NYSE session (by the machine's clock,
the only place the simulator reads it: to pick a default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from sim.clock_hold import GRACE_S, ClockHold
from sim.market.bar_sources import CsvBarSource
from sim.market.replay import BarSource
from sim.market.sessions import NY, is_session, previous_sessions, session_bounds, sessions_between
from sim.market.synthetic import SyntheticMarket
from sim.market.tickers import TICKERS_FILE, known_tickers
from sim.tws.realism import Realism, RealismError
from trade.config import ConfigError, require_market_data

DEFAULT_ACCOUNT = "DU1234567"
SYNTHETIC_WARMUP_SESSIONS = 5
HOLD_LEAD = timedelta(minutes=5)  # a held clock waits here before the first open, as at 09:25


class OneLineParser(argparse.ArgumentParser):
    """Bad input is one line naming the flag and the fix, exit status 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _iso_date(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2025-07-03") from None


def _positions(text: str) -> dict[str, float]:
    held: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        symbol, sep, qty = item.partition(":")
        try:
            if not sep or not symbol.isalnum():
                raise ValueError(item)
            held[symbol.upper()] = float(qty)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: use SYMBOL:SHARES pairs, e.g. SPY:100,QQQ:50") from None
    return held


def _realism(text: str) -> Realism:
    try:
        return Realism.parse(text)
    except RealismError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m sim.gateway",
        description="IB Gateway simulator: the TWS API on loopback over replayed or synthetic sessions.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=4002, help="TWS API port (0 = any free port)")
    p.add_argument("--admin-port", type=int, default=None,
                   help="line-based fault/clock control port (0 = any free port; none when omitted)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", type=Path, default=None,
                     help="market data directory with intraday/<SYM>/<DATE>.csv (default: MARKET_DATA_DIR)")
    src.add_argument("--synthetic", action="store_true", help="a seeded synthetic market instead of CSV data")
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic market")
    p.add_argument("--date", type=_iso_date, default=None,
                   help="the session to replay, YYYY-MM-DD (synthetic: default the last completed NYSE session)")
    p.add_argument("--from", dest="date_from", type=_iso_date, default=None,
                   help="first session of a multi-day replay, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=_iso_date, default=None,
                   help="last session of a multi-day replay, YYYY-MM-DD")
    p.add_argument("--days", type=int, default=None,
                   help="replay this many consecutive sessions ending at --date/--to")
    p.add_argument("--symbols", nargs="*", default=None,
                   help="symbols to replay (CSV default: every symbol with data on the days; synthetic: SPY QQQ AAPL)")
    p.add_argument("--symbols-from", type=Path, default=None, metavar="JSON",
                   help="replay the \"symbols\" of a watchlist or universe file, e.g. "
                        "day_trading_watchlist.json (instead of --symbols)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="N x real time; 0 = a stepping clock moved by the admin 'step' command")
    p.add_argument("--hold-until-client", action="store_true",
                   help="hold the clock 5 minutes before the first open until the first API "
                        "client is ready to trade (asks for live data or places an order, or "
                        "has been connected 10 s), then run it at --speed: a bot started after "
                        "the Gateway trades from the open")
    p.add_argument("--skip-nights", action="store_true",
                   help="jump the clock from 15 min after a close to 5 min before the next open")
    p.add_argument("--cash", type=float, default=100_000.0, help="starting cash of each account (USD)")
    p.add_argument("--account", default=DEFAULT_ACCOUNT, help="the (first) account id")
    p.add_argument("--second-account", default=None, help="a second account id under the same login")
    p.add_argument("--second-positions", type=_positions, default=None,
                   help="positions the second account holds at the start, e.g. SPY:100,QQQ:50")
    p.add_argument("--master-client-id", type=int, default=None,
                   help="the master API client id, which sees every client's orders and executions")
    p.add_argument("--state", type=Path, default=None,
                   help="JSON file keeping accounts, positions, GTC orders and ids across restarts")
    p.add_argument("--realism", type=_realism, default="off",
                   help="IB's timing: 'default', a JSON file of settings over it (see "
                        "docs/simulator.md), or 'off' (every answer at once)")
    return p


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.speed < 0:
        parser.error(f"--speed {args.speed:g}: must be >= 0 (0 = stepping)")
    if args.hold_until_client and args.speed == 0:
        parser.error("--hold-until-client: needs a running clock to release: give --speed N > 0")
    if args.port < 0 or (args.admin_port is not None and args.admin_port < 0):
        parser.error("--port/--admin-port: must be >= 0 (0 = any free port)")
    if args.cash <= 0:
        parser.error(f"--cash {args.cash:g}: must be a positive amount")
    if args.days is not None and args.days < 1:
        parser.error(f"--days {args.days}: must be at least 1")
    if args.second_positions and not args.second_account:
        parser.error("--second-positions: needs --second-account ID")
    if args.second_account and args.second_account == args.account:
        parser.error(f"--second-account {args.second_account}: must differ from --account")
    if args.date and (args.date_from or args.date_to):
        parser.error("--date: use either --date or --from/--to")
    if bool(args.date_from) != bool(args.date_to) and args.days is None:
        parser.error("--from/--to: give both (or one of them with --days N)")
    if args.symbols_from is not None:
        if args.symbols:
            parser.error("--symbols-from: use either --symbols or --symbols-from")
        args.symbols = _symbols_from(args.symbols_from, parser)
    if args.state is not None and not args.state.parent.is_dir():
        parser.error(f"--state {args.state}: directory {args.state.parent} does not exist")
    return args


def _symbols_from(path: Path, parser: argparse.ArgumentParser) -> list[str]:
    """The "symbols" list of a watchlist or universe JSON (one line and exit 2 when it has none)."""
    try:
        symbols = json.loads(path.read_text()).get("symbols")
    except (OSError, ValueError, AttributeError) as exc:
        parser.error(f"--symbols-from {path}: cannot read it ({exc}): point it at a watchlist "
                     "or universe JSON")
    if not isinstance(symbols, list) or not symbols or not all(
            isinstance(s, str) and s for s in symbols):
        parser.error(f"--symbols-from {path}: no \"symbols\" list of tickers in it: use a "
                     "watchlist or universe JSON")
    return [s.upper() for s in symbols]


def last_completed_session(now: datetime) -> date:
    """The most recent NYSE session whose close is at or before `now`."""
    days = sessions_between(now.date() - timedelta(days=14), now.date())
    done = [d for d in days if session_bounds(d)[1] <= now]
    return done[-1]


def _days(args: argparse.Namespace, parser: argparse.ArgumentParser, default_last: date | None) -> list[date]:
    """The sessions to replay, validated as NYSE sessions."""
    for name in ("date", "date_from", "date_to"):
        day = getattr(args, name)
        if day is not None and not is_session(day):
            flag = "--" + name.replace("date_", "")
            parser.error(f"{flag} {day}: not an NYSE session (weekend or holiday): pick a trading day")
    last = args.date or args.date_to or default_last
    if args.date_from and args.date_to:
        if args.date_from > args.date_to:
            parser.error(f"--from {args.date_from} is after --to {args.date_to}")
        days = sessions_between(args.date_from, args.date_to)
    elif args.days is not None:
        if args.date_from and not last:
            days = sessions_between(args.date_from, args.date_from + timedelta(days=3 * args.days + 10))[: args.days]
        elif last is None:
            parser.error("--days: also give --date or --to (the last session)")
        else:
            days = [*previous_sessions(last, args.days - 1), last]
    elif last is not None:
        days = [last]
    else:
        parser.error("--date: required with --data (a session present in the data, e.g. 2025-07-03)")
    return days


def source_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> tuple[BarSource, list[date], list[str]]:
    """The bar source, the sessions and the symbols the flags select (parser.error on bad input)."""
    parser = parser or build_parser()
    if args.synthetic:
        days = _days(args, parser, last_completed_session(datetime.now(tz=NY)))
        symbols = [s.upper() for s in (args.symbols or ["SPY", "QQQ", "AAPL"])]
        known = known_tickers()  # real tickers only, as at IB (sim/market/tickers.py)
        for symbol in symbols:
            if symbol not in known:
                parser.error(f"--symbols {symbol}: not a US stock or ETF the simulator knows "
                             f"(sim/market/{TICKERS_FILE.name} or the shared data): check the "
                             "ticker")
        warmup = previous_sessions(days[0], SYNTHETIC_WARMUP_SESSIONS)
        market = SyntheticMarket(args.seed, symbols, [*warmup, *days], universe=known)
        return market, days, symbols
    try:
        data = require_market_data(args.data, "--data DIR (or --synthetic)")
    except ConfigError as exc:
        parser.error(str(exc))
    if not (data / "intraday").is_dir():
        parser.error(f"--data {data}: no intraday/ directory there; pass --data DIR (the shared data) or --synthetic")
    days = _days(args, parser, None)
    source = CsvBarSource(data)  # every symbol: history is served for symbols not replayed too
    if args.symbols:
        symbols = [s.upper() for s in args.symbols]
        for symbol in symbols:
            have = set(source.sessions(symbol))
            missing = [d for d in days if d not in have]
            if missing:
                parser.error(f"--symbols {symbol}: no intraday data on {missing[0]} in {data}: "
                             f"pick symbols present under intraday/<SYM>/ for every replayed day")
    else:
        symbols = [s for s in source.symbols() if set(days) <= set(source.sessions(s))]
        if not symbols:
            parser.error(f"--date {days[0]}: no symbol has intraday data on every replayed day; pick other dates")
    return source, days, symbols


async def serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    from sim.gateway import GatewaySimulator
    from sim.tws.state_file import StateFileError

    source, days, symbols = source_from_args(args, parser)
    speed = None if args.speed == 0 else args.speed
    held = args.hold_until_client  # the clock waits at the pre-open for the first client
    start = session_bounds(days[0])[0] - HOLD_LEAD if held else None
    try:
        sim = GatewaySimulator.build(
            source, days[0], symbols, days=days, speed=None if held else speed, start=start,
            cash=args.cash, account_id=args.account,
            second_account=args.second_account, second_positions=args.second_positions,
            state_path=args.state, host=args.host, port=args.port, admin_port=args.admin_port,
            master_client_id=args.master_client_id, skip_nights=args.skip_nights,
            realism=args.realism,
        )
    except StateFileError as exc:
        parser.error(str(exc))
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    try:
        await sim.start()
    except OSError as exc:
        parser.error(f"--port {args.port}: cannot listen on {args.host} ({exc.strerror}); pick another port")
    admin = f" (admin {args.host}:{sim.admin_port})" if sim.admin_port is not None else ""
    pace = "stepping" if speed is None else f"{speed:g}x real time"
    span = str(days[0]) if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} sessions)"
    accounts = ",".join(sim.managed_accounts())
    timing = "IB's timing" if args.realism.enabled else "instant answers"
    print(
        f"IB Gateway simulator listening on {args.host}:{sim.port}{admin}, replaying {span} "
        f"{','.join(symbols)} at {pace}, account {accounts}, {timing}",
        flush=True,
    )
    print(f"simulator id {sim.simulator_id}: a bot files its records of this simulator under "
          f"sim_runs/{sim.simulator_id}/", flush=True)
    release = None
    if held and speed is not None:  # sim/clock_hold.py
        hold = ClockHold(sim, speed, say=lambda line: print(line, flush=True))
        sim.request_observers.append(hold.observe)
        print(f"clock held at {sim.now():%Y-%m-%d %H:%M} until the first API client is ready to "
              f"trade (live data or an order, or {GRACE_S:g} s connected)", flush=True)
        release = asyncio.get_running_loop().create_task(hold.run())
    await stopped.wait()
    if release is not None:
        release.cancel()
    await sim.stop()


def run(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parse_args(argv)
    asyncio.run(serve(args, parser))
    return 0


if __name__ == "__main__":
    sys.exit(run())
