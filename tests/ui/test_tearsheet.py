"""`python -m ui.tearsheet`: the numbers behind the charts, the sweep heat map, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ui.backtest_fixtures import make_backtest, make_sweep, write
from ui.backtest_inputs import Backtest, Sweep, TearsheetInputError, load
from ui.tearsheet import build_tearsheet, main
from ui.tearsheet_stats import HeatMapChoiceError, equity_curve, heat_map, monthly, per_symbol


def _loaded(tmp_path: Path, data: dict) -> Backtest | Sweep:
    return load(write(tmp_path / "in.json", data))


def _backtest(tmp_path: Path, data: dict) -> Backtest:
    loaded = _loaded(tmp_path, data)
    assert isinstance(loaded, Backtest)
    return loaded


def _sweep(tmp_path: Path, data: dict) -> Sweep:
    loaded = _loaded(tmp_path, data)
    assert isinstance(loaded, Sweep)
    return loaded


def test_equity_and_drawdown_follow_the_daily_pnl(tmp_path: Path) -> None:
    data = make_backtest(sessions_count=4, starting_equity=1000.0)
    for day, pnl in zip(data["days"], [100.0, -220.0, 50.0, 200.0], strict=True):
        day["pnl"] = pnl
    bt = _loaded(tmp_path, data)
    assert isinstance(bt, Backtest)
    curve = equity_curve(bt)
    assert [p.equity for p in curve] == [1100.0, 880.0, 930.0, 1130.0]
    assert [round(p.drawdown, 4) for p in curve] == [0.0, -0.2, -0.1545, 0.0]


def test_monthly_returns_compound_on_the_months_starting_equity(tmp_path: Path) -> None:
    data = make_backtest(sessions_count=30, starting_equity=10_000.0)  # March and April 2025
    bt = _backtest(tmp_path, data)
    rows = monthly(bt)
    assert [r.month for r in rows] == ["2025-03", "2025-04"]
    assert sum(r.sessions for r in rows) == 30
    march = sum(d["pnl"] for d in data["days"] if d["date"].startswith("2025-03"))
    assert rows[0].net_pnl == pytest.approx(march)
    assert rows[1].ret == pytest.approx(rows[1].net_pnl / (10_000.0 + march))
    assert sum(r.trades for r in rows) == len(data["trades"])


def test_per_symbol_rows_add_up_to_the_trades(tmp_path: Path) -> None:
    data = make_backtest(sessions_count=40)
    bt = _backtest(tmp_path, data)
    rows = per_symbol(bt.trades)
    assert sum(r.trades for r in rows) == len(data["trades"])
    assert sum(r.net_pnl for r in rows) == pytest.approx(sum(t["pnl"] for t in data["trades"]))
    assert all(sum(r.exits.values()) == r.trades for r in rows)
    assert [r.net_pnl for r in rows] == sorted((r.net_pnl for r in rows), reverse=True)


def test_a_file_without_kind_but_with_days_is_a_backtest(tmp_path: Path) -> None:
    assert isinstance(_loaded(tmp_path, make_backtest(with_kind=False)), Backtest)


def test_heat_map_defaults_to_the_varying_parameters_and_net_pnl(tmp_path: Path) -> None:
    sweep = _loaded(tmp_path, make_sweep())
    assert isinstance(sweep, Sweep)
    grid = heat_map(sweep, None, None, None)
    assert (grid.x_param, grid.y_param, grid.metric) == ("profit_target", "stop_loss", "net_pnl")
    assert grid.xs == [0.008, 0.01, 0.012, 0.014, 0.016] and grid.ys == [0.005, 0.008, 0.011]
    row = next(r for r in sweep.rows if r.params["profit_target"] == 0.01 and r.params["stop_loss"] == 0.011)
    assert grid.values[2][1] == row.metrics["net_pnl"]


def test_a_third_varying_parameter_is_averaged_per_cell(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, make_sweep(rsi=(55.0, 60.0, 65.0)))
    grid = heat_map(sweep, "stop_loss", "profit_target", "sharpe")
    assert len(grid.xs) == 3 and len(grid.ys) == 5
    assert all(count == 3 for row in grid.counts for count in row)
    cell = [r.metrics["sharpe"] for r in sweep.rows
            if r.params["stop_loss"] == 0.005 and r.params["profit_target"] == 0.008]
    assert grid.values[0][0] == pytest.approx(sum(cell) / 3)


@pytest.mark.parametrize(("x", "y", "metric", "message"), [
    ("foo", None, None, "--x foo is invalid: use one of the sweep's parameters"),
    ("profit_target", "profit_target", None, "--x and --y are both profit_target"),
    (None, None, "alpha", "--metric alpha is invalid: use one of net_pnl, trades"),
])
def test_bad_heat_map_choices_name_the_flag(tmp_path: Path, x: str | None, y: str | None,
                                            metric: str | None, message: str) -> None:
    sweep = _loaded(tmp_path, make_sweep())
    assert isinstance(sweep, Sweep)
    with pytest.raises(HeatMapChoiceError, match=message.replace("(", r"\(")):
        heat_map(sweep, x, y, metric)


def test_the_backtest_page_has_its_charts_and_tables(tmp_path: Path) -> None:
    data = make_backtest(sessions_count=50)
    out = build_tearsheet(write(tmp_path / "bt.json", data), tmp_path / "out" / "bt.html")
    page = out.read_text()
    for div in ('id="equity"', 'id="drawdown"', 'id="pnl-distribution"', 'id="symbols-table"',
                'id="monthly-table"', 'id="params-table"'):
        assert div in page
    assert '<script src="plotly.min.js"></script>' in page and (out.parent / "plotly.min.js").is_file()
    assert f"{data['metrics']['net_pnl']:+,.2f}" in page


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not a JSON object"),
    (json.dumps({"kind": "report"}), "kind='report' is invalid"),
    (json.dumps({"kind": "backtest", "starting_equity": 1000, "days": []}), "days is empty"),
    (json.dumps({"kind": "backtest", "starting_equity": 1000, "days": [{"date": "2025-03-03"}]}),
     "days[0].pnl=None is invalid: use a number"),
    (json.dumps({"kind": "backtest", "starting_equity": 1000,
                 "days": [{"date": "03/03/2025", "pnl": 1.0}]}), "days[0].date='03/03/2025' is invalid"),
    (json.dumps({"kind": "backtest", "starting_equity": -5, "days": [{"date": "2025-03-03", "pnl": 1}]}),
     "starting_equity=-5.0 is invalid"),
    (json.dumps({"kind": "sweep", "rows": [{"params": {}}]}), "rows[0] needs \"params\" and \"metrics\""),
])
def test_bad_input_files_are_one_line_and_exit_2(tmp_path: Path, content: str | None, message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.json"
    if content is not None:
        source.write_text(content)
    assert main([str(source), "-o", str(tmp_path / "out.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out.html").exists()
    with pytest.raises(TearsheetInputError):
        load(source)


def test_heat_map_flags_on_a_single_backtest_are_refused(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "bt.json", make_backtest(sessions_count=5))
    assert main([str(source), "-o", str(tmp_path / "o.html"), "--x", "profit_target"]) == 2
    assert "apply to a sweep" in capsys.readouterr().err
