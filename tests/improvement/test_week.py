"""A replayed week, day by day: each session is traded by the real day session
(`run_trading_day` over the paper broker, improvement.paper_days) with the params the DB
schedules for it, and the nightly cycle runs after each close (the real ChatDeepSeek client
against a loopback server).
Every night's report says what the next session trades with; the next run log must agree.

Night 1 the LLM recommends a 2% target: the replay validates it, it is applied. Before night 2
the DB already holds 60 earlier trials with widely spread Sharpes, so night 2's recommendation
(2.5%) beats the current params out of sample but fails the deflated Sharpe ratio: it becomes
challenger B, and the remaining sessions alternate A, B, A.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from improvement.cli import after_close
from improvement.paper_days import trade_paper_day
from observability.history import HistoryDB
from tests.fakes.openai_server import FakeOpenAIServer
from tests.improvement.conftest import (
    EQUITY,
    KEY,
    WINDOW,
    answer,
    recommend,
    seed_trials,
)
from tests.improvement.markets import WaveMarket
from trade.config import load_settings

WEEK = [date(2026, 2, 17), date(2026, 2, 18), date(2026, 2, 19), date(2026, 2, 20),
        date(2026, 2, 23)]


async def test_each_report_schedules_exactly_what_the_next_session_trades(
    tmp_path: Path, wave_market: WaveMarket, llm_server: FakeOpenAIServer
) -> None:
    watchlist = tmp_path / "watchlist.json"
    watchlist.write_text(json.dumps({"symbols": ["AAA"],
                                     "overrides": {"AAA": {"atr_min_pct": 0.0}}}))
    base = load_settings(
        cli={"allocation": 0.5, "db_path": tmp_path / "sim.db", "watchlist_path": watchlist},
        env={"LOGS_DIR": str(tmp_path / "logs"), "REPORTS_DIR": str(tmp_path / "reports")},
        dotenv_path=None)
    env = {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_API_BASE": llm_server.base_url}
    llm_server.reply(answer(recommend("profit_target", 0.02)))
    llm_server.reply(answer(recommend("profit_target", 0.025)))
    llm_server.always(answer())
    logs, reports = [], []
    for night, day in enumerate(WEEK):
        logs.append(await trade_paper_day(base, wave_market, day, EQUITY))
        if night == 1:
            seed_trials(base.db_path, [4.0 if i % 2 else -4.0 for i in range(60)],
                        date(2026, 1, 30))
        outcome = await asyncio.to_thread(
            after_close, base, day=day, allocation=0.5, equity=EQUITY,
            replay_source=wave_market, env=env, window=WINDOW)
        reports.append(outcome.report)

    assert [r["date"] for r in reports] == [d.isoformat() for d in WEEK]
    assert sorted(p.name for p in (tmp_path / "reports" / "improvement").iterdir()) == [
        f"improvement_report_{d.isoformat()}.json" for d in WEEK]
    for report, traded, day in zip(reports, logs[1:], WEEK[1:], strict=False):
        assert report["next_session"] == day.isoformat()
        assert traded["params"]["default"] == report["next_params"], day
    targets = [log["params"]["default"]["profit_target"] for log in logs]
    assert targets == [0.014, 0.02, 0.02, 0.025, 0.02]
    assert [r["next_variant"] for r in reports[:-1]] == ["", "A", "B", "A"]
    assert reports[0]["suggestions"][0]["applied"] is True
    assert reports[1]["ab_test"]["status"] == "started"
    assert reports[4]["ab_test"]["status"] == "collecting"
    with HistoryDB.open(base.db_path) as db:
        for day, variant in zip(WEEK[2:], ["A", "B", "A"], strict=True):
            trades = db.trades_on(day, book="intraday")
            assert trades and {t.variant for t in trades} == {variant}, day
    for log in logs:  # the targets really were traded: a target exit sits at the day's target
        target = log["params"]["default"]["profit_target"]
        hits = [t for t in log["trades"] if t["exit_reason"] == "target"]
        assert hits, log["date"]
        for t in hits:
            assert abs(t["exit_price"] / t["entry_price"] - 1 - target) < 0.0006, (log["date"], t)
