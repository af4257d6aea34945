"""The day report's improvement section shows what the cycle decided, one line per candidate
(tested on which sessions, the difference and its interval, the gate), and an unknown regime as
a warning."""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

from improvement.cycle import run_cycle
from improvement.fast_replay import BacktestReplayer
from improvement.regime import regime_bars
from sim.market.bar_sources import CsvBarSource
from tests.improvement.conftest import TODAY, cycle_inputs, traded_db
from tests.paths import DATA
from ui.day_report import build_report


def test_the_page_lists_each_candidates_decision_and_warns_of_an_unknown_regime(
    tmp_path: Path, replayer: BacktestReplayer
) -> None:
    path = traded_db(tmp_path, replayer)
    spy = regime_bars(CsvBarSource(DATA), "SPY")  # ends in 2021: unknown in 2026
    report = run_cycle(path, cycle_inputs(tmp_path, replayer, regime_bars=spy)).report
    page = build_report(TODAY, path, tmp_path / "logs", tmp_path / "reports").read_text()
    text = html.unescape(page)
    assert "Regime UNKNOWN: unknown: " in text and "no regime rule applied that night" in text
    assert "What the cycle decided" in text
    assert report["decisions"] and all(line in text for line in report["decisions"])
    assert "replay window 2026-02-06..2026-02-18: data for 8 of 8 sessions" in text
    passed = [s for s in report["suggestions"] if s["challenger"]]
    assert passed and "challenger B" in text
    assert "tested on 4 sessions: " in text and "distinct); passed" in text
    assert date.fromisoformat(report["next_session"]) > TODAY
