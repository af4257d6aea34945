"""The daily report's equity curve: realized P&L steps at exits, open positions marked to market."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trade.models import Bar
from ui.day_charts import equity_points, price_chart
from ui.day_inputs import ReportTrade

NY = ZoneInfo("America/New_York")
OPEN = datetime(2025, 7, 3, 9, 30, tzinfo=NY)


def _bars(symbol: str, closes: list[float]) -> list[Bar]:
    return [Bar(symbol, OPEN + timedelta(minutes=i), c, c + 0.1, c - 0.1, c, 1000.0)
            for i, c in enumerate(closes)]


def _trade(symbol: str, entry_min: float, exit_min: float | None, entry: float, exit_: float,
           qty: int = 10, net: float | None = None, reason: str = "target") -> ReportTrade:
    return ReportTrade(
        symbol=symbol, side="BUY", qty=qty, entry_time=OPEN + timedelta(minutes=entry_min),
        entry_price=entry, exit_time=OPEN + timedelta(minutes=exit_min) if exit_min is not None else None,
        exit_price=exit_, exit_reason=reason,
        net_pnl=net if net is not None else (exit_ - entry) * qty - 1.0, commission=1.0,
    )


def _at(points: list, minute: float) -> tuple[float, float]:
    moment = OPEN + timedelta(minutes=minute)
    [point] = [p for p in points if p.time == moment]
    return point.realized, point.total


def test_an_open_position_is_marked_at_each_completed_minute_close() -> None:
    bars = {"SPY": _bars("SPY", [100.0, 101.0, 102.0, 99.0, 100.0])}
    trade = _trade("SPY", 1.5, 4.5, entry=101.0, exit_=100.5)  # entered mid-minute 1, left mid-4
    points = equity_points([trade], bars)
    assert _at(points, 1.5) == (0.0, pytest.approx(-10.0))  # only bar 0 (close 100) is complete
    assert _at(points, 3) == (0.0, pytest.approx(10.0))  # bar 2 (close 102) ended at minute 3
    assert _at(points, 4) == (0.0, pytest.approx(-20.0))  # bar 3 (close 99) ended at minute 4
    assert _at(points, 4.5) == (pytest.approx(-6.0), pytest.approx(-6.0))  # closed: net after commission
    assert _at(points, 5) == (pytest.approx(-6.0), pytest.approx(-6.0))


def test_without_bars_only_realized_results_count() -> None:
    trades = [_trade("QQQ", 0, 10, 500.0, 505.0, net=49.0), _trade("QQQ", 20, 30, 505.0, 500.0, net=-51.0)]
    points = equity_points(trades, {})
    assert [(round(p.realized, 2), round(p.total, 2)) for p in points] == [
        (0.0, 0.0), (49.0, 49.0), (49.0, 49.0), (-2.0, -2.0)]


def test_price_chart_has_one_marker_per_entry_and_per_exit_labelled_by_reason() -> None:
    trades = [_trade("SPY", 1, 3, 100.0, 101.4, reason="target"),
              _trade("SPY", 5, 8, 101.0, 100.2, reason="stop"),
              _trade("SPY", 9, 12, 100.0, 100.1, reason="flatten")]
    fig = price_chart("SPY", _bars("SPY", [100.0 + i * 0.1 for i in range(15)]), trades, 5)
    by_name = {t.name: t for t in fig.data}
    assert len(by_name["entries"].x) == 3
    assert {name: list(t.text) for name, t in by_name.items() if name.startswith("exits: ")} == {
        "exits: flatten": ["flatten"], "exits: stop": ["stop"], "exits: target": ["target"]}
    vwap = by_name["VWAP(5)"].y
    assert all(v != v for v in vwap[:4]) and vwap[4] == pytest.approx(100.2)  # NaN until 5 bars
