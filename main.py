#!/usr/bin/env python3
"""Weekly portfolio rebalancer and its scheduler: command line and wiring only.

    python main.py --run-days Monday Thursday                # WEEKLY_ALLOCATION from .env
    python main.py --allocation 0.5 --run-days mon thu --run-time 10:30 --interval 60
    python main.py --allocation 0.5 --once --dry-run         # one cycle now, no orders
    python main.py --allocation 0.5 --sim --sim-date 2019-02-11 --once
    python main.py --allocation 0.4 --with-day-trader --allocation-day 0.3   # both bots, one connection

Settings come from defaults < .env < environment < these flags (see trade/config.py and
.env.example); `--allocation` may come from WEEKLY_ALLOCATION instead. Argument errors are one line
naming the flag and the fix, exit code 2. Heavy modules are imported inside `run` only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from trade import allocation, cli
from trade.config import ConfigError, Settings, load_settings, no_market_data, option_fix

if TYPE_CHECKING:  # heavy modules: imported for real inside run() only
    from observability.alerts.notifier import Notifier
    from observability.log_clock import MarketTimeFormatter
    from observability.tracing import TracingHandle
    from sim.launch import SimulatorHandle
    from trade.portfolio.universe import Universe
    from trade.watchlist import Watchlist

BOT: Final = "weekly"
PROG = "main.py"
DEFAULT_RUN_DAYS = ("Monday",)
DEFAULT_RUN_TIME = time(10, 0)
DEFAULT_SPEED = 400.0
DEFAULT_SIM_SEED = 7
WEEKEND = ("Saturday", "Sunday")
INTERVAL_FIX = "whole minutes 1-390, e.g. 60"


def _interval(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 390:
        raise ValueError(text)
    return value


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
    cli.add_flag(when, "--run-days", nargs="+", metavar="DAY", type=cli.weekday,
                 fix=cli.WEEKDAY_FIX,
                 help="weekdays to run on, case-insensitive, e.g. Monday Thursday (default: "
                 "Monday); holidays are skipped, weekends refused")
    cli.add_flag(when, "--run-time", metavar="HH:MM", type=cli.hh_mm, fix=cli.TIME_FIX,
                 help=f"New York time of the cycle (default: {DEFAULT_RUN_TIME:%H:%M})")
    cli.add_flag(when, "--interval", metavar="MINUTES", type=cli._type(INTERVAL_FIX, _interval),
                 fix=INTERVAL_FIX,
                 help="after the cycle, re-check every N minutes until the close: finish "
                 "unfilled orders, rebalance names that drifted out of the band")
    cli.add_flag(when, "--once", action="store_true",
                 help="run one cycle now and exit (no scheduler)")
    money = parser.add_argument_group("money and safety")
    cli.add_flag(money, "--allocation", metavar="FRACTION",
                 fix=fix("allocation") + " (or set WEEKLY_ALLOCATION)",
                 help="fraction of net liquidation for the weekly book, in (0, 1] "
                 "(required unless WEEKLY_ALLOCATION is set)")
    cli.add_flag(money, "--dry-run", action="store_true",
                 help="analyse and report the rebalance, but place no orders")
    cli.add_flag(money, "--universe", metavar="PATH", fix=fix("universe_path"),
                 help="universe JSON: symbols and rules (default: weekly_universe.json, or "
                 "WEEKLY_UNIVERSE_PATH)")
    cli.add_flag(money, "--force-online", action="store_true",
                 help="ask DeepSeek even while the market is closed (default: a local LLM "
                 "while closed, DeepSeek while open)")
    day = parser.add_argument_group("the day trader in the same process")
    cli.add_flag(day, "--with-day-trader", action="store_true",
                 help="also run the day trader on this connection (its own book)")
    cli.add_flag(day, "--allocation-day", metavar="FRACTION",
                 type=cli._type(allocation.FIX, allocation.parse_allocation),
                 fix="a fraction in (0, 1], e.g. 0.25",
                 help="the day trader's fraction of net liquidation (needs --with-day-trader)")
    cli.add_flag(day, "--watchlist", metavar="PATH", fix=fix("watchlist_path"),
                 help="the day trader's watchlist (default: day_trading_watchlist.json)")
    cli.add_connection_flags(
        parser, fix, "API client id, unique per bot (default: 1, or IB_WEEKLY_CLIENT_ID)"
    )
    sim = parser.add_argument_group("simulator")
    cli.add_flag(sim, "--sim", action="store_true", default=None,
                 help="start the built-in IB Gateway simulator in-process and trade against it")
    cli.add_flag(sim, "--sim-data", metavar="DIR", fix=fix("market_data_dir"),
                 help="market data directory (default: MARKET_DATA_DIR)")
    cli.add_flag(sim, "--sim-date", metavar="YYYY-MM-DD", type=cli.iso_date, fix=cli.DATE_FIX,
                 help="replay this session from the daily files (default: a synthetic day)")
    cli.add_flag(sim, "--sim-seed", metavar="N", type=cli.seed, fix=cli.SEED_FIX,
                 help=f"seed of the synthetic day (default: {DEFAULT_SIM_SEED})")
    cli.add_flag(sim, "--speed", metavar="N", type=cli.speed, fix=cli.SPEED_FIX,
                 help=f"simulator clock speed, x real time (default: {DEFAULT_SPEED:g})")
    cli.add_records_flags(parser, fix)
    cli.add_alert_flags(parser, fix)
    return parser


def parse_args(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> tuple[Settings, argparse.Namespace]:
    """Parse and validate; exits 2 with one line on any bad argument or setting."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, given in (("--sim-data", args.sim_data), ("--sim-date", args.sim_date),
                        ("--sim-seed", args.sim_seed), ("--speed", args.speed)):
        if given is not None and not args.sim:
            parser.error(f"{flag} needs --sim: add --sim to run against the simulator")
    if args.live and args.sim:
        parser.error("--live cannot be combined with --sim: drop --live to simulate")
    weekend = [d for d in args.run_days or () if d in WEEKEND]
    if weekend:
        parser.error(f"--run-days {weekend[0]} is invalid: the market is closed on weekends: "
                     "use Monday to Friday")
    if args.allocation_day is not None and not args.with_day_trader:
        parser.error("--allocation-day needs --with-day-trader: add it to host the day trader")
    if args.with_day_trader and args.allocation_day is None:
        parser.error("--with-day-trader needs --allocation-day: use a fraction in (0, 1], "
                     "e.g. 0.25")
    try:
        settings = load_settings(
            cli={
                "allocation": args.allocation, "live": args.live, "sim": args.sim,
                "ib_host": args.host, "ib_port": args.port, "ib_client_id": args.client_id,
                "ib_account": args.account, "db_path": args.db, "log_level": args.log_level,
                "universe_path": args.universe, "watchlist_path": args.watchlist,
                "market_data_dir": args.sim_data,
                "alert_urls": args.alert_url, "alert_mute": args.alert_mute,
            },
            env=env, dotenv_path=dotenv_path, bot=BOT,
        )
    except ConfigError as exc:
        parser.error(str(exc))
    if settings.allocation is None:
        parser.error(
            "--allocation is required: use a fraction in (0, 1], e.g. 0.5 "
            "(or set WEEKLY_ALLOCATION in .env or the environment)"
        )
    if args.allocation_day is not None and (too_much := allocation.over_total(
            {"--allocation": settings.allocation, "--allocation-day": args.allocation_day})):
        parser.error(too_much)
    if args.sim_date is not None and settings.market_data_dir is None:
        parser.error(no_market_data("--sim-data DIR"))
    if args.sim_data is not None and not Path(args.sim_data).expanduser().is_dir():
        parser.error(f"--sim-data {args.sim_data} is invalid: use an existing directory holding "
                     "daily/<SYM>.csv files")
    # one entry per weekday, in calendar order, whatever order or case they were given in
    days = args.run_days or DEFAULT_RUN_DAYS
    args.run_days = tuple(day for day in cli.WEEKDAYS if day in days)
    args.run_time = args.run_time or DEFAULT_RUN_TIME
    args.sim_seed = DEFAULT_SIM_SEED if args.sim_seed is None else args.sim_seed
    args.speed = args.speed or DEFAULT_SPEED
    return settings, args


def describe(settings: Settings, args: argparse.Namespace) -> list[str]:
    """The plan, printed before anything connects."""
    if args.once:
        when = "one cycle now, then exit"
    else:
        when = f"every {', '.join(args.run_days)} at {args.run_time:%H:%M} New York time"
        if args.interval:
            when += f", re-checked every {args.interval} min until the close"
    where = (
        "the in-process simulator"
        if settings.sim
        else f"IB at {settings.ib_host}:{settings.ib_port} (client id {settings.ib_client_id})"
    )
    orders = "no orders (dry run)" if args.dry_run else "orders"
    account_rule = "any account (--live)" if settings.live else "paper accounts (DU...) only"
    lines = [f"weekly: rebalancing {settings.allocation:.0%} of net liquidation on {where}",
             f"weekly: schedule {when}; {orders}; accounts allowed: {account_rule}"]
    if args.with_day_trader:
        lines.append(f"weekly: hosting the day trader with {args.allocation_day:.0%} on the "
                     "same connection")
    return lines


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Wire the connection, the cycle, the scheduler and (optionally) the day trader.

    Exit codes (trade/startup.py): 0 done, 1 the Gateway or the DB failed, 2 bad input or a
    refusal (universe, watchlist, allocations, a live account without --live, a cycle that
    failed before any order with --once). Heavy modules are imported here so `--help` and
    argument errors stay instant.
    """
    from observability.alerts import events as ev
    from observability.alerts.notifier import open_notifier
    from trade import startup

    for line in describe(settings, args):
        print(line, flush=True)
    log_format = startup.install_logging(settings.log_level)  # market time once connected
    alerts = open_notifier(settings.alerts, say=_say)  # docs/alerts.md; flushed on every way out
    try:
        return startup.guarded(PROG, lambda: _run(settings, args, alerts, log_format), alerts,
                               ev.WEEKLY)
    finally:
        alerts.close()


def _run(settings: Settings, args: argparse.Namespace, alerts: Notifier,
         log_format: MarketTimeFormatter) -> int:
    import asyncio
    import dataclasses

    from trade import startup
    from trade.portfolio.universe import load_universe
    from trade.watchlist import load_watchlist

    universe = load_universe(settings.universe_path)
    watchlist = (load_watchlist(settings.watchlist_path, settings.params)
                 if args.with_day_trader else None)
    symbols = [*universe.symbols, *(watchlist.symbols if watchlist else ())]
    with startup.tracing("weekly-portfolio") as tracing_handle, \
            _simulator(settings, args, symbols) as (simulator, sim_day):
        if simulator is not None:
            settings = dataclasses.replace(settings, ib_host=simulator.host,
                                           ib_port=simulator.port)
        return asyncio.run(_serve(settings, args, universe, watchlist, sim_day,
                                  tracing_handle, log_format, alerts))


@contextmanager
def _simulator(settings: Settings, args: argparse.Namespace,
               symbols: Sequence[str]) -> Iterator[tuple[SimulatorHandle | None, date | None]]:
    """The in-process simulator for `--sim` and the session it replays, or (None, None)."""
    if not settings.sim:
        yield None, None
        return
    from sim.launch import start_daily_simulator

    sim_day = args.sim_date or _last_session(args.run_days if not args.once else None)
    simulator = start_daily_simulator(
        list(dict.fromkeys(symbols)), day=sim_day, speed=args.speed,
        data_dir=settings.market_data_dir if args.sim_date else None, seed=args.sim_seed)
    try:
        source = (f"daily replay of {sim_day}" if args.sim_date
                  else f"synthetic {sim_day}, seed {args.sim_seed}")
        _say(f"simulator on {simulator.host}:{simulator.port} ({source}, x{args.speed:g})")
        yield simulator, sim_day
    finally:
        simulator.stop()


async def _serve(settings: Settings, args: argparse.Namespace, universe: Universe,
                 watchlist: Watchlist | None, sim_day: date | None,
                 tracing_handle: TracingHandle, log_format: MarketTimeFormatter,
                 alerts: Notifier) -> int:
    """Connect, check the account, open the DB, then the schedule (or one cycle) and the hosted
    day trader."""
    import asyncio

    from observability.alerts import events as ev
    from observability.history import HistoryDB
    from trade import startup
    from trade.allocation import AllocationRegistry
    from trade.calendar import MarketCalendar
    from trade.ib.session import ib_broker
    from trade.portfolio.cycle import CycleConfig, CycleFailed, WeeklyCycle
    from trade.portfolio.fmp import FmpClient
    from trade.portfolio.scheduling import RunPlan
    from trade.portfolio.service import (
        DayMemory,
        host_day_trader,
        llm_chooser,
        llm_env,
        one_trading_day,
        run_scheduled,
    )
    from trade.records_routing import records_for

    stop = asyncio.Event()
    startup.stop_on_signals(stop)
    async with ib_broker(settings.ib_host, settings.ib_port, settings.ib_client_id,
                         settings.ib_account or "") as broker:
        log_format.clock = broker.now
        account = await broker.account()
        startup.refuse_live_account(account, settings.live)
        claim = None if account.simulated else AllocationRegistry(settings.logs_dir).claim(
            account.account_id, "weekly bot", settings.allocation or 0.0)
        # the same rule as the day trader's: a simulator's records never reach the real books
        records = records_for(settings, account)
        settings = records.apply(settings)
        _say(records.describe())
        alerts.notify(ev.started(ev.WEEKLY, account.account_id, settings.allocation or 0.0,
                                 paper=account.is_paper, note=_alert_note(args)))
        tracer = tracing_handle.tracer if tracing_handle.enabled else None
        db = HistoryDB.open(settings.db_path, tracer=tracer)
        try:
            calendar = MarketCalendar(flatten_minutes=settings.flatten_minutes,
                                      entry_cutoff_minutes=settings.entry_cutoff_minutes)
            assert settings.allocation is not None, "parse_args guarantees an allocation"
            fmp_key = settings.fmp_api_key
            config = CycleConfig(
                universe=universe, allocation=settings.allocation,
                reports_dir=settings.reports_dir,
                choose_llm=llm_chooser(llm_env(settings), args.force_online),
                fmp=(lambda: FmpClient(fmp_key, settings.fmp_base_url))
                if fmp_key else (lambda: None),
                dry_run=args.dry_run, alerts=alerts)
            cycle = WeeklyCycle(broker, db, config, calendar, stop)
            await cycle.book.sync(broker.now().date())  # before the day trader reconciles
            hosted = None
            if watchlist is not None:
                day_watchlist = watchlist
                hosted = asyncio.create_task(host_day_trader(
                    lambda: one_trading_day(settings, args.allocation_day, day_watchlist, broker,
                                            stop, alerts),
                    broker, calendar, stop, _say, one_day=settings.sim or args.once))
            failed: CycleFailed | None = None
            if args.once:
                try:
                    _say((await cycle.run()).summary)
                except CycleFailed as exc:
                    failed = exc
            else:
                plan = RunPlan(args.run_days, args.run_time,
                               _minutes(args.interval) if args.interval else None)
                until = None
                if sim_day is not None:
                    close = calendar.session(sim_day).close

                    def until() -> bool:
                        return broker.now() >= close

                # the simulator's clock runs hundreds of times faster: beat more often
                await run_scheduled(cycle, plan, calendar, DayMemory(db, args.dry_run), stop,
                                    _say, until=until, beat_s=0.1 if settings.sim else 1.0)
            if hosted is not None:
                await hosted  # a failed weekly cycle leaves the day trader be
            if failed is not None:
                refusal = startup.Refused(f"weekly cycle failed before any order: {failed}")
                refusal.alerted = True  # the cycle's own alert said so
                raise refusal
            return startup.EXIT_DONE
        finally:
            db.close()
            if claim is not None:
                claim.release()


def _say(text: str) -> None:
    print(f"weekly: {text}", flush=True)


def _alert_note(args: argparse.Namespace) -> str:
    """The start alert's plan, short enough for a phone."""
    note = "one cycle now" if args.once else (
        f"runs {', '.join(day[:3] for day in args.run_days)} {args.run_time:%H:%M} ET")
    if args.dry_run:
        note += ", dry run"
    if args.with_day_trader:
        note += f"; day trader {args.allocation_day:.0%}"
    return note


def _minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def _last_session(run_days: Sequence[str] | None) -> date:
    """The simulator's day: the last completed NYSE session (on one of `run_days` if given, so
    a scheduled simulated run has a cycle to run). Wall clock is fine in an entry script."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from trade.calendar import MarketCalendar

    calendar = MarketCalendar()
    day = datetime.now(tz=ZoneInfo("America/New_York")).date()
    for _ in range(30):
        day = calendar.previous_session(day).date
        if not run_days or cli.WEEKDAYS[day.weekday()] in run_days:
            return day
    return day


def main(argv: Sequence[str] | None = None) -> int:
    settings, args = parse_args(argv)
    return run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
