"""Sweeps: every parameter set of a grid over the sessions, one row of metrics each, the same
table on one core, on several, and on a Dask cluster (a `LocalCluster` of worker processes)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sim.backtest.config import BacktestConfig, BacktestInputError
from sim.backtest.runner import run_backtest
from sim.backtest.sessions import Market, Sessions
from sim.backtest.sweep import expand_grid, main, sweep
from tests.paths import DATA
from trade.models import Params
from ui.tearsheet import build_tearsheet

BASE = Params(atr_timeframe="1 min", atr_min_pct=0.001)
GRID: dict[str, list[float]] = {"profit_target": [0.01, 0.02], "stop_loss": [0.005, 0.01],
                                "cooldown_minutes": [0, 20]}
SESSIONS = Sessions(Market(data=str(DATA)), ("SOXL", "IONQ", "NVDA", "COIN"), date(2026, 2, 12),
                    date(2026, 2, 17))


def test_grid_is_every_combination_last_parameter_fastest() -> None:
    sets = expand_grid({"profit_target": [0.01, 0.02], "stop_loss": [0.005, 0.01]}, BASE)
    assert [(p.profit_target, p.stop_loss) for p in sets] == [
        (0.01, 0.005), (0.01, 0.01), (0.02, 0.005), (0.02, 0.01)]
    assert all(p.atr_timeframe == "1 min" for p in sets)
    listed = expand_grid([{"rsi_max": 55}, {"rsi_max": 65, "cooldown_minutes": 5}])
    assert [(p.rsi_max, p.cooldown_minutes) for p in listed] == [(55.0, 0), (65.0, 5)]


@pytest.mark.parametrize("grid", [{}, {"profit_target": []}, {"take_profit": [0.01]},
                                  {"profit_target": [2.0]}, [{"cooldown_minutes": 1.5}]])
def test_bad_grids_name_the_problem(grid: object) -> None:
    with pytest.raises(BacktestInputError):
        expand_grid(grid)  # type: ignore[arg-type]  # wrong on purpose: the error is the test


@pytest.fixture(scope="module")
def one_core() -> str:
    return sweep(GRID, SESSIONS, base=BASE, workers=1, progress=False).to_json()


def test_rows_are_the_backtests_of_each_parameter_set(one_core: str) -> None:
    rows = json.loads(one_core)["rows"]
    assert len(rows) == 8
    for row in (rows[0], rows[5]):
        params = Params().with_overrides(row["params"])
        alone = run_backtest(SESSIONS, params, BacktestConfig(), workers=1, progress=False)
        assert alone.metrics().as_dict() == row["metrics"]
    assert len({json.dumps(r["metrics"]) for r in rows}) == 8, "parameters changed nothing"


def test_same_table_on_several_local_cores(one_core: str) -> None:
    assert sweep(GRID, SESSIONS, base=BASE, workers=2, progress=False).to_json() == one_core


def test_same_table_on_a_dask_cluster(one_core: str) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        on_cluster = sweep(GRID, SESSIONS, base=BASE, workers=1,
                           scheduler=cluster.scheduler_address, progress=False)
    assert on_cluster.to_json() == one_core


def test_command_line_writes_the_sweep_the_tearsheet_draws(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"profit_target": [0.01, 0.02], "stop_loss": [0.005, 0.01]}))
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"atr_timeframe": "1 min", "atr_min_pct": 0.001}))
    out = tmp_path / "sweep.json"
    assert main(["--grid", str(grid), "--data", str(DATA), "--symbols", *SESSIONS.symbols,
                 "--from", "2026-02-12", "--to", "2026-02-17", "--params", str(base),
                 "--json", str(out), "--workers", "1", "--sort", "sharpe"]) == 0
    screen = capsys.readouterr().out
    assert screen.startswith("sweep (fast engine): 4 parameter sets x 3 sessions of 4 symbols")
    assert "profit_target" in screen.splitlines()[1] and "stop_loss" in screen.splitlines()[1]
    document = json.loads(out.read_text())
    assert document["kind"] == "sweep" and len(document["rows"]) == 4
    assert document["sessions"] == {"symbols": list(SESSIONS.symbols), "from": "2026-02-12",
                                    "to": "2026-02-17", "count": 3}
    html = build_tearsheet(out, tmp_path / "sweep.html", x="profit_target", y="stop_loss",
                           metric="net_pnl")
    assert "net_pnl" in html.read_text()


def test_command_line_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text('{"profit_target": [0.01]}')
    assert main(["--grid", str(tmp_path / "none.json"), "--symbols", "SPY", "--from",
                 "2025-07-01", "--to", "2025-07-03", "--data", str(DATA)]) == 2
    assert main(["--grid", str(grid), "--symbols", "SPY", "--from", "2025-07-01", "--to",
                 "2025-07-03", "--data", str(DATA), "--sort", "luck"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("python -m sim.backtest.sweep: error: ")
                                   for line in lines)
    assert "not found" in lines[0] and "--sort luck" in lines[1]


def test_a_scheduler_that_does_not_answer_is_named_before_any_work() -> None:
    with pytest.raises(BacktestInputError, match="--scheduler tcp://127.0.0.1:9: no Dask"):
        sweep(GRID, SESSIONS, base=BASE, scheduler="tcp://127.0.0.1:9", scheduler_timeout=0.5,
              progress=False)


def test_an_event_engine_sweep_gives_the_fast_engines_rows() -> None:
    sessions = Sessions(Market(data=str(DATA)), ("SOXL", "IONQ"), date(2026, 2, 13),
                        date(2026, 2, 13))
    grid = {"profit_target": [0.01, 0.02]}
    fast = sweep(grid, sessions, base=BASE, workers=1, progress=False).as_dict()
    event = sweep(grid, sessions, base=BASE, engine="event", workers=1, progress=False).as_dict()
    assert event["engine"] == "event" and fast["engine"] == "fast"
    assert event["rows"] == fast["rows"]
    assert fast["rows"][0]["metrics"]["trades"] > 0
