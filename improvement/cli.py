"""`python -m improvement.cycle --date YYYY-MM-DD [--db PATH]`, and the after-close hook the day
trader calls: wiring only (settings, watchlist, data, LLM endpoint -> `run_cycle`).

Bad input is one line on stderr and exit 2 (a date that is not a session, a DB that does not
exist, a day with nothing recorded); a DB that cannot be opened is exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from evaluation.llm import LLMEndpoint
from improvement.cycle import CycleError, CycleInputs, ImprovementOutcome, run_cycle
from improvement.fast_replay import BacktestReplayer
from improvement.gate import GateSettings
from improvement.regime import DEFAULT_SYMBOL, regime_bars
from improvement.replay import ReplayConfig, Replayer
from observability.history import HistoryDBError
from observability.tracing import TracingConfigError, setup_tracing
from sim.market.bar_sources import CsvBarSource
from sim.market.replay import BarSource
from trade.calendar import MarketCalendar
from trade.config import MARKET_DATA_FIX, ConfigError, Settings, load_settings, no_market_data
from trade.intraday.run_log import run_logs_of
from trade.models import Params
from trade.watchlist import Watchlist, WatchlistError, load_watchlist

DEFAULT_EQUITY = 100_000.0
PROG = "python -m improvement.cycle"


def llm_env(dotenv_path: Path | None = Path(".env"),
            environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`.env` < environment, with the settings' LLM_BASE_URL / LLM_MODEL standing in for
    DEEPSEEK_API_BASE / DEEPSEEK_MODEL when those are not set."""
    env: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v})
    env.update(os.environ if environ is None else environ)
    for ours, theirs in (("LLM_BASE_URL", "DEEPSEEK_API_BASE"), ("LLM_MODEL", "DEEPSEEK_MODEL")):
        if not env.get(theirs) and env.get(ours):
            env[theirs] = env[ours]
    return env


def watchlist_overrides(watchlist: Watchlist, defaults: Params) -> dict[str, dict[str, Any]]:
    """Each symbol's own overrides (what differs from the defaults it was loaded over)."""
    base = defaults.as_dict()
    out = {}
    for symbol in watchlist.symbols:
        own = {k: v for k, v in watchlist.params_for(symbol).as_dict().items() if v != base[k]}
        if own:
            out[symbol] = own
    return out


def after_close(settings: Settings, *, day: date, allocation: float, equity: float,
                replay_source: BarSource | None, regime: Sequence[Any] = (),
                env: Mapping[str, str] | None = None, gate: GateSettings | None = None,
                replayer: Replayer | None = None, data_source: str = "") -> ImprovementOutcome:
    """The day trader's hand-over after the close: the cycle on the DB the day used.

    `settings.params` must be the configured defaults (before tuning: the cycle tunes on top of
    them); the watchlist is read again over them so its own per-symbol overrides are known;
    `replay_source` holds the sessions to validate on (None: nothing is validated); a
    `replayer` kept across nights (built by `replayer_for`) reuses its replayed sessions."""
    watchlist = load_watchlist(settings.watchlist_path, settings.params)
    overrides = watchlist_overrides(watchlist, settings.params)
    if replayer is None and replay_source is not None:
        replayer = replayer_for(settings, replay_source, allocation, equity)
    env = llm_env() if env is None else env
    inputs = CycleInputs(
        day=day, base_params=settings.params, symbols=watchlist.symbols, allocation=allocation,
        equity=equity, reports_dir=settings.reports_dir, overrides=overrides, replayer=replayer,
        regime_bars=list(regime), llm=LLMEndpoint.deepseek(env),
        gate=gate or GateSettings(), data_source=data_source,
    )
    return run_cycle(settings.db_path, inputs)


def replayer_for(settings: Settings, source: BarSource, allocation: float,
                 equity: float) -> BacktestReplayer:
    """The backtester's fast engine over `source` for the watchlist (its per-symbol overrides
    kept); `improvement.replay.EventReplayer` (the live trader itself) remains available."""
    watchlist = load_watchlist(settings.watchlist_path, settings.params)
    config = ReplayConfig(allocation=allocation, equity=equity,
                          daily_loss_pct=settings.daily_loss_cap_pct / 100.0,
                          max_open_positions=settings.max_open_positions)
    return BacktestReplayer(source, watchlist.symbols, config,
                            watchlist_overrides(watchlist, settings.params))


def summary_line(outcome: ImprovementOutcome) -> str:
    r = outcome.report
    b = [s for s in r["suggestions"] if s.get("challenger")]
    tested = sum(bool(s.get("validation") and s["validation"].get("test"))
                 for s in r["suggestions"])
    ab = r["ab_test"]
    if ab["status"] == "promote" and ab.get("test"):
        t = ab["test"]
        change = (f"promoted {t['parameter']} {t['a'].get(t['parameter'])} -> "
                  f"{t['b'].get(t['parameter'])} (A/B test {t['id']} confirmed)")
    elif b:
        change = "challenger B " + ", ".join(f"{s['parameter']} {s['old']} -> {s['new']}"
                                             for s in b)
    else:
        change = "no change"
    again = " (already ran: nothing changed)" if outcome.already_ran else ""
    regime = r["regime"]["name"]
    if regime == "unknown":
        regime = f"UNKNOWN ({r['regime']['reason']})"
    window = r.get("window") or {}
    return (f"improvement cycle {r['date']}{again}: {len(r['suggestions'])} suggestions, "
            f"{tested} tested on {window.get('coverage', '?')}, {change}; LLM "
            f"{r['llm']['status']}; regime {regime}; A/B {ab['status']}; next session "
            f"{r['next_session']}{' variant ' + r['next_variant'] if r['next_variant'] else ''}"
            f"; report {outcome.path}")


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
