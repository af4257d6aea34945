"""Consecutive sessions traded in-process, each with the parameters the DB schedules for it and
the nightly cycle after each close: the day trader's day-by-day loop over the paper matching
engine, without sockets (what `day_trader.py --sim-from/--sim-to` does through the Gateway
simulator, at full speed).

Each session runs the real day session (`run_trading_day`: account check, watchlist analyst,
`IntradayTrader`, flatten, run log, daily metrics) over `PaperBroker`. The clock is stepped
minute by minute once the trader's loop runs (a quiet session, where the analyst kept nothing,
starts a trader too, so nothing waits for a subscription that never comes), and after every
minute the event loop gets `SETTLE_TURNS` turns with the trader's loop set to a zero real-time
tick, as the backtester's event engine does (sim/backtest/event_engine.py): its health check,
and so the account that sizes an entry, falls on the same minute every run, and two runs give
the same trades to the share. `python -m improvement.paper_days` replays a range of sessions
twice, untuned (defaults all along) and tuned (the cycle after every close), and prints what
the cycle tried each night and why something or nothing changed, and the two P&Ls.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from improvement.after_close import after_close, replayer_for
from improvement.gate import GateSettings
from improvement.params_store import load_day_params
from improvement.regime import DEFAULT_SYMBOL, regime_bars
from sim.backtest.event_engine import REPLAY_THRESHOLDS, SETTLE_TURNS
from sim.engine.exchange import MatchingEngine
from sim.market.bar_sources import CsvBarSource
from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import session_bounds
from sim.paper_broker import PaperBroker
from trade.calendar import MarketCalendar
from trade.config import Settings, load_settings
from trade.intraday.day_session import run_trading_day
from trade.intraday.trader import IntradayTrader
from trade.watchlist import load_watchlist

START_TIMEOUT_S = 60.0
DAY_END_TIMEOUT_S = 60.0


async def trade_paper_day(base: Settings, source: BarSource, day: date,
                          equity: float) -> dict[str, Any]:
    """Trade session `day` as day_trader.py would (the DB's params for it, its A/B variant)
    and return the run log. `base.params` are the configured (untuned) parameters."""
    tuned = load_day_params(base.db_path, day, base.params)
    settings = dataclasses.replace(base, params=tuned.params)
    watchlist = load_watchlist(settings.watchlist_path, settings.params)
    symbols = [s for s in watchlist.symbols if day in source.sessions(s)]
    replay = MarketReplay(source, ReplayClock(session_bounds(day)[0]), day, symbols)
    broker = PaperBroker(MatchingEngine(replay, cash=equity))
    watchlist = dataclasses.replace(watchlist, symbols=tuple(symbols))
    traders: list[IntradayTrader] = []

    async def started(trader: IntradayTrader) -> None:
        trader.options.tick_s = 0.0  # the loop runs on event-loop turns, not on wall time
        trader.options.thresholds = REPLAY_THRESHOLDS  # no feed or loop to be sick in-process
        traders.append(trader)

    task = asyncio.create_task(run_trading_day(settings, watchlist, broker, asyncio.Event(),
                                               variant=tuned.variant, on_trader=started))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while not task.done() and not (traders and traders[0].run_log.started_at is not None):
        if loop.time() > deadline:
            raise RuntimeError(f"{day}: the trader did not start within {START_TIMEOUT_S:g}s")
        await asyncio.sleep(0)
    await _settle()  # run() began at the open: its health checks fall on the minutes
    flatten_at = MarketCalendar().session(day).flatten_at
    while not task.done() and broker.now() < flatten_at:
        await broker.step_to(min(broker.now() + timedelta(minutes=1), flatten_at))
        await _settle()
    result = await asyncio.wait_for(task, timeout=DAY_END_TIMEOUT_S)
    if result.log_path is None:
        raise RuntimeError(f"{day}: no run log ({result.message})")
    return dict(json.loads(Path(result.log_path).read_text(encoding="utf-8")))


async def _settle() -> None:
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)


async def trade_paper_days(base: Settings, source: BarSource, days: Sequence[date], *,
                           equity: float, improve: bool, gate: GateSettings | None = None,
                           env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Each session in turn, the cycle after each close when `improve`; returns, per session,
    its run log and (when improving) the cycle's report."""
    regime = regime_bars(source, DEFAULT_SYMBOL)
    replayer = None
    out = []
    for day in days:
        log = await trade_paper_day(base, source, day, equity)
        report = None
        if improve:
            replayer = replayer or replayer_for(base, source, log["allocation"], equity)
            outcome = await asyncio.to_thread(
                after_close, base, day=day, allocation=log["allocation"], equity=equity,
                replay_source=source, regime=regime, env=env or {}, gate=gate,
                replayer=replayer, data_source="the data folder (paper days)")
            report = outcome.report
        out.append({"date": day.isoformat(), "run_log": log, "report": report})
    return out


def summarize(untuned: list[dict[str, Any]], tuned: list[dict[str, Any]]) -> dict[str, Any]:
    """What the cycle did over the range, night by night, and both runs' net P&L."""
    made = [s for day in tuned for s in day["report"]["suggestions"]]
    return {
        "sessions": len(tuned),
        "suggestions": len(made),
        "by_source": dict(sorted(Counter(s["source"] for s in made).items())),
        "tested": sum(bool(s["validation"] and s["validation"].get("test")) for s in made),
        "passed_gate": sum(bool(s.get("passed")) for s in made),
        "challengers": [f"{d['date']}: {s['parameter']} {s['old']} -> {s['new']} ({s['source']})"
                        for d in tuned for s in d["report"]["suggestions"] if s["challenger"]],
        "promoted": [f"{d['date']}: {d['report']['ab_test']['reason']}" for d in tuned
                     if d["report"]["ab_test"]["status"] == "promote"],
        "outcomes": dict(sorted(Counter(_reason_kind(s) for s in made).items())),
        "nights": [_night(d) for d in tuned],
        "untuned_net_pnl": round(sum(d["run_log"]["realized_pnl"] for d in untuned), 2),
        "tuned_net_pnl": round(sum(d["run_log"]["realized_pnl"] for d in tuned), 2),
        "untuned_trades": sum(len(d["run_log"]["trades"]) for d in untuned),
        "tuned_trades": sum(len(d["run_log"]["trades"]) for d in tuned),
    }


def _night(day: dict[str, Any]) -> dict[str, Any]:
    """One night: the window it could use, each candidate's one-line decision, the A/B test,
    and what the next session trades."""
    report = day["report"]
    return {"date": day["date"], "trades": len(day["run_log"]["trades"]),
            "net_pnl": day["run_log"]["realized_pnl"], "notes": report["notes"],
            "decisions": report["decisions"] or ["no suggestion tonight"],
            "next_variant": report["next_variant"],
            "changed": report["next_params"] != report["params_today"]["params"]}


def _reason_kind(s: dict[str, Any]) -> str:
    reason = s["reason"]
    for marker, kind in (("refused:", "refused (screen)"), ("not validated", "not validated"),
                         ("not tested:", "screened out in sample"),
                         ("rejected:", "failed the gate"), ("challenger B from", "challenger B"),
                         ("passed:", "passed, not started"), ("same change", "duplicate"),
                         ("not tried again", "retired earlier"),
                         ("already trading as challenger", "already the A/B challenger")):
        if marker in reason:
            return kind
    return reason[:60]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m improvement.paper_days",
        description="Replay consecutive sessions in-process, untuned and with the nightly cycle.")
    parser.add_argument("--data", required=True, help="data root holding intraday/ (and daily/)")
    parser.add_argument("--watchlist", required=True)
    parser.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
    parser.add_argument("--to", dest="last", required=True, type=date.fromisoformat)
    parser.add_argument("--allocation", type=float, default=0.25)
    parser.add_argument("--equity", type=float, default=100_000.0)
    parser.add_argument("--workdir", default="paper_days", help="DBs, logs and reports go here "
                        "(its untuned/ and tuned/ folders are emptied first: each run starts "
                        "from nothing, so two runs print the same JSON)")
    args = parser.parse_args(argv)
    source = CsvBarSource(args.data)
    days = [s.date for s in MarketCalendar().sessions_between(args.first, args.last)
            if any(s.date in source.sessions(sym) for sym in source.symbols())]
    runs = {}
    for name, improve in (("untuned", False), ("tuned", True)):
        folder = Path(args.workdir) / name
        if folder.exists():
            shutil.rmtree(folder)  # this command's own output of an earlier run
        folder.mkdir(parents=True)
        settings = load_settings(
            cli={"allocation": args.allocation, "db_path": folder / "history.db",
                 "watchlist_path": args.watchlist, "market_data_dir": args.data},
            env={"LOGS_DIR": str(folder / "logs"), "REPORTS_DIR": str(folder / "reports")},
            dotenv_path=None)
        runs[name] = asyncio.run(trade_paper_days(settings, source, days, equity=args.equity,
                                                  improve=improve))
    print(json.dumps(summarize(runs["untuned"], runs["tuned"]), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
