"""`python main.py --allocation 0.5 --once --dry-run --sim`: the weekly bot on the default synthetic
market, the first thing a newcomer tries (issue 21 item 4: it ended in a traceback, the
simulator's synthetic source indexed a date)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.weekly_harness import run_weekly
from tests.paths import REPO


def test_a_dry_run_on_the_synthetic_market_plans_a_book_and_sends_nothing(tmp_path: Path) -> None:
    shutil.copy(REPO / "weekly_universe.json", tmp_path)
    result = run_weekly(tmp_path, "--allocation", "0.5", "--once", "--dry-run", "--sim",
                        timeout=240.0)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "(synthetic " in result.stdout and ": dry run; 0 orders, 0 fills" in result.stdout
    reports = list((tmp_path / "sim_runs").glob("*/reports/weekly/weekly_report_*.json"))
    assert len(reports) == 1, "the simulator's records stay in its own namespace"
    report = json.loads(reports[0].read_text())
    assert report["dry_run"] is True and report["targets"], "a book is planned"
    assert report["orders"] and all(o["state"] == "not sent (dry run)" and o["order_ref"] is None
                                    for o in report["orders"])
    assert not (tmp_path / "trading_history.db").exists()
