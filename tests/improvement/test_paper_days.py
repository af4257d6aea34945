"""`python -m improvement.paper_days` on the shared 2026 data: a quiet session (every symbol
screened out) no longer waits for a subscription that never comes (it idled 30 s each), and two
runs print the same JSON (quantities used to differ by a share with the account refresh's
timing), with each night's decisions listed."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest

from improvement.paper_days import main, trade_paper_day
from sim.market.bar_sources import CsvBarSource
from tests.paths import DATA
from trade.config import load_settings

HANG_GUARD_S = 20.0  # the old driver waited 30 s for a subscription on a quiet session


async def test_a_quiet_session_does_not_wait_for_a_subscription(tmp_path: Path) -> None:
    watchlist = tmp_path / "watchlist.json"
    watchlist.write_text('{"symbols": ["SPY"]}')  # below the 1.5% daily ATR screen in 2026
    settings = load_settings(
        cli={"allocation": 0.25, "db_path": tmp_path / "h.db", "watchlist_path": watchlist},
        env={"LOGS_DIR": str(tmp_path / "logs"), "REPORTS_DIR": str(tmp_path / "r")},
        dotenv_path=None)
    log = await asyncio.wait_for(trade_paper_day(settings, CsvBarSource(DATA), date(2026, 2, 18),
                                                 100_000.0), HANG_GUARD_S)
    assert log["trades"] == [] and log["watchlist"]["kept"] == []
    assert [v["symbol"] for v in log["watchlist"]["dropped"]] == ["SPY"]


def test_two_runs_print_the_same_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    watchlist = tmp_path / "watchlist.json"
    watchlist.write_text(json.dumps({"symbols": ["NVDA", "META", "COIN", "SOXL"]}))
    argv = ["--data", str(DATA), "--watchlist", str(watchlist), "--from", "2026-02-18",
            "--to", "2026-02-18", "--workdir", str(tmp_path / "work")]
    outputs = []
    for _ in range(2):
        assert main(argv) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    summary = json.loads(outputs[0])
    assert summary["sessions"] == 1 and summary["tuned_trades"] > 0
    # the night changes nothing before the next session, so both runs traded the same session
    # with the same params: the same trades to the share and the cent
    assert summary["untuned_trades"] == summary["tuned_trades"]
    assert summary["untuned_net_pnl"] == summary["tuned_net_pnl"]
    for night in summary["nights"]:
        assert night["decisions"] and night["notes"]
        assert any("replay window" in n for n in night["notes"])
        assert not night["changed"]
