"""Shared pieces for the nightly-cycle tests: the wave market, a replayer over it (the fast
engine, cached per session: its sessions are pure functions of the parameters; test_fast_replay
proves it trades as the live trader does), recorded trading days, the inputs of a cycle, and a
loopback OpenAI-compatible server for the real ChatDeepSeek client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from evaluation.llm import LLMEndpoint
from improvement.cycle import CycleInputs
from improvement.fast_replay import BacktestReplayer
from improvement.gate import GateSettings
from improvement.replay import ReplayConfig, ReplayDay
from observability.history import HistoryDB
from observability.schema import (
    DailyMetricsRow,
    ImprovementCycleCommit,
    TradeRow,
    TuningTrialRow,
)
from tests.fakes.openai_server import FakeOpenAIServer
from tests.improvement.markets import WaveMarket
from trade.calendar import MarketCalendar
from trade.models import Params

KEY = "sk-improve-0123456789abcdefghijklmnopqrstuv"
SYMBOLS = ("AAA",)
OVERRIDES = {"AAA": {"atr_min_pct": 0.0}}
ALLOCATION = 0.5
EQUITY = 100_000.0
DAYS = [s.date for s in MarketCalendar().sessions_between(date(2026, 1, 5), date(2026, 2, 27))]
TODAY = date(2026, 2, 18)
GATE = GateSettings(sessions=8, test_fraction=0.5)  # 4 sessions in sample, 4 in the test part


@pytest.fixture(scope="session")
def wave_market() -> WaveMarket:
    return WaveMarket(SYMBOLS, DAYS)


@pytest.fixture(scope="session")
def replayer(wave_market: WaveMarket) -> BacktestReplayer:
    return BacktestReplayer(wave_market, SYMBOLS,
                            ReplayConfig(allocation=ALLOCATION, equity=EQUITY), OVERRIDES)


def record_day(db_path: Path, day: ReplayDay, variant: str = "") -> None:
    """What the day session leaves in the DB: the book's trades and the day's metrics row."""
    with HistoryDB.open(db_path) as db:
        for t in day.trades:
            db.record_trade(TradeRow(t.trading_date, "intraday", t.symbol, "BUY", t.qty,
                                     t.entry_time, t.entry_price, t.exit_time, t.exit_price,
                                     t.net_pnl, t.commission, variant=variant,
                                     exit_reason=t.exit_reason))
        db.record_daily_metrics(DailyMetricsRow(day.day, "day_trader", len(day.trades), 0, 0.0,
                                                day.net_pnl, 0.0, variant=variant))


def traded_db(tmp_path: Path, replayer: BacktestReplayer, day: date = TODAY,
              params: Params | None = None) -> Path:
    path = tmp_path / "history.db"
    [replayed] = replayer.replay(params or Params(), [day]).days
    record_day(path, replayed)
    return path


def cycle_inputs(tmp_path: Path, replayer: BacktestReplayer | None, day: date = TODAY,
                 llm: LLMEndpoint | None = None, **changes: Any) -> CycleInputs:
    inputs = CycleInputs(day=day, base_params=Params(), symbols=SYMBOLS, allocation=ALLOCATION,
                         equity=EQUITY, reports_dir=tmp_path / "reports", overrides=OVERRIDES,
                         replayer=replayer, llm=llm, gate=GATE)
    return replace(inputs, **changes)


@pytest.fixture
async def llm_server() -> AsyncIterator[FakeOpenAIServer]:
    server = await FakeOpenAIServer().start()
    yield server
    await server.stop()


def endpoint(server: FakeOpenAIServer, timeout_s: float = 5.0) -> LLMEndpoint:
    found = LLMEndpoint.deepseek({"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_API_BASE": server.base_url,
                                  "LLM_TIMEOUT_S": str(timeout_s)})
    assert found is not None
    return replace(found, max_retries=0)


def answer(*recommendations: dict[str, Any]) -> dict[str, Any]:
    return {"summary": "Targets were reached quickly and the price kept running.",
            "insights": ["good waves ran well past the 1.4% target"],
            "recommendations": list(recommendations)}


def recommend(parameter: str, value: Any, reason: str = "winners ran further") -> dict[str, Any]:
    return {"parameter": parameter, "value": value, "priority": "high", "reason": reason}


def seed_trials(path: Path, sharpes: list[float], night: date) -> None:
    """Earlier nights' candidates, as the DB would hold them after many cycles."""
    close = MarketCalendar().session(night).close
    trials = [TuningTrialRow(night, {"stop_loss": round(0.005 + i * 1e-5, 6)}, "stop_loss",
                             "rule", 8, s, 0.0, 0.0, None, "rejected: seeded", close)
              for i, s in enumerate(sharpes)]
    with HistoryDB.open(path) as db:
        db.commit_improvement_cycle(ImprovementCycleCommit(night, close, {"date": str(night)},
                                                           trials))
