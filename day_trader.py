#!/usr/bin/env python3
"""Intraday VWAP momentum day trader for Interactive Brokers: command line and wiring only.

    python day_trader.py --allocation 0.25 --sim          # a simulated day, about a minute long
    python day_trader.py --allocation 0.25 --port 4002    # IB Gateway paper account

Settings come from defaults < .env < environment < these flags (see trade/config.py and
.env.example). Argument errors are one line naming the flag and the fix, exit code 2.
Heavy modules (pandas, ib_async, the simulator) are imported inside `run` only, so `--help` and
argument errors answer instantly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from trade import cli
from trade.config import ConfigError, Settings, load_settings, option_fix
from ui.status.cli import add_status_flags, status_config

BOT = "day_trader"
DEFAULT_SPEED = 400.0  # a 390-minute session in about one minute of wall time
DEFAULT_SIM_SEED = 7


def build_parser() -> cli.OneLineArgumentParser:
    parser = cli.OneLineArgumentParser(
        prog="day_trader.py",
        description=(
            "Intraday VWAP momentum day trader. Trades the watchlist with bracket orders during "
            "the NYSE session, stops new entries 30 min before the close and flattens 5 min "
            "before it (12:55 on half days). A symbol is bought when a 1-minute bar closes above "
            "VWAP(20) with RSI(14) below 60, if its daily ATR(14) is above 1.5% of the previous "
            "close (a volatility screen fixed before the open; \"atr_timeframe\": \"1 min\" "
            "reads each minute's ATR instead) and no exit of it lies within cooldown_minutes "
            "(default 0). Change these per symbol in the watchlist's overrides, for all in .env "
            "(STRATEGY_*), or for one run with --params."
        ),
        epilog=cli.SETTINGS_EPILOG,
    )

    def fix(name: str) -> str:
        return option_fix(name, BOT)

    money = parser.add_argument_group("money and safety")
    cli.add_flag(
        money,
        "--allocation",
        required=True,
        metavar="FRACTION",
        fix=fix("allocation"),
        help="fraction of net liquidation the bot may use, in (0, 1], e.g. 0.25 (required)",
    )
    cli.add_flag(
        money,
        "--watchlist",
        metavar="PATH",
        fix=fix("watchlist_path"),
        help="watchlist JSON (default: day_trading_watchlist.json, or WATCHLIST_PATH)",
    )
    cli.add_flag(
        money,
        "--params",
        metavar="FILE.json",
        fix='a JSON file such as {"profit_target": 0.02}',
        help="strategy parameters for this run only (a JSON object of parameter -> value); "
        "replaces the tuned parameters the nightly cycle scheduled for today",
    )
    cli.add_flag(
        money,
        "--no-improve",
        dest="improve",
        action="store_false",
        help="skip the after-close improvement cycle (metrics, LLM insights, regime, "
        "replay-validated tuning, A/B test; report in reports/improvement/)",
    )
    cli.add_connection_flags(
        parser, fix, "API client id, unique per bot (default: 2, or IB_CLIENT_ID)"
    )
    sim = parser.add_argument_group("simulator")
    cli.add_flag(
        sim,
        "--sim",
        action="store_true",
        default=None,
        help="start the built-in IB Gateway simulator in-process and trade against it",
    )
    cli.add_flag(
        sim,
        "--sim-data",
        metavar="DIR",
        fix=fix("sim_data_dir"),
        help="market data directory (default: ../shared/data, or SIM_DATA_DIR)",
    )
    cli.add_flag(
        sim,
        "--sim-date",
        metavar="YYYY-MM-DD",
        type=cli.iso_date,
        fix=cli.DATE_FIX,
        help="replay this real session from --sim-data (default: a synthetic day)",
    )
    cli.add_flag(
        sim,
        "--sim-from",
        metavar="YYYY-MM-DD",
        type=cli.iso_date,
        fix=cli.DATE_FIX,
        help="with --sim-to: trade consecutive sessions through one simulator, the nightly "
        "cycle after each close (real sessions with --sim-data, else synthetic)",
    )
    cli.add_flag(
        sim,
        "--sim-to",
        metavar="YYYY-MM-DD",
        type=cli.iso_date,
        fix=cli.DATE_FIX,
        help="the last session of a --sim-from range",
    )
    cli.add_flag(
        sim,
        "--sim-seed",
        metavar="N",
        type=cli.seed,
        fix=cli.SEED_FIX,
        help=f"seed of the synthetic day (default: {DEFAULT_SIM_SEED})",
    )
    cli.add_flag(
        sim,
        "--speed",
        metavar="N",
        type=cli.speed,
        fix=cli.SPEED_FIX,
        help=f"simulator clock speed, x real time (default: {DEFAULT_SPEED:g}: "
        "a whole session in about a minute)",
    )
    cli.add_records_flags(parser, fix)
    add_status_flags(parser)
    return parser


def parse_args(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> tuple[Settings, argparse.Namespace]:
    """Parse and validate; exits 2 with one line on any bad argument or setting."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, given in (
        ("--sim-data", args.sim_data),
        ("--sim-date", args.sim_date),
        ("--sim-from", args.sim_from),
        ("--sim-to", args.sim_to),
        ("--sim-seed", args.sim_seed),
        ("--speed", args.speed),
    ):
        if given is not None and not args.sim:
            parser.error(f"{flag} needs --sim: add --sim to run against the simulator")
    if args.live and args.sim:
        parser.error("--live cannot be combined with --sim: drop --live to simulate")
    if (args.sim_from is None) != (args.sim_to is None):
        parser.error("--sim-from and --sim-to go together: give both dates of the range")
    if args.sim_from is not None:
        if args.sim_date is not None:
            parser.error("--sim-date cannot be combined with --sim-from/--sim-to: use one or the other")
        if args.sim_to < args.sim_from:
            parser.error(f"--sim-to {args.sim_to} is before --sim-from {args.sim_from}: swap them")
    try:
        settings = load_settings(
            cli={
                "allocation": args.allocation,
                "live": args.live,
                "sim": args.sim,
                "watchlist_path": args.watchlist,
                "ib_host": args.host,
                "ib_port": args.port,
                "ib_client_id": args.client_id,
                "ib_account": args.account,
                "sim_data_dir": args.sim_data,
                "db_path": args.db,
                "log_level": args.log_level,
            },
            env=env,
            dotenv_path=dotenv_path,
            bot=BOT,
        )
    except ConfigError as exc:
        parser.error(str(exc))
    if args.sim_data is not None and not settings.sim_data_dir.is_dir():
        parser.error(
            f"--sim-data {args.sim_data} is invalid: use an existing directory holding "
            "intraday/<SYM>/<YYYY-MM-DD>.csv files"
        )
    args.status = status_config(args, settings.logs_dir, parser)
    if args.sim_seed is None:
        args.sim_seed = DEFAULT_SIM_SEED
    if args.speed is None:
        args.speed = DEFAULT_SPEED
    return settings, args


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Wire one trading day: logging, tracing, the simulator when `--sim`, the trading day.

    Exit codes: 0 done (or nothing to do today), 1 the Gateway/DB failed us, 2 bad input or a
    refusal to trade (malformed watchlist, unknown symbol, live account without --live).
    Heavy modules are imported here so `--help` and argument errors stay instant.
    """
    import asyncio
    import dataclasses
    import logging
    import signal

    from improvement import params_store
    from observability import log_clock
    from observability.history import HistoryDBError
    from observability.tracing import TracingConfigError, setup_tracing
    from trade.broker import Broker, BrokerError, UnknownAccount
    from trade.ib.connection import ConnectionFailed
    from trade.ib.session import ib_broker
    from trade.intraday.day_session import DayResult, StartupRefused, run_trading_day
    from trade.intraday.summary import no_entry_table, result_line
    from trade.intraday.trader import IntradayTrader
    from trade.watchlist import WatchlistError, load_watchlist
    from ui.status.launch import StatusPage

    log_format = log_clock.install(settings.log_level)  # market time once the broker is known
    # ib_async logs routine events (an OCA sibling's 202 "Order Canceled") as ERROR; IBBroker
    # logs IB errors itself at their true weight, so the library's own log is kept for crashes.
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    logging.getLogger("sim").setLevel(max(logging.WARNING, logging.getLogger().level))
    gateway = None
    defaults = settings  # the configured parameters: the nightly cycle tunes on top of them
    days = _simulated_days(args) if settings.sim else [_today()]
    if not days:
        return _fail(f"--sim-from {args.sim_from} --sim-to {args.sim_to}: no NYSE session in "
                     "that range: pick trading days", 2)
    day = days[0]
    try:
        today = params_store.day_params(settings.db_path, day, settings.params, args.params)
    except params_store.ParamsFileError as exc:
        return _fail(str(exc), 2)
    except HistoryDBError as exc:
        return _fail(str(exc), 1)
    if today.source != params_store.DEFAULTS:
        print(f"day_trader: parameters for {day}: {today.source}", flush=True)
    settings = dataclasses.replace(settings, params=today.params)
    after_day: dict[str, object] = {}
    try:
        tracing_handle = setup_tracing("day-trader")
    except TracingConfigError as exc:
        return _fail(str(exc), 2)
    try:
        if settings.sim:
            from sim.launch import SimulatorSetupError, start_simulator

            try:
                watchlist = load_watchlist(settings.watchlist_path, settings.params)
                gateway = start_simulator(  # the clock waits for the bot: see on_trader
                    watchlist.symbols, days=days, speed=None,
                    data_dir=settings.sim_data_dir if _replays(args) else None,
                    seed=args.sim_seed,
                )
            except (WatchlistError, SimulatorSetupError) as exc:
                return _fail(str(exc), 2)
            span = f"{days[0]}..{days[-1]}" if len(days) > 1 else f"{day}"
            source = f"replay of {span}" if _replays(args) else f"synthetic {span}, seed {args.sim_seed}"
            print(f"day_trader: simulator on 127.0.0.1:{gateway.port} ({source}, x{args.speed:g})",
                  flush=True)
            settings = dataclasses.replace(settings, ib_host="127.0.0.1", ib_port=gateway.port)

        async def main_async() -> int:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            watchlist = load_watchlist(settings.watchlist_path, settings.params)  # before connecting
            page = StatusPage(args.status, say=lambda line: print(f"day_trader: {line}", flush=True))
            pacing: set[asyncio.Task[None]] = set()

            async def on_trader(trader: IntradayTrader) -> None:
                log_format.clock = trader.broker.now
                if gateway is not None:  # started and warmed up: the simulated day may begin
                    from improvement.sim_days import pace_the_flatten

                    def clock(speed: float | None) -> None:
                        gateway.call(gateway.sim.set_speed, speed)

                    clock(args.speed)
                    pacing.add(loop.create_task(
                        pace_the_flatten(trader, clock, args.speed, gateway.sim.now)))
                actions = trader.run_log.extra.setdefault("control_actions", [])
                await page.start(trader, on_control=actions.append, clock=trader.broker.now)

            async with ib_broker(settings.ib_host, settings.ib_port, settings.ib_client_id,
                                 settings.ib_account or "") as broker:
                if len(days) > 1:
                    return await _several_days(broker, stop)
                try:
                    result = await run_trading_day(settings, watchlist, broker, stop,
                                                   variant=today.variant, on_trader=on_trader)
                finally:
                    await page.stop()
                if args.improve and result.run_log is not None:
                    from improvement import nightly

                    after_day.update(await nightly.collect_after_close(broker, result.run_log))
            if result.run_log is not None:
                for line in [result_line(result.run_log), *no_entry_table(result.run_log)]:
                    print(f"day_trader: {line}", flush=True)
                traded.append(result)
            print(f"day_trader: {result.message}", flush=True)
            return 0

        async def _several_days(broker: Broker, stop: asyncio.Event) -> int:
            from improvement import sim_days

            assert gateway is not None

            async def on_trader(trader: IntradayTrader) -> None:
                log_format.clock = trader.broker.now

            async def step_to(moment: datetime) -> None:  # a weekend is thousands of pumps
                await asyncio.to_thread(gateway.call, gateway.sim.step_to, moment, timeout=300.0)

            sessions = await sim_days.trade_sessions(
                settings, defaults, days, broker,
                lambda speed: gateway.call(gateway.sim.set_speed, speed), step_to, args.speed, stop,
                replayed=_replays(args), sim_seed=args.sim_seed, params_file=args.params,
                improve=args.improve, say=lambda line: print(f"day_trader: {line}", flush=True),
                on_trader=on_trader, market_now=gateway.sim.now)
            for session in sessions:
                result = session["result"]
                if result.run_log is not None:
                    print(f"day_trader: {result_line(result.run_log)}", flush=True)
                    traded.append(result)
            return 0

        traded: list[DayResult] = []
        try:
            code = asyncio.run(main_async())
        except (WatchlistError, StartupRefused, UnknownAccount) as exc:
            return _fail(str(exc), 2)
        except (ConnectionFailed, HistoryDBError, BrokerError) as exc:
            return _fail(str(exc), 1)
        for done in traded:  # the records of a simulator went to the sim DB and logs/sim
            settings = dataclasses.replace(settings, db_path=done.db_path or settings.db_path,
                                           logs_dir=done.logs_dir or settings.logs_dir)
            defaults = dataclasses.replace(defaults, db_path=settings.db_path,
                                           logs_dir=settings.logs_dir)
        if code == 0 and after_day:
            code = _improve(defaults, after_day, args)
        for done in traded:  # after the cycle, so the report shows what it decided
            assert done.run_log is not None
            _write_day_report(settings, done.run_log.day)
        return code
    finally:
        tracing_handle.shutdown()
        if gateway is not None:
            gateway.stop()


def _improve(defaults: Settings, after_day: dict[str, object], args: argparse.Namespace) -> int:
    """The nightly improvement cycle on the day just traded; a failure is one line, exit 1."""
    from observability.history import HistoryDBError
    from trade.watchlist import WatchlistError

    print("day_trader: nightly improvement cycle (replaying recent sessions)...", flush=True)
    from improvement import nightly
    from improvement.cycle import CycleError

    try:
        outcome = nightly.run_after_close(defaults, after_day, sim_date=args.sim_date,
                                          sim_seed=args.sim_seed)
    except (CycleError, HistoryDBError, WatchlistError) as exc:
        return _fail(f"improvement cycle: {exc}", 1)
    print(f"day_trader: {nightly.summary_line(outcome)}", flush=True)
    return 0


def _write_day_report(settings: Settings, day: date) -> None:
    """The day's HTML report after the close; a failure is one line, never a failed day."""
    from ui.day_inputs import ReportInputError
    from ui.day_report import build_report

    try:
        path = build_report(day, settings.db_path, settings.logs_dir, settings.reports_dir)
    except (ReportInputError, OSError) as exc:
        print(f"day_trader: day report not written: {exc}", flush=True)
        return
    print(f"day_trader: day report written to {path}", flush=True)


def _replays(args: argparse.Namespace) -> bool:
    """Real sessions from --sim-data (a --sim-date, or a range with --sim-data), else synthetic."""
    return args.sim_date is not None or (args.sim_from is not None and args.sim_data is not None)


def _simulated_days(args: argparse.Namespace) -> list[date]:
    """The sessions a --sim run trades: a range, the --sim-date, or the last completed one."""
    from trade.calendar import MarketCalendar

    if args.sim_from is not None:
        return [s.date for s in MarketCalendar().sessions_between(args.sim_from, args.sim_to)]
    return [args.sim_date or _last_completed_session()]


def _fail(message: str, code: int) -> int:
    print(f"day_trader.py: error: {message}", file=sys.stderr, flush=True)
    return code


def _today():  # noqa: ANN202 - date; wall clock is fine in an entry script
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(tz=ZoneInfo("America/New_York")).date()


def _last_completed_session():  # noqa: ANN202 - date; wall clock is fine in an entry script
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from trade.calendar import MarketCalendar

    today = datetime.now(tz=ZoneInfo("America/New_York")).date()
    return MarketCalendar().previous_session(today).date


def main(argv: Sequence[str] | None = None) -> int:
    settings, args = parse_args(argv)
    return run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
