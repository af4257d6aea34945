"""`daily_metrics.sharpe` has one definition: the run's own row (written by the day session) and
the day's row (written by the nightly cycle) agree, also when the window holds a session the bot
did not run (the cycle used to leave it out, and to measure returns on another equity)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from evaluation.performance import DAY_TRADER
from improvement.cycle import run_cycle
from improvement.paper_days import trade_paper_day
from observability.history import HistoryDB
from tests.improvement.conftest import EQUITY, cycle_inputs
from tests.improvement.markets import WaveMarket
from trade.config import load_settings


async def test_the_run_row_and_the_day_row_hold_the_same_sharpe(
    tmp_path: Path, wave_market: WaveMarket
) -> None:
    watchlist = tmp_path / "watchlist.json"
    watchlist.write_text(json.dumps({"symbols": ["AAA"],
                                     "overrides": {"AAA": {"atr_min_pct": 0.0}}}))
    base = load_settings(
        cli={"allocation": 0.5, "db_path": tmp_path / "sim.db", "watchlist_path": watchlist},
        env={"LOGS_DIR": str(tmp_path / "logs"), "REPORTS_DIR": str(tmp_path / "reports")},
        dotenv_path=None)
    for day in (date(2026, 2, 13), date(2026, 2, 17), date(2026, 2, 19)):  # not 02-18
        await trade_paper_day(base, wave_market, day, EQUITY)
    report = run_cycle(base.db_path, cycle_inputs(tmp_path, None, day=date(2026, 2, 19))).report
    with HistoryDB.open(base.db_path) as db:
        rows = db.daily_metrics(DAY_TRADER, date(2026, 2, 19), date(2026, 2, 19), run_id=None)
    [run] = [r for r in rows if r.run_id]
    [whole] = [r for r in rows if not r.run_id]
    assert run.sharpe is not None and whole.sharpe is not None
    assert abs(run.sharpe - whole.sharpe) < 1e-9, (run.sharpe, whole.sharpe)
    window = report["metrics"]["window"]
    assert (window["sessions"], window["sessions_run"]) == (20, 3)
    assert abs(window["sharpe"] - whole.sharpe) < 1e-9
