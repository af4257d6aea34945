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
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Final

from trade import cli
from trade.config import ConfigError, Settings, load_settings, no_market_data, option_fix
from ui.status.cli import add_status_flags, status_config

if TYPE_CHECKING:  # heavy modules: imported for real inside run() only
    import asyncio

    from observability.alerts.notifier import Notifier
    from observability.log_clock import MarketTimeFormatter
    from sim.launch import SimulatorHandle
    from trade.broker import Broker
    from trade.intraday.day_session import TradingDayResult
    from trade.intraday.trader import IntradayTrader
    from ui.status.launch import StatusPage

BOT: Final = "day_trader"
PROG = "day_trader.py"
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
        metavar="FRACTION",
        fix=fix("allocation"),
        help="fraction of net liquidation the bot may use, in (0, 1], e.g. 0.25 (required, "
        "except with --preflight)",
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
        "--adopt",
        action="append",
        type=cli._type(cli.ADOPT_FIX, cli.adopt_request),
        metavar="SYMBOL[:QTY]",
        fix=cli.ADOPT_FIX,
        help="give the bot shares it did not buy itself (your own, bought by hand) to protect "
        "and flatten as its own: all of SYMBOL's shares no book records, or QTY of them; the bot "
        "otherwise never touches shares it cannot prove it bought",
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
        fix=fix("market_data_dir"),
        help="market data directory (default: MARKET_DATA_DIR)",
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
    cli.add_flag(
        parser.add_argument_group("paper-account preflight"),
        "--preflight",
        nargs="?",
        const="SPY",
        metavar="SYMBOL",
        type=cli.symbol,
        fix=cli.SYMBOL_FIX,
        help="instead of trading: prove on the IB paper account, with one share of SYMBOL "
        "(default SPY) during regular hours, the broker behaviours the bot relies on; one line "
        "per step, a record in the logs directory that the bot's start reads (client id 9 "
        "unless --client-id)",
    )
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
    if args.preflight is not None and (args.sim or args.live):
        parser.error(f"--preflight cannot be combined with {'--sim' if args.sim else '--live'}: "
                     "it proves an IB paper account (the simulator needs none): drop it")
    if args.preflight is None and args.allocation is None:
        parser.error("the following arguments are required: --allocation")
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
                "market_data_dir": args.sim_data,
                "db_path": args.db,
                "log_level": args.log_level,
                "alert_urls": args.alert_url,
                "alert_mute": args.alert_mute,
            },
            env=env,
            dotenv_path=dotenv_path,
            bot=BOT,
        )
    except ConfigError as exc:
        parser.error(str(exc))
    if args.sim_date is not None and settings.market_data_dir is None:
        parser.error(no_market_data("--sim-data DIR"))
    if args.sim_data is not None and not Path(args.sim_data).expanduser().is_dir():
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
    """Wire one trading day (or a --sim-from/--sim-to range): logging, tracing, the simulator
    when `--sim`, the trading day, then the nightly cycle and the day report.

    Exit codes (trade/startup.py): 0 done (or nothing to do today), 1 the Gateway/DB failed us,
    2 bad input or a refusal to trade. Heavy modules are imported here so `--help` and argument
    errors stay instant.
    """
    from observability.alerts import events as ev
    from observability.alerts.notifier import open_notifier
    from trade import startup

    if args.preflight is not None:  # the paper-account preflight instead of a trading day
        from trade.ib.preflight.command import run_command

        client_id = settings.ib_client_id if args.client_id is not None else None
        return startup.guarded(PROG, lambda: run_command(
            settings, symbol=args.preflight, client_id=client_id, say=_say))
    log_format = startup.install_logging(settings.log_level)  # market time once connected
    # docs/alerts.md; flushed on every way out. Where they go is said once the run has checked
    # its input (a refused argument is one line and nothing else)
    alerts = open_notifier(settings.alerts, say=_ALERTS_LINE.append)
    try:
        return startup.guarded(PROG, lambda: _run(settings, args, alerts, log_format), alerts,
                               ev.DAY_TRADER)
    finally:
        alerts.close()


@dataclass
class _Traded:
    """What the trading part of a run hands to the after-close part."""

    results: list[TradingDayResult] = field(default_factory=list)  # per session traded
    after_day: dict[str, object] = field(default_factory=dict)  # for the nightly cycle


def _run(settings: Settings, args: argparse.Namespace, alerts: Notifier,
         log_format: MarketTimeFormatter) -> int:
    import asyncio
    import dataclasses

    from improvement import params_store
    from trade import records_routing, startup

    days = _simulated_days(args) if settings.sim else [_today()]
    if not days:
        raise startup.Refused(f"--sim-from {args.sim_from} --sim-to {args.sim_to}: no NYSE "
                              "session in that range: pick trading days")
    sim_id = records_routing.new_simulator_id() if settings.sim else None
    if sim_id is not None:  # a fresh simulator starts flat: so do its records (their namespace)
        settings = records_routing.simulator_records(settings, sim_id).apply(settings)
    today = params_store.day_params(settings.db_path, days[0], settings.params, args.params)
    if today.source != params_store.DEFAULTS:
        print(f"day_trader: parameters for {days[0]}: {today.source}", flush=True)
    if today.losing:  # the last nightly review measured these parameters losing: said first
        print(f"day_trader: WARNING {today.losing}", flush=True)
    run_settings = dataclasses.replace(settings, params=today.params)
    with startup.tracing("day-trader"), _simulator(run_settings, args, days, sim_id) as simulator:
        if simulator is not None:
            run_settings = dataclasses.replace(run_settings, ib_host=simulator.host,
                                               ib_port=simulator.port)
        traded = asyncio.run(_trade(run_settings, settings, args, days, today.variant,
                                    simulator, log_format, alerts))
    return _after_close(settings, traded, args, alerts)


@contextmanager
def _simulator(settings: Settings, args: argparse.Namespace, days: list[date],
               sim_id: str | None = None) -> Iterator[SimulatorHandle | None]:
    """The in-process simulator for `--sim` (its clock held until the bot has started), or
    None; stopped on every way out."""
    if not settings.sim:
        yield None
        return
    from sim.launch import start_simulator
    from trade.watchlist import load_watchlist

    watchlist = load_watchlist(settings.watchlist_path, settings.params)
    simulator = start_simulator(watchlist.symbols, days=days, speed=None,
                                data_dir=settings.market_data_dir if _replays(args) else None,
                                seed=args.sim_seed, simulator_id=sim_id)
    try:
        span = f"{days[0]}..{days[-1]}" if len(days) > 1 else f"{days[0]}"
        source = f"replay of {span}" if _replays(args) else f"synthetic {span}, seed {args.sim_seed}"
        print(f"day_trader: simulator on {simulator.host}:{simulator.port} ({source}, "
              f"x{args.speed:g})", flush=True)
        yield simulator
    finally:
        simulator.stop()


async def _trade(settings: Settings, defaults: Settings, args: argparse.Namespace,
                 days: list[date], variant: str, simulator: SimulatorHandle | None,
                 log_format: MarketTimeFormatter, alerts: Notifier) -> _Traded:
    """Connect and trade the day (or the range: `defaults` are the configured parameters the
    nightly cycles tune on top of); what the nightly cycle needs is collected while the
    connection is still open."""
    import asyncio

    from trade import startup
    from trade.ib.session import ib_broker
    from trade.intraday.day_session import run_trading_day
    from trade.intraday.summary import no_entry_table, open_lines, result_line
    from trade.watchlist import load_watchlist
    from ui.status.launch import StatusPage

    stop = asyncio.Event()
    startup.stop_on_signals(stop)
    watchlist = load_watchlist(settings.watchlist_path, settings.params)  # before connecting
    for line in _ALERTS_LINE:
        _say(line)
    traded = _Traded()
    async with ib_broker(settings.ib_host, settings.ib_port, settings.ib_client_id,
                         settings.ib_account or "") as broker:
        if len(days) > 1:
            traded.results = await _several_days(settings, defaults, args, days, broker,
                                                 simulator, stop, log_format)
            return traded
        page = StatusPage(args.status, say=_say)
        try:
            result = await run_trading_day(
                settings, watchlist, broker, stop, variant=variant,
                on_trader=_when_started(args, simulator, page, log_format, alerts), alerts=alerts,
                adopt=dict(args.adopt or []))
        finally:
            await page.stop()
        if args.improve and result.run_log is not None:
            if result.run_log.stopped_by == "close":  # the day is over: reviewed from all its runs
                from improvement import nightly

                traded.after_day = await nightly.collect_after_close(broker, result.run_log)
            else:
                _say("nightly cycle not run: an interrupted run is not the whole day (it runs "
                     "after the close of a run that reaches it, or by hand: python -m "
                     "improvement.cycle --date " + str(result.run_log.day) + ")")
    if result.run_log is not None:
        for line in [result_line(result.run_log), *open_lines(result.run_log),
                     *no_entry_table(result.run_log)]:
            _say(line)
        traded.results.append(result)
    _say(result.message)
    return traded


def _when_started(args: argparse.Namespace, simulator: SimulatorHandle | None, page: StatusPage,
                  log_format: MarketTimeFormatter,
                  alerts: Notifier) -> Callable[[IntradayTrader], Awaitable[None]]:
    """What happens once the trader has started and warmed up: log lines in market time, the
    simulated day may begin (paced slower over the flatten), the status page opens."""
    import asyncio

    pacing: set[asyncio.Task[None]] = set()

    async def started(trader: IntradayTrader) -> None:
        log_format.clock = trader.broker.now
        if simulator is not None:
            simulator.set_speed(args.speed)
            pacing.add(asyncio.get_running_loop().create_task(
                simulator.pace_the_flatten(trader.session.flatten_at, args.speed)))
        actions = trader.run_log.extra.setdefault("control_actions", [])
        server = await page.start(trader, on_control=actions.append, clock=trader.broker.now)
        if server is not None:
            alerts.set_link(server.url)  # alerts carry the page's address, never its token
    return started


async def _several_days(settings: Settings, defaults: Settings, args: argparse.Namespace,
                        days: list[date], broker: Broker, simulator: SimulatorHandle | None,
                        stop: asyncio.Event, log_format: MarketTimeFormatter) -> list[TradingDayResult]:
    """A --sim-from/--sim-to range through the one simulator (improvement/sim_days.py)."""
    from improvement import sim_days
    from trade.intraday.summary import result_line

    assert simulator is not None, "a range of days is simulated"

    async def started(trader: IntradayTrader) -> None:
        log_format.clock = trader.broker.now

    sessions = await sim_days.trade_sessions(
        settings, defaults, days, broker, simulator, args.speed, stop,
        replayed=_replays(args), sim_seed=args.sim_seed, params_file=args.params,
        improve=args.improve, say=_say, on_trader=started)
    results = []
    for session in sessions:
        result = session["result"]
        if result.run_log is not None:
            _say(result_line(result.run_log))
            results.append(result)
    return results


def _after_close(settings: Settings, traded: _Traded, args: argparse.Namespace,
                 alerts: Notifier) -> int:
    """The nightly cycle and the day reports, on the records the day used (a simulator's are in
    its own namespace, trade/records_routing.py)."""
    import dataclasses

    from observability.alerts import events as ev

    code = 0
    defaults = settings  # the configured parameters: the nightly cycle tunes on top of them
    for done in traded.results:
        defaults = dataclasses.replace(defaults, db_path=done.db_path or defaults.db_path,
                                       logs_dir=done.logs_dir or defaults.logs_dir,
                                       reports_dir=done.reports_dir or defaults.reports_dir)
    if traded.after_day:
        code = _improve(defaults, traded.after_day, args, alerts)
    for done in traded.results:  # after the cycle, so the report shows what it decided
        log = done.run_log
        if log is not None:
            report = _write_day_report(defaults, log.day)
            alerts.notify(ev.day_end(ev.DAY_TRADER, log.day, log.realized_pnl, len(log.trades),
                                     log.flat_at, report=str(report) if report else None))
    lost = [done for done in traded.results if done.unrecorded]
    if lost:  # trading went on; the records did not all land: say where they are, exit 1
        from trade.startup import EXIT_FAILED, fail

        code = EXIT_FAILED
        for done in lost:
            fail(PROG, f"{done.unrecorded} record(s) could not be written to the history DB "
                       f"{done.db_path}: they are listed in the run log {done.log_path} "
                       "(`unrecorded`)", EXIT_FAILED)
    return code


def _say(line: str) -> None:
    print(f"day_trader: {line}", flush=True)


_ALERTS_LINE: list[str] = []  # where alerts go, said once the input is checked


def _improve(defaults: Settings, after_day: dict[str, object], args: argparse.Namespace,
             alerts: Notifier) -> int:
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
        from trade.startup import EXIT_FAILED, fail

        return fail(PROG, f"improvement cycle: {exc}", EXIT_FAILED)
    line = nightly.summary_line(outcome)
    earned = outcome.report.get("expectancy") or {}
    if earned.get("line"):  # the report's headline: a losing strategy is said first
        print(f"day_trader: WARNING {earned['line']}", flush=True)
    print(f"day_trader: {line}", flush=True)
    from observability.alerts import events as ev

    day = after_day.get("day")
    if isinstance(day, date):
        alerts.notify(ev.nightly_decision(ev.DAY_TRADER, day, line))
    return 0


def _write_day_report(settings: Settings, day: date) -> Path | None:
    """The day's HTML report after the close; a failure is one line, never a failed day."""
    from ui.day_inputs import ReportInputError
    from ui.day_report import build_report

    try:
        path = build_report(day, settings.db_path, settings.logs_dir, settings.reports_dir)
    except (ReportInputError, OSError) as exc:
        print(f"day_trader: day report not written: {exc}", flush=True)
        return None
    print(f"day_trader: day report written to {path}", flush=True)
    return Path(path)


def _replays(args: argparse.Namespace) -> bool:
    """Real sessions from --sim-data (a --sim-date, or a range with --sim-data), else synthetic."""
    return args.sim_date is not None or (args.sim_from is not None and args.sim_data is not None)


def _simulated_days(args: argparse.Namespace) -> list[date]:
    """The sessions a --sim run trades: a range, the --sim-date, or the last completed one."""
    from trade.calendar import MarketCalendar

    if args.sim_from is not None:
        return [s.date for s in MarketCalendar().sessions_between(args.sim_from, args.sim_to)]
    return [args.sim_date or _last_completed_session()]


def _today() -> date:
    """Today in New York: the wall clock is fine in an entry script (the core never reads it)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(tz=ZoneInfo("America/New_York")).date()


def _last_completed_session() -> date:
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
