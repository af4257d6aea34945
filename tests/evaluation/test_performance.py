"""evaluation.performance against hand calculations on a six-session trade list.

The expected numbers are worked out in the comments and recomputed here with the standard
library (statistics, NormalDist), not with the module under test.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist, fmean, stdev
from zoneinfo import ZoneInfo

import pytest

from evaluation.performance import (
    TradeRecord,
    compute_metrics,
    daily_pnl_series,
    metrics_by_label,
    record_day_metrics,
    trade_records,
)
from evaluation.sharpe import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    probabilistic_sharpe_ratio,
)
from observability.history import HistoryDB
from observability.schema import TradeRow

NY = ZoneInfo("America/New_York")
DAYS = [date(2025, 3, d) for d in (3, 4, 5, 6, 7, 10)]
EQUITY = 10_000.0
ALLOCATION = 0.5


def trade(day: date, start: str, minutes: int, qty: int, entry: float, exit_: float,
          commission: float, symbol: str = "SPY", variant: str = "") -> TradeRecord:
    hh, mm = map(int, start.split(":"))
    opened = datetime(day.year, day.month, day.day, hh, mm, tzinfo=NY)
    return TradeRecord(symbol, day, opened, opened + timedelta(minutes=minutes), qty, entry,
                       exit_, round((exit_ - entry) * qty, 6), commission, variant)


# net P&L per trade (gross - commission), in exit order:
#   d1 +100 (110 - 10)   d2 -50   d3 +200 (210 - 10)   d4 -60 (-55 - 5), -40   d5 +50 (52 - 2)
#   d6: no trade
TRADES = [
    trade(DAYS[0], "09:40", 30, 10, 100.0, 111.0, 10.0),
    trade(DAYS[1], "10:00", 60, 10, 100.0, 95.0, 0.0),
    trade(DAYS[2], "09:30", 20, 20, 50.0, 60.5, 10.0),
    trade(DAYS[3], "13:00", 90, 10, 100.0, 94.5, 5.0),
    trade(DAYS[3], "14:40", 20, 10, 100.0, 96.0, 0.0),
    trade(DAYS[4], "11:00", 30, 10, 100.0, 105.2, 2.0),
]
DAILY = [(DAYS[0], 100.0), (DAYS[1], -50.0), (DAYS[2], 200.0), (DAYS[3], -100.0),
         (DAYS[4], 50.0), (DAYS[5], 0.0)]
RETURNS = [p / EQUITY for _, p in DAILY]  # 1%, -0.5%, 2%, -1%, 0.5%, 0%


@pytest.fixture(scope="module")
def metrics() -> dict[str, object]:
    # shuffled input: the function orders trades by exit time itself
    return compute_metrics(list(reversed(TRADES)), DAILY, EQUITY, ALLOCATION).as_dict()


def test_counts_and_pnl(metrics: dict[str, object]) -> None:
    assert metrics["trades"] == 6 and metrics["sessions"] == 6
    assert metrics["wins"] == 3 and metrics["losses"] == 3 and metrics["win_rate"] == 0.5
    assert metrics["gross_pnl"] == pytest.approx(110 - 50 + 210 - 55 - 40 + 52)  # 227
    assert metrics["commissions"] == pytest.approx(27.0)
    assert metrics["net_pnl"] == pytest.approx(200.0)
    assert metrics["return_pct"] == pytest.approx(0.02)
    assert metrics["best_trade"] == pytest.approx(200.0)
    assert metrics["worst_trade"] == pytest.approx(-60.0)


def test_win_loss_ratios(metrics: dict[str, object]) -> None:
    assert metrics["avg_win"] == pytest.approx(350 / 3)  # (100 + 200 + 50) / 3
    assert metrics["avg_loss"] == pytest.approx(-50.0)  # (-50 - 60 - 40) / 3
    assert metrics["profit_factor"] == pytest.approx(350 / 150)
    assert metrics["expectancy"] == pytest.approx(200 / 6)
    assert metrics["risk_reward"] == pytest.approx((350 / 3) / 50)
    assert metrics["longest_losing_streak"] == 2  # -60, -40 on d4


def test_drawdown_follows_equity_trade_by_trade(metrics: dict[str, object]) -> None:
    # equity 10000 -> 10100 -> 10050 -> 10250 (peak) -> 10190 -> 10150 -> 10200
    assert metrics["max_drawdown"] == pytest.approx(100.0)
    assert metrics["max_drawdown_pct"] == pytest.approx(100 / 10_250, abs=1e-6)


def test_sharpe_and_sortino_on_daily_returns(metrics: dict[str, object]) -> None:
    # mean 1/300, sample variance 583.33e-6 / 5 -> SR^2 = 2/21 per day, x 252 = 24
    assert metrics["sharpe"] == pytest.approx(math.sqrt(24), abs=1e-5)
    assert metrics["sharpe"] == pytest.approx(fmean(RETURNS) / stdev(RETURNS) * math.sqrt(252), abs=1e-5)
    # downside deviation^2 = (0.005^2 + 0.01^2) / 6; (1/300)^2 / that = 0.5333; x 252 = 134.4
    assert metrics["sortino"] == pytest.approx(math.sqrt(134.4), abs=1e-5)


def test_probabilistic_sharpe_by_hand(metrics: dict[str, object]) -> None:
    sr = fmean(RETURNS) / stdev(RETURNS)
    mean = fmean(RETURNS)
    m2, m3, m4 = (fmean([(r - mean) ** k for r in RETURNS]) for k in (2, 3, 4))
    skew, kurt = m3 / m2 ** 1.5, m4 / m2 ** 2  # 0.33806, 2.03998
    assert skew == pytest.approx(0.338062, abs=1e-5) and kurt == pytest.approx(2.03998, abs=1e-4)
    z = sr * math.sqrt(5) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2)
    assert metrics["psr"] == pytest.approx(NormalDist().cdf(z), abs=1e-6)
    assert metrics["psr"] == pytest.approx(0.7640, abs=1e-3)
    mintrl = 1 + (1 - skew * sr + (kurt - 1) / 4 * sr ** 2) * (NormalDist().inv_cdf(0.95) / sr) ** 2
    assert min_track_record_length(RETURNS) == pytest.approx(mintrl, rel=1e-9)
    assert mintrl == pytest.approx(27.15, abs=0.01)


def test_deflated_sharpe_counts_every_trial() -> None:
    trials = [math.sqrt(2 / 21), 0.10, -0.20, 0.05]
    n, mean = len(trials), fmean(trials)
    v = sum((s - mean) ** 2 for s in trials) / (n - 1)
    gamma, nd = 0.5772156649015329, NormalDist()
    sr0 = math.sqrt(v) * ((1 - gamma) * nd.inv_cdf(1 - 1 / n) + gamma * nd.inv_cdf(1 - 1 / (n * math.e)))
    assert expected_max_sharpe(trials) == pytest.approx(sr0, rel=1e-9)
    assert deflated_sharpe_ratio(RETURNS, trials) == pytest.approx(
        probabilistic_sharpe_ratio(RETURNS, sr0), rel=1e-12)
    # more trials with the same spread deflate harder; one trial deflates nothing
    many, few = deflated_sharpe_ratio(RETURNS, trials * 5), deflated_sharpe_ratio(RETURNS, trials)
    assert many is not None and few is not None and many < few
    assert deflated_sharpe_ratio(RETURNS, trials[:1]) == probabilistic_sharpe_ratio(RETURNS)


def test_exposure_duration_and_capital_efficiency(metrics: dict[str, object]) -> None:
    # notional x minutes: 1000*30 + 1000*60 + 1000*20 + 1000*90 + 1000*20 + 1000*30 = 250,000
    # allocation capital 5,000 over 6 sessions x 390 minutes
    assert metrics["exposure_pct"] == pytest.approx(250_000 / (5_000 * 2_340))
    assert metrics["capital_efficiency"] == pytest.approx(200 / (250_000 / 2_340))
    assert metrics["avg_trade_minutes"] == pytest.approx(250 / 6)


def test_nothing_to_measure_is_none_never_nan() -> None:
    empty = compute_metrics([], [(DAYS[0], 0.0), (DAYS[1], 0.0)], EQUITY, ALLOCATION).as_dict()
    assert empty["trades"] == 0 and empty["net_pnl"] == 0 and empty["max_drawdown"] == 0
    for key in ("win_rate", "profit_factor", "sharpe", "sortino", "psr", "expectancy",
                "avg_win", "avg_loss", "risk_reward", "best_trade", "avg_trade_minutes"):
        assert empty[key] is None, key
    json.dumps(empty, allow_nan=False)
    winners_only = compute_metrics(TRADES[:1], None, EQUITY, ALLOCATION).as_dict()
    assert winners_only["profit_factor"] is None and winners_only["sharpe"] is None
    json.dumps(winners_only, allow_nan=False)


def test_metrics_by_label_groups_sessions_and_their_trades() -> None:
    labels = {d: ("A" if i % 2 == 0 else "B") for i, d in enumerate(DAYS)}
    groups = metrics_by_label(TRADES, DAILY, labels, EQUITY, ALLOCATION)
    assert set(groups) == {"A", "B"}
    assert groups["A"]["net_pnl"] == pytest.approx(100 + 200 + 50)  # d1, d3, d5
    assert groups["B"]["net_pnl"] == pytest.approx(-50 - 100 + 0)  # d2, d4, d6
    assert groups["B"]["trades"] == 3 and groups["B"]["sessions"] == 3


def test_db_adapter_reads_net_pnl_and_commission_and_writes_daily_metrics(tmp_path: Path) -> None:
    with HistoryDB.open(tmp_path / "h.db") as db:
        for t in TRADES:
            db.record_trade(TradeRow(t.trading_date, "intraday", t.symbol, "BUY", t.qty,
                                     t.entry_time, t.entry_price, t.exit_time, t.exit_price,
                                     t.net_pnl, t.commission, exit_reason="target"))
        db.record_trade(TradeRow(DAYS[0], "weekly", "AAPL", "BUY", 1, TRADES[0].entry_time, 1.0,
                                 TRADES[0].exit_time, 2.0, 1.0))
        records = trade_records(db, DAYS[0], DAYS[-1])
        assert len(records) == 6 and sum(r.net_pnl for r in records) == pytest.approx(200.0)
        series = daily_pnl_series(records, DAYS)
        assert [d for d, _ in series] == DAYS
        assert [p for _, p in series] == pytest.approx([p for _, p in DAILY])
        day = compute_metrics([r for r in records if r.trading_date == DAYS[3]],
                              [DAILY[3]], EQUITY, ALLOCATION)
        record_day_metrics(db, DAYS[3], day, variant="B", window_sharpe=4.9,
                           extra={"window_sessions": 6})
        [row] = db.daily_metrics("day_trader", DAYS[3], DAYS[3])
        assert (row.trades, row.total_pnl, row.commissions, row.variant) == (2, -100.0, 5.0, "B")
        assert row.sharpe == 4.9 and row.extra["window_sessions"] == 6
        assert row.extra["longest_losing_streak"] == 2 and row.extra["max_drawdown"] == 100.0
