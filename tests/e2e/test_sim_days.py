"""`day_trader.py --sim --sim-from A --sim-to B`: consecutive sessions through one simulator,
the nightly cycle after each close, each session trading what the cycle before it scheduled.

Checked from outside, as a user runs it: one run log and one cycle report per session, every
session joined five minutes before its open (the clock is stepped over nights, never raced), flat
at the flatten time, and the parameters a session traded are exactly the `next_params` the
previous night's report announced.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.harness import DATA, run_bot, sim_namespaces, write_watchlist

FIRST, SECOND = "2025-07-03", "2025-07-07"  # a half day, the 4th of July, a weekend, a full day
FLAT_BY = {FIRST: "12:56", SECOND: "15:56"}  # flatten time + 60 s
FAST = {"SPY": {"atr_min_pct": 0.0002, "atr_timeframe": "1 min"}}


def test_a_replayed_range_trades_each_session_with_the_previous_nights_parameters(tmp_path: Path):
    watchlist = write_watchlist(tmp_path, ["SPY"], FAST)
    result = run_bot(tmp_path, "--allocation", "0.25", "--sim", "--sim-data", str(DATA),
                     "--sim-from", FIRST, "--sim-to", SECOND, "--speed", "2400",
                     "--watchlist", str(watchlist), "--status-port", "0", timeout=240.0)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"replay of {FIRST}..{SECOND}" in out
    assert f"parameters for {SECOND}: scheduled by the cycle of {FIRST}" in out

    [home] = sim_namespaces(tmp_path)  # one simulator, one namespace for the whole range
    logs = sorted((home / "logs").glob("day_trader_run_*.json"))
    assert [p.name[len("day_trader_run_"):][:17] for p in logs] == [
        f"{FIRST}_092500", f"{SECOND}_092500"]  # both joined at the pre-open
    runs = {json.loads(p.read_text())["date"]: json.loads(p.read_text()) for p in logs}
    for day, run in runs.items():
        assert run["flat_at"] is not None and run["flat_at"][11:16] <= FLAT_BY[day], run["flat_at"]
        assert f"day_trader: {day}: {len(run['trades'])} trades, realized P&L" in out

    reports = home / "reports" / "improvement"  # beside the range's own DB
    first = json.loads((reports / f"improvement_report_{FIRST}.json").read_text())
    second = json.loads((reports / f"improvement_report_{SECOND}.json").read_text())
    assert first["next_session"] == SECOND
    # what the night announced is what the next session traded, and what its own night saw
    assert runs[SECOND]["params"]["default"] == first["next_params"]
    assert second["params_today"]["params"] == first["next_params"]
    assert second["params_today"]["source"] == f"scheduled by the cycle of {FIRST}"
