"""A replayed week, day by day: each session is traded by the real day session
(`run_trading_day` over the paper broker, improvement.paper_days) with the params the DB
schedules for it, and the nightly cycle runs after each close (the real ChatDeepSeek client
against a loopback server).
Every night's report says what the next session trades with; the next run log must agree.

Night 1 the LLM recommends a 2% target: it passes the gate (as does a neighbour, a 1.68%
target); the one with the higher lower bound becomes challenger B, and the following sessions
alternate A, B, A, B. Four paired sessions are not yet a look: nothing is promoted that week.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from improvement.after_close import after_close
from improvement.paper_days import trade_paper_day
from observability.history import HistoryDB
from tests.fakes.openai_server import FakeOpenAIServer
from tests.improvement.conftest import (
    EQUITY,
    GATE,
    KEY,
    answer,
    recommend,
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
    llm_server.always(answer())
    logs, reports = [], []
    for day in WEEK:
        logs.append(await trade_paper_day(base, wave_market, day, EQUITY))
        outcome = await asyncio.to_thread(
            after_close, base, day=day, allocation=0.5, equity=EQUITY,
            replay_source=wave_market, env=env, gate=GATE)
        reports.append(outcome.report)

    assert [r["date"] for r in reports] == [d.isoformat() for d in WEEK]
    assert sorted(p.name for p in (tmp_path / "reports" / "improvement").iterdir()) == [
        f"improvement_report_{d.isoformat()}.json" for d in WEEK]
    for report, traded, day in zip(reports, logs[1:], WEEK[1:], strict=False):
        assert report["next_session"] == day.isoformat()
        assert traded["params"]["default"] == report["next_params"], day
    [b] = [x for x in reports[0]["suggestions"] if x["challenger"]]
    assert b["parameter"] == "profit_target" and b["new"] in (0.02, 0.0168)
    targets = [log["params"]["default"]["profit_target"] for log in logs]
    assert targets == [0.014, 0.014, b["new"], 0.014, b["new"]]
    assert [r["next_variant"] for r in reports[:-1]] == ["A", "B", "A", "B"]
    assert reports[0]["ab_test"]["status"] == "started"
    assert [r["ab_test"]["status"] for r in reports[1:]] == ["collecting"] * 4
    assert "4 paired sessions" in reports[4]["ab_test"]["reason"]
    with HistoryDB.open(base.db_path) as db:
        for day, variant in zip(WEEK[1:], ["A", "B", "A", "B"], strict=True):
            trades = db.trades_on(day, book="intraday")
            assert trades and {t.variant for t in trades} == {variant}, day
    for log in logs:  # the targets really were traded: a target exit sits at the day's target
        target = log["params"]["default"]["profit_target"]
        hits = [t for t in log["trades"] if t["exit_reason"] == "target"]
        assert hits, log["date"]
        for t in hits:
            assert abs(t["exit_price"] / t["entry_price"] - 1 - target) < 0.0006, (log["date"], t)
