"""`main.py --run-days ... --interval N --sim`: a scheduled simulated day runs every re-check to
the close and ends by itself (issue 21: the fifth re-check waited out IB's 10-minute historical
pacing window, which binds only bars of 30 s or less, in real time and in silence).

The repository's 27-symbol universe: the 10:00 cycle asks for a year of daily bars per name and
minute bars for the targets, each re-check minute bars again: more than 60 historical requests
by the fourth re-check.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.weekly_harness import run_weekly
from tests.paths import REPO


def test_every_recheck_of_a_scheduled_simulated_day_runs_and_the_run_ends(tmp_path: Path) -> None:
    shutil.copy(REPO / "weekly_universe.json", tmp_path)
    result = run_weekly(tmp_path, "--allocation", "0.5", "--run-days", "mon", "--interval", "30",
                        "--sim", "--sim-date", "2019-02-11", "--speed", "600", timeout=240.0)
    assert result.returncode == 0, result.stderr[-3000:]
    rechecks = result.stderr.count("schedule: re-check (every 30 min)")
    assert rechecks >= 5, result.stderr[-3000:]  # from about 12:10 to 15:40
    assert "no re-check before the 16:00 close" in result.stderr
    assert "historical data pacing" not in result.stderr  # nothing had to wait for IB's pacing
    assert result.stdout.count("weekly: 2019-02-11: done") == rechecks + 1
