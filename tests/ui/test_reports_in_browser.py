"""The daily report of a replayed shared session and the tearsheets, opened in headless Chromium:
the screenshot is not blank, there is one chart per traded symbol, and the drawn markers match
the trades."""

from __future__ import annotations

import socket
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from observability.history import HistoryDB
from sim.market.bar_sources import read_bar_csv
from tests.e2e.harness import DATA, run_bot, write_watchlist
from tests.ui.backtest_fixtures import make_backtest, make_sweep, write
from tests.ui.browser import image_stats, save_for_docs
from ui.tearsheet import build_tearsheet

# one worker replays the day for every test of the module (`replayed_day`)
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("replayed_day")]

DAY = date(2026, 2, 27)
OVERRIDES = {"SPY": {"atr_min_pct": 0.0003, "atr_timeframe": "1 min"},
             "NVDA": {"atr_min_pct": 0.0008, "atr_timeframe": "1 min"},
             "COIN": {"atr_min_pct": 0.0015, "atr_timeframe": "1 min"}}

_CHARTS = """
return Array.from(document.querySelectorAll(arguments[0])).map(function (box) {
  var gd = box.querySelector(".plotly-graph-div");
  var count = function (keep) {
    return gd.data.filter(keep).reduce(function (n, t) { return n + t.x.length; }, 0);
  };
  return {
    id: gd.id,
    drawn: gd.querySelectorAll(".main-svg").length > 0,
    entries: count(function (t) { return t.name === "entries"; }),
    exits: count(function (t) { return (t.name || "").indexOf("exits: ") === 0; }),
    points: gd.querySelectorAll(".scatterlayer .trace .points path.point").length,
    labels: gd.querySelectorAll(".scatterlayer .trace .text text").length,
    candles: gd.querySelectorAll(".boxlayer path").length
  };
});
"""


@pytest.fixture(scope="module")
def replayed_day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`day_trader.py --sim` on a real shared session; it records each completed minute bar and
    writes the day report after the close (with its status page's port taken: it trades anyway)."""
    workdir = tmp_path_factory.mktemp("replay")
    watchlist = write_watchlist(workdir, list(OVERRIDES), OVERRIDES)
    db_path = workdir / "sim.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_bot(workdir, "--allocation", "0.25", "--sim", "--sim-data", str(DATA),
                         "--sim-date", DAY.isoformat(), "--speed", "3000", "--watchlist",
                         str(watchlist), "--db", str(db_path), "--no-improve",
                         "--status-port", str(port), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    refused = [line for line in result.stdout.splitlines() if "status page" in line]
    assert refused == [f"day_trader: status page not started: 127.0.0.1:{port} is in use; "
                       "trading continues (pick another --status-port, or 0 for none)"]
    with HistoryDB.open(db_path) as db:
        trades = db.trades_on(DAY, book="intraday")
        bars = {symbol: db.minute_bars(DAY, symbol) for symbol in OVERRIDES}
    assert len({t.symbol for t in trades}) >= 2, "the replay should trade several symbols"
    return {"workdir": workdir, "trades": trades, "bars": bars, "stdout": result.stdout}


def test_the_bot_records_the_minute_bars_it_traded_on(replayed_day: dict[str, Any]) -> None:
    for symbol, stored in replayed_day["bars"].items():
        replayed = {b.start: b for b in read_bar_csv(DATA / "intraday" / symbol / f"{DAY}.csv", symbol)}
        assert len(stored) >= 380, (symbol, len(stored))  # 09:30 until the flatten at 15:55
        for bar in stored:
            source = replayed[bar.start]
            assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
                source.open, source.high, source.low, source.close, source.volume)


def _assert_not_blank(browser: Any, png: bytes, min_colors: int, min_ink: float) -> None:
    stats = image_stats(browser, png)
    assert "error" not in stats, stats
    assert stats["colors"] >= min_colors and stats["ink"] >= min_ink, stats


def test_the_day_report_written_after_the_close_in_a_browser(browser: Any,
                                                            replayed_day: dict[str, Any]) -> None:
    # the reports of a DB of the user's choosing live beside it (trade/records_routing.py)
    line = "day_trader: day report written to sim_reports/daily/day_report_2026-02-27.html"
    assert line in [row.replace(str(replayed_day["workdir"]) + "/", "")
                    for row in replayed_day["stdout"].splitlines()]
    report = replayed_day["workdir"] / "sim_reports" / "daily" / "day_report_2026-02-27.html"
    browser.get(report.as_uri())
    browser.find_element("css selector", "#chart-SPY .main-svg, .symbol-chart .main-svg")
    charts = browser.execute_script(_CHARTS, ".symbol-chart")
    per_symbol = Counter(t.symbol for t in replayed_day["trades"])
    assert sorted(c["id"] for c in charts) == sorted(f"chart-{s}" for s in per_symbol)
    for chart in charts:
        trades = per_symbol[chart["id"].removeprefix("chart-")]
        assert chart["drawn"] and chart["candles"] >= 200, chart  # a session of 1-minute candles
        assert chart["entries"] == chart["exits"] == chart["labels"] == trades, chart
        assert chart["points"] == 2 * trades, chart  # every marker is drawn, not just listed
    [equity] = browser.execute_script(_CHARTS, "[data-chart=equity-curve]")
    assert equity["drawn"]
    _assert_not_blank(browser, browser.get_screenshot_as_png(), min_colors=200, min_ink=0.1)
    for element in browser.find_elements("css selector", ".symbol-chart"):
        _assert_not_blank(browser, element.screenshot_as_png, min_colors=40, min_ink=0.02)
    save_for_docs(browser, "day_report.png")

    rows = browser.find_elements("css selector", "#trades-table tbody tr")
    assert len(rows) == len(replayed_day["trades"])
    browser.find_element("xpath", "//table[@id='trades-table']//th[text()='net P&L']").click()
    shown = [float(r.get_attribute("data-sort")) for r in
             browser.find_elements("css selector", "#trades-table tbody tr td:nth-child(9)")]
    assert shown == sorted(shown) and len(shown) == len(rows)


def test_the_backtest_tearsheet_in_a_browser(browser: Any, tmp_path: Path) -> None:
    data = make_backtest(sessions_count=120)
    page = build_tearsheet(write(tmp_path / "bt.json", data), tmp_path / "out" / "bt.html")
    browser.get(page.as_uri())
    browser.find_element("css selector", "[data-chart=equity] .main-svg")
    charts = {c["id"]: c for c in browser.execute_script(_CHARTS, ".chart")}
    assert set(charts) == {"equity", "drawdown", "pnl-distribution"}
    assert all(c["drawn"] for c in charts.values())
    sessions = browser.execute_script(
        "var gd = document.getElementById('pnl-distribution'); return gd.data[0].x.length;")
    assert sessions == 120
    bars = browser.find_elements("css selector", "#pnl-distribution .barlayer path")
    assert len(bars) >= 10  # a drawn histogram, not an empty axis
    traded = sum(int(c.text.replace(",", "")) for c in
                 browser.find_elements("css selector", "#symbols-table tbody td:nth-child(2)"))
    assert traded == len(data["trades"])
    _assert_not_blank(browser, browser.get_screenshot_as_png(), min_colors=100, min_ink=0.1)
    save_for_docs(browser, "tearsheet.png")


def test_the_sweep_heat_map_in_a_browser(browser: Any, tmp_path: Path) -> None:
    page = build_tearsheet(write(tmp_path / "sweep.json", make_sweep(rsi=(55.0, 60.0))),
                           tmp_path / "out" / "sweep.html", metric="sharpe")
    browser.get(page.as_uri())
    browser.find_element("css selector", "#heatmap .main-svg")
    shape = browser.execute_script(
        "var z = document.getElementById('heatmap').data[0].z; return [z.length, z[0].length];")
    assert shape == [3, 5]  # stop_loss x profit_target
    _assert_not_blank(browser, browser.find_element("id", "heatmap").screenshot_as_png,
                      min_colors=15, min_ink=0.3)
    assert len(browser.find_elements("css selector", "#sweep-table tbody tr")) == 25
    save_for_docs(browser, "sweep.png")
