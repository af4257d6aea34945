"""The weekly backtest's tearsheet: the policy against SPY buy-and-hold and the equal-weight
universe (lines on the equity chart, the comparison table with CAGR, Sharpe, max drawdown,
turnover and commissions), its notes, bad benchmark input, and the page in headless Chromium.

The browser test draws a real backtest of the shared data: 2019 by default (seconds); with
UI_SCREENSHOTS_DIR set (how docs/*.png are made) the whole 2005-01-01..2021-03-31 run, saved as
weekly_tearsheet.png."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sim.backtest.weekly.engine import RunConfig, run
from sim.backtest.weekly.result import document
from tests.paths import DATA, REPO
from tests.ui.browser import image_stats, save_for_docs
from trade.portfolio.universe import PortfolioRules, load_universe
from ui.backtest_inputs import Backtest, TearsheetInputError, load
from ui.tearsheet import build_tearsheet, main

LINES = ["policy", "SPY buy-and-hold", "equal-weight universe (frictionless)"]
COLUMNS = ["CAGR", "Sharpe", "max drawdown", "volatility", "final equity", "turnover / cycle",
           "commissions"]


def _weekly_json(path: Path, first: date, last: date, shipped_universe: bool = True) -> Path:
    """A real weekly backtest's JSON: the shipped universe file, or every daily file."""
    if shipped_universe:
        loaded = load_universe(REPO / "weekly_universe.json")
        symbols, rules = list(loaded.symbols), loaded.rules
    else:
        from sim.backtest.weekly.data import daily_symbols

        symbols, rules = daily_symbols(DATA), PortfolioRules()
    result = run(RunConfig(DATA, first, last, workers=2), symbols, rules)
    path.write_text(json.dumps(document(result, "test")))
    return path


@pytest.fixture(scope="module")
def weekly_2019(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _weekly_json(tmp_path_factory.mktemp("weekly") / "weekly.json", date(2019, 1, 1),
                        date(2019, 12, 31))


def test_the_page_compares_the_policy_with_both_benchmarks(weekly_2019, tmp_path):
    data = json.loads(weekly_2019.read_text())
    page = build_tearsheet(weekly_2019, tmp_path / "w.html").read_text()
    assert "Policy against the benchmarks" in page and 'id="benchmarks-table"' in page
    table = page.split('id="benchmarks-table"')[1].split("</table>")[0]
    assert all(f"<th>{c}</th>" in table for c in COLUMNS)
    assert all(f"<td>{line}</td>" in table for line in LINES)
    assert table.count("<tr>") == 4  # the header and the three lines
    for line in data["benchmarks"].values():
        assert f'"name":"{line["label"]}"' in page  # a line on the equity chart
    assert "Read before trusting the figures" in page and "Survivorship bias" in page
    assert "LLM off in backtests" in page
    assert "Equity at each rebalance, against the benchmarks" in page


def test_the_benchmarks_are_read_in_date_order(weekly_2019, tmp_path):
    data = json.loads(weekly_2019.read_text())
    spy = list(data["benchmarks"]["spy_buy_and_hold"]["equity"])
    data["days"].reverse()
    for line in data["benchmarks"].values():
        line["equity"].reverse()
    path = tmp_path / "reversed.json"
    path.write_text(json.dumps(data))
    loaded = load(path)
    assert isinstance(loaded, Backtest)
    [first, _] = loaded.benchmarks
    assert first.equity == spy and first.label == "SPY buy-and-hold"
    assert loaded.notes == data["notes"]


@pytest.mark.parametrize(("benchmarks", "expected"), [
    ([1, 2], "benchmarks must be an object"),
    ({"spy": {"equity": [1.0]}}, "benchmarks.spy.equity must hold one number per days row"),
    ({"spy": {"equity": "x"}}, "benchmarks.spy.equity must hold one number per days row"),
])
def test_bad_benchmarks_are_one_line_and_exit_2(weekly_2019, tmp_path, capsys, benchmarks,
                                                expected):
    data = json.loads(weekly_2019.read_text())
    data["benchmarks"] = benchmarks
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TearsheetInputError, match="benchmarks"):
        load(path)
    assert main([str(path), "-o", str(tmp_path / "bad.html")]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


@pytest.mark.e2e
@pytest.mark.slow
def test_the_weekly_tearsheet_in_a_browser(browser: Any, weekly_2019: Path,
                                           tmp_path: Path) -> None:
    source = weekly_2019
    if os.environ.get("UI_SCREENSHOTS_DIR"):  # the docs picture: the headline run
        source = _weekly_json(tmp_path / "full.json", date(2005, 1, 1), date(2021, 3, 31),
                              shipped_universe=False)
    page = build_tearsheet(source, tmp_path / "out" / "weekly.html")
    browser.get(page.as_uri())
    browser.find_element("css selector", "[data-chart=equity] .main-svg")
    names = browser.execute_script(
        "return document.getElementById('equity').data.map(function (t) { return t.name; });")
    assert names == LINES
    drawn = browser.find_elements("css selector", "#equity .scatterlayer .trace")
    assert len(drawn) == 3
    rows = browser.find_elements("css selector", "#benchmarks-table tbody tr")
    assert [r.find_element("css selector", "td").text for r in rows] == LINES
    headers = [h.text for h in browser.find_elements("css selector", "#benchmarks-table th")]
    assert headers[1:] == COLUMNS
    stats = image_stats(browser, browser.get_screenshot_as_png())
    assert stats.get("colors", 0) >= 100 and stats.get("ink", 0) >= 0.1, stats
    save_for_docs(browser, "weekly_tearsheet.png")
