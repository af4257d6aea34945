"""The gate's parts: the paired per-session test (its level holds with a day-level shock, and on
ten sessions), the deflation for distinct candidates, the contiguous window, the risk-adjusted
sizing scale."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from evaluation.performance import TradeRecord
from improvement.gate import GateSettings, replay_window, sizing_scale
from improvement.paired import block_bootstrap_se, deflated_alpha, paired_test
from improvement.replay import ReplayDay, ReplayResult
from tests.improvement.conftest import DAYS
from tests.improvement.markets import WaveMarket

NY = ZoneInfo("America/New_York")


def test_the_bound_is_student_t_on_the_larger_standard_error() -> None:
    diffs = [30.0, -10.0, 55.0, 12.0, 41.0, -5.0, 22.0, 18.0, 9.0, 35.0]
    test = paired_test(diffs, 0.0025, seed=1)
    iid = float(np.std(diffs, ddof=1)) / math.sqrt(len(diffs))
    assert test.se is not None and test.se >= iid
    assert test.se == max(iid, block_bootstrap_se(diffs, 1))
    assert test.low is not None and test.high is not None
    # t(9) at 0.25% is 3.690 (a normal quantile would give 2.807 and a narrower interval)
    assert abs((test.mean - test.low) / test.se - 3.6897) < 1e-3
    assert test.p is not None and 0 < test.p < 1


def test_too_few_sessions_or_no_variation_decide_nothing() -> None:
    assert not paired_test([50.0], 0.01, 0).passed
    flat = paired_test([5.0, 5.0, 5.0], 0.01, 0)
    assert flat.se is None and not flat.passed and flat.low is None


def test_a_day_level_shock_does_not_inflate_false_passes() -> None:
    """The defect of the per-trade test: trades of one day share its shock. Per-session
    differences of a candidate no better than the current params, each day with its own
    shock: the paired test at 5% passes at most ~5% of 2,000 ten-session samples."""
    rng = np.random.default_rng(7)
    passes = 0
    for i in range(2000):
        shock = rng.normal(0, 80, 10)  # the day's shock on the difference
        trades = rng.normal(0, 20, (10, 15)).sum(axis=1)  # 15 trades a day
        passes += paired_test(shock + trades, 0.05, seed=i).passed
    assert passes <= 0.06 * 2000, passes


def test_a_real_edge_on_ten_sessions_passes() -> None:
    rng = np.random.default_rng(8)
    found = sum(paired_test(rng.normal(150, 80, 10), 0.0025, seed=i).passed for i in range(200))
    assert found >= 0.8 * 200, found


def test_distinct_candidates_deflate_the_level_and_re_tests_do_not() -> None:
    assert deflated_alpha(0.01, 1) == 0.01
    assert abs(deflated_alpha(0.01, 4) - (1 - 0.99 ** 0.25)) < 1e-15
    assert deflated_alpha(0.01, 0) == 0.01


def test_the_window_is_the_contiguous_sessions_ending_at_the_night(wave_market: WaveMarket) -> None:
    """A December night must not "validate" on February sessions: the window is the calendar's
    20 sessions up to the night, and data that lies elsewhere leaves it empty."""
    from improvement.fast_replay import BacktestReplayer
    from improvement.replay import ReplayConfig

    replayer = BacktestReplayer(wave_market, ["AAA"], ReplayConfig(allocation=0.5))
    late = replay_window(replayer, date(2026, 12, 15), GateSettings())
    assert late.present == () and late.problem is not None
    assert "replay data for 0 of 20 sessions 2026-11-17..2026-12-15" in late.problem
    first = replay_window(replayer, DAYS[9], GateSettings())  # 10 sessions of data so far
    assert first.coverage == "10 of 20 sessions" and first.problem is not None
    assert "in-sample part 0 of 7, test part 10 of 13" in first.problem
    full = replay_window(replayer, date(2026, 2, 18), GateSettings())
    assert full.problem is None and (len(full.in_sample), len(full.test)) == (7, 13)
    assert full.test[-1] == date(2026, 2, 18) and full.in_sample[-1] < full.test[0]


def _day(day: date, notional: float, pnl: float) -> ReplayDay:
    at = datetime(day.year, day.month, day.day, 10, tzinfo=NY)
    qty = 100
    trade = TradeRecord("AAA", day, at, at, qty, notional / qty, notional / qty + pnl / qty, pnl)
    return ReplayDay(day, pnl, (trade,))


def test_a_bigger_size_that_only_earns_proportionally_more_shows_no_improvement() -> None:
    days = DAYS[:6]
    current = ReplayResult(tuple(_day(d, 4_000.0, p) for d, p in zip(days, [10, -5, 8, 3, -2, 6],
                                                                    strict=True)))
    bigger = ReplayResult(tuple(_day(d.day, 10_000.0, d.net_pnl * 2.5) for d in current.days))
    scale = sizing_scale(current, bigger)
    assert abs(scale - 0.4) < 1e-12
    from improvement.gate import differences

    assert max(abs(x) for x in differences(current, bigger, scale)) < 1e-9
    assert sum(differences(current, bigger)) > 0  # unscaled, leverage would look like an edge
