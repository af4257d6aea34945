"""Consecutive sessions traded in-process, each with the parameters the DB schedules for it and
the nightly cycle after each close: the day trader's day-by-day loop over the paper matching
engine, without sockets (what `day_trader.py --sim-from/--sim-to` does through the Gateway
simulator, at full speed).

Each session runs the real day session (`run_trading_day`: account check, watchlist analyst,
`IntradayTrader`, flatten, run log, daily metrics) over `PaperBroker`, with the clock stepped
minute by minute once the trader has subscribed. `python -m improvement.paper_days` replays a
range of sessions twice, untuned (defaults all along) and tuned (the cycle after every close),
and prints what the cycle did and the two P&Ls side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from improvement.cli import after_close, replayer_for
from improvement.params_store import load_day_params
from improvement.regime import DEFAULT_SYMBOL, regime_bars
from improvement.tuning import WalkForward
from sim.engine.exchange import MatchingEngine
from sim.market.bar_sources import CsvBarSource
from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import session_bounds
from sim.paper_broker import PaperBroker
from trade.broker import BarHandler
from trade.calendar import MarketCalendar
from trade.config import Settings, load_settings
from trade.intraday.day_session import run_trading_day
from trade.watchlist import load_watchlist

SUBSCRIBE_TIMEOUT_S = 30.0
DAY_END_TIMEOUT_S = 60.0


class _SteppedBroker(PaperBroker):
    """The paper broker, telling the driver when the trader has subscribed (time may move)."""

    def __init__(self, engine: MatchingEngine) -> None:
        super().__init__(engine)
        self.subscribed = asyncio.Event()

    async def subscribe_bars(self, symbol: str, on_bar: BarHandler) -> None:
        await super().subscribe_bars(symbol, on_bar)
        self.subscribed.set()


async def trade_paper_day(base: Settings, source: BarSource, day: date,
                          equity: float) -> dict[str, Any]:
    """Trade session `day` as day_trader.py would (the DB's params for it, its A/B variant)
    and return the run log. `base.params` are the configured (untuned) parameters."""
    tuned = load_day_params(base.db_path, day, base.params)
    settings = dataclasses.replace(base, params=tuned.params)
    watchlist = load_watchlist(settings.watchlist_path, settings.params)
    symbols = [s for s in watchlist.symbols if day in source.sessions(s)]
    replay = MarketReplay(source, ReplayClock(session_bounds(day)[0]), day, symbols)
    broker = _SteppedBroker(MatchingEngine(replay, cash=equity))
    watchlist = dataclasses.replace(watchlist, symbols=tuple(symbols))
    task = asyncio.create_task(run_trading_day(settings, watchlist, broker, asyncio.Event(),
                                               variant=tuned.variant))
    waiter = asyncio.create_task(broker.subscribed.wait())
    await asyncio.wait({task, waiter}, timeout=SUBSCRIBE_TIMEOUT_S,
                       return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    flatten_at = MarketCalendar().session(day).flatten_at
    while not task.done() and broker.now() < flatten_at:
        await broker.step_to(min(broker.now() + timedelta(minutes=1), flatten_at))
        for _ in range(10):  # let the trader's order tasks reach the broker in this minute
            await asyncio.sleep(0)
    result = await asyncio.wait_for(task, timeout=DAY_END_TIMEOUT_S)
    if result.log_path is None:
        raise RuntimeError(f"{day}: no run log ({result.message})")
    return dict(json.loads(Path(result.log_path).read_text(encoding="utf-8")))


async def trade_paper_days(base: Settings, source: BarSource, days: Sequence[date], *,
                           equity: float, improve: bool, window: WalkForward | None = None,
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
                replay_source=source, regime=regime, env=env or {}, window=window,
                replayer=replayer)
            report = outcome.report
        out.append({"date": day.isoformat(), "run_log": log, "report": report})
    return out


def summarize(untuned: list[dict[str, Any]], tuned: list[dict[str, Any]]) -> dict[str, Any]:
    """What the cycle did over the range, and both runs' net P&L."""
    made = [s for day in tuned for s in day["report"]["suggestions"]]
    reasons: Counter[str] = Counter()
    for s in made:
        if not s["applied"]:
            reasons[_reason_kind(s)] += 1
    return {
        "sessions": len(tuned),
        "suggestions": len(made),
        "by_source": dict(Counter(s["source"] for s in made)),
        "validated": sum(s["validation"] is not None for s in made),
        "passed_validation": sum(bool(s["validation"] and s["validation"]["passed"])
                                 for s in made),
        "applied": sum(s["applied"] for s in made),
        "rejected": sum(not s["applied"] for s in made),
        "rejected_by_reason": dict(reasons),
        "ab_tests_started": sum(d["report"]["ab_test"]["status"] == "started" for d in tuned),
        "applied_changes": [f"{d['date']}: {s['parameter']} {s['old']} -> {s['new']} "
                            f"({s['source']})" for d in tuned for s in d["report"]["suggestions"]
                            if s["applied"]],
        "untuned_net_pnl": round(sum(d["run_log"]["realized_pnl"] for d in untuned), 2),
        "tuned_net_pnl": round(sum(d["run_log"]["realized_pnl"] for d in tuned), 2),
        "untuned_trades": sum(len(d["run_log"]["trades"]) for d in untuned),
        "tuned_trades": sum(len(d["run_log"]["trades"]) for d in tuned),
    }


def _reason_kind(s: dict[str, Any]) -> str:
    reason = s["reason"]
    for marker, kind in (("refused:", "refused (screen)"), ("not validated", "not validated"),
                         ("does not beat", "did not beat current out of sample"),
                         ("below 0.95", "DSR below 0.95"), ("same change", "duplicate"),
                         ("validated but not applied", "another change applied that night"),
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
    parser.add_argument("--workdir", default="paper_days", help="DBs, logs and reports go here")
    args = parser.parse_args(argv)
    source = CsvBarSource(args.data)
    days = [s.date for s in MarketCalendar().sessions_between(args.first, args.last)
            if any(s.date in source.sessions(sym) for sym in source.symbols())]
    runs = {}
    for name, improve in (("untuned", False), ("tuned", True)):
        folder = Path(args.workdir) / name
        folder.mkdir(parents=True, exist_ok=True)
        settings = load_settings(
            cli={"allocation": args.allocation, "db_path": folder / "history.db",
                 "watchlist_path": args.watchlist, "sim_data_dir": args.data},
            env={"LOGS_DIR": str(folder / "logs"), "REPORTS_DIR": str(folder / "reports")},
            dotenv_path=None)
        runs[name] = asyncio.run(trade_paper_days(settings, source, days, equity=args.equity,
                                                  improve=improve))
    print(json.dumps(summarize(runs["untuned"], runs["tuned"]), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
