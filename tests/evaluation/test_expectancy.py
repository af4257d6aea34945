"""The parameters' expectancy per trade with its interval, said plainly when negative
(evaluation/expectancy.py; issue 21 item 11)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from evaluation.expectancy import (
    Expectancy,
    expectancy,
    losing_line,
    trades_from_backtest,
)
from evaluation.performance import TradeRecord
from tests.paths import REPO

DAY = date(2026, 2, 2)


def _trade(day: date, ret: float, notional: float = 10_000.0, commission: float = 1.0
           ) -> TradeRecord:
    entry = datetime(day.year, day.month, day.day, 10, 0)
    qty = 100
    price = notional / qty
    return TradeRecord("SPY", day, entry, entry + timedelta(minutes=30), qty, price,
                       price * (1 + ret), notional * ret + commission, commission)


def test_no_trades_no_figure_and_a_gain_is_not_a_warning() -> None:
    assert expectancy([]) is None and losing_line(None, "x") is None
    gains = [_trade(DAY + timedelta(days=i % 3), 0.004) for i in range(12)]
    result = expectancy(gains)
    assert result is not None and result.per_trade == pytest.approx(0.004)
    assert losing_line(result, "the current parameters") is None


def test_a_loss_is_one_plain_line_with_its_interval() -> None:
    trades = [_trade(DAY + timedelta(days=d), r) for d in range(10) for r in (-0.006, 0.002)]
    result = expectancy(trades)
    assert result is not None and result.trades == 20 and result.sessions == 10
    assert result.per_trade == pytest.approx(-0.002)
    assert result.low <= result.per_trade <= result.high and result.surely_negative
    assert losing_line(result, "the current parameters, replayed on 10 sessions,") == (
        "the current parameters, replayed on 10 sessions, lose money: expectancy -0.200% per "
        f"trade (95% interval {result.low:+.3%} to {result.high:+.3%}; 20 trades on 10 sessions)")
    assert expectancy(trades) == result  # seeded: the same trades, the same interval
    assert Expectancy.from_dict(result.as_dict()) == result  # storable in a report


def test_noise_around_zero_says_the_interval_reaches_zero() -> None:
    rng = random.Random(3)
    trades = [_trade(DAY + timedelta(days=d), rng.gauss(-0.0002, 0.01))
              for d in range(8) for _ in range(3)]
    result = expectancy(trades)
    assert result is not None and result.negative and not result.surely_negative
    line = losing_line(result, "these parameters")
    assert line is not None and "lose on average (the interval reaches zero)" in line


def test_the_interval_covers_the_true_expectancy_about_as_often_as_it_says() -> None:
    """Seeded markets where the truth is known: per-trade returns with a session effect (trades
    of one session share it), true mean -0.1%; the 95% session-bootstrap interval should cover
    it about 95% of the time (a bootstrap over 20 sessions runs a little narrow)."""
    covered = 0
    runs = 200
    for seed in range(runs):
        rng = random.Random(seed)
        trades = []
        for d in range(20):
            shared = rng.gauss(0.0, 0.004)
            trades += [_trade(DAY + timedelta(days=d), -0.001 + shared + rng.gauss(0.0, 0.006),
                              commission=0.0) for _ in range(rng.randint(2, 8))]
        result = expectancy(trades, resamples=1000, seed=seed)
        assert result is not None
        covered += result.low <= -0.001 <= result.high
    assert 0.85 <= covered / runs <= 0.99, covered


def test_the_command_reads_a_backtest_json(tmp_path: Path) -> None:
    document = {"kind": "backtest", "metrics": {"net_pnl": -42.0, "return_pct": -0.00042},
                "trades": [{"date": "2026-02-02", "symbol": "SPY", "qty": 10,
                            "entry_time": "2026-02-02T10:00:00-05:00", "entry_price": 100.0,
                            "exit_time": "2026-02-02T10:30:00-05:00", "exit_price": 99.5,
                            "exit_reason": "stop", "pnl": -6.0, "commission": 1.0}] * 3}
    path = tmp_path / "bt.json"
    path.write_text(json.dumps(document))
    assert trades_from_backtest(document)[0].net_pnl == pytest.approx(-6.0)
    result = subprocess.run([sys.executable, "-m", "evaluation.expectancy", str(path)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "expectancy -0.600% per trade (95% interval -0.600% to -0.600%; 3 trades on 1 sessions);"
        " net P&L -42.00 (-0.04%)",
        "these parameters lose money: expectancy -0.600% per trade (95% interval -0.600% to "
        "-0.600%; 3 trades on 1 sessions)"]
    bad = subprocess.run([sys.executable, "-m", "evaluation.expectancy", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
