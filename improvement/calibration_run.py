"""One calibration market-run: the bot trades session after session of a seeded market and the
whole nightly cycle (`run_cycle`, unchanged, on its own history DB) runs after each close.

The bot's day is the fast replay engine trading the session with exactly the parameters the DB
schedules for it (`load_day_params`: the tuned values and the A/B variant), recorded as the day
trader records it (its trades with their variant, its run's `daily_metrics` row); the engine is
proven to make the live trader's trades (tests/sim/backtest). The cycle's window reaches back
before the first traded session, as a live night's does through the IB history: the market
holds `WARMUP + window` sessions before the first night.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from improvement.calibration_markets import (
    ALLOCATION,
    EQUITY,
    OVERRIDES,
    SYMBOLS,
    WickMarket,
    planted_change,
)
from improvement.cycle import CycleInputs, run_cycle
from improvement.fast_replay import BacktestReplayer
from improvement.gate import GateSettings
from improvement.params_store import load_day_params
from improvement.replay import ReplayConfig
from observability.history import HistoryDB
from observability.schema import DailyMetricsRow, TradeRow
from trade.calendar import MarketCalendar
from trade.models import Params

WARMUP = 6  # the analyst's 5-session warm-up before the window's first session, and one spare
START = date(2025, 1, 2)


def market_days(nights: int, window: int) -> list[date]:
    """The sessions a market needs: warm-up, the first night's window, then the nights."""
    wanted = WARMUP + window + nights - 1
    out = [MarketCalendar().session(START).date]
    calendar = MarketCalendar()
    while len(out) < wanted:
        out.append(calendar.next_session(out[-1]).date)
    return out


@dataclass
class MarketRun:
    seed: int
    kind: str  # null | stop | target
    nights: int
    challengers: list[dict[str, Any]] = field(default_factory=list)  # B started
    promoted: list[dict[str, Any]] = field(default_factory=list)  # became A
    right_b_night: int | None = None  # the planted change started as B (1-based night)
    right_applied_night: int | None = None  # the planted change became A
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        """Changes traded as B or applied as A (a promotion of a B already counted as a B)."""
        return len(self.challengers) + sum(1 for p in self.promoted if not p.get("was_b"))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 2)}


def run_market(market: WickMarket, kind: str, nights: int, gate: GateSettings,
               workdir: Path | None = None) -> MarketRun:
    """Trade `nights` sessions of `market` with the cycle after each close."""
    started = time.perf_counter()
    days = market.sessions(SYMBOLS[0])
    first = WARMUP + gate.sessions - 1
    live = days[first:first + nights]
    if len(live) < nights:
        raise ValueError(f"the market holds {len(days)} sessions: {first + nights} are needed")
    run = MarketRun(market.seed, kind, nights)
    right = planted_change(kind) if kind != "null" else None
    replayer = BacktestReplayer(market, SYMBOLS, ReplayConfig(allocation=ALLOCATION,
                                                              equity=EQUITY), OVERRIDES)
    with tempfile.TemporaryDirectory(dir=workdir or _scratch()) as tmp:
        db = Path(tmp) / "history.db"
        for night, day in enumerate(live, start=1):
            _trade_day(db, replayer, day)
            inputs = CycleInputs(day=day, base_params=Params(), symbols=SYMBOLS,
                                 allocation=ALLOCATION, equity=EQUITY,
                                 reports_dir=Path(tmp) / "reports", overrides=OVERRIDES,
                                 replayer=replayer, llm=None,
                                 llm_skipped_because="calibration: no LLM", gate=gate,
                                 data_source=f"calibration market {kind} seed {run.seed}")
            report = run_cycle(db, inputs).report
            _score(run, report, night, right)
    run.seconds = time.perf_counter() - started
    return run


def _scratch() -> str | None:
    """Throwaway DBs go to memory-backed /dev/shm when the machine has it (a night commits a
    few transactions; on a disk each one waits for the WAL to sync)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _trade_day(db: Path, replayer: BacktestReplayer, day: date) -> None:
    """The bot's session: what the DB schedules, traded and recorded."""
    today = load_day_params(db, day, Params())
    [result] = replayer.replay(today.params, [day]).days
    with HistoryDB.open(db) as h:
        for t in result.trades:
            h.record_trade(TradeRow(t.trading_date, "intraday", t.symbol, "BUY", t.qty,
                                    t.entry_time, t.entry_price, t.exit_time, t.exit_price,
                                    t.net_pnl, t.commission, variant=today.variant,
                                    exit_reason=t.exit_reason))
        wins = sum(t.net_pnl > 0 for t in result.trades)
        h.record_daily_metrics(DailyMetricsRow(
            day, "day_trader", len(result.trades), wins,
            wins / len(result.trades) if result.trades else 0.0, round(result.net_pnl, 6), 0.0,
            variant=today.variant, run_id=f"calibration-{day.isoformat()}"))


def _score(run: MarketRun, report: dict[str, Any], night: int,
           right: tuple[str, float] | None) -> None:
    ab = report["ab_test"]
    test = ab.get("test") or {}
    parameter = test.get("parameter")
    new = (test.get("b") or {}).get(parameter) if parameter else None
    if ab["status"] == "started":
        run.challengers.append({"night": night, "parameter": parameter, "new": new})
        if right == (parameter, new) and run.right_b_night is None:
            run.right_b_night = night
    elif ab["status"] == "promote":
        run.promoted.append({"night": night, "parameter": parameter, "new": new, "was_b": True})
        if right == (parameter, new) and run.right_applied_night is None:
            run.right_applied_night = night
