"""The portfolio manager's rules: targets, the drift band, whole shares, sells within the book,
limits with bounded slippage on the tick grid, buys within cash."""

from __future__ import annotations

import pytest

from trade.models import Side
from trade.portfolio.manager import (
    band_verdict,
    fit_to_cash,
    limit_price,
    orders_for,
    plan_targets,
    target_weights,
)
from trade.portfolio.universe import PortfolioRules

RULES = PortfolioRules(top_k=3, max_weight=0.3, cash_buffer=0.05, band_abs=0.05, band_rel=0.25,
                       min_order_value=500.0, max_slippage=0.005)


def test_top_k_equal_weights_capped_with_a_cash_buffer():
    # (1 - 5%) / 3 = 31.7% per name, capped at 30%
    assert target_weights(["A", "B", "C", "D"], RULES) == {"A": 0.3, "B": 0.3, "C": 0.3}
    assert target_weights(["A", "B"], RULES) == {"A": 0.3, "B": 0.3}  # cap: 40% stays cash
    loose = PortfolioRules(top_k=4, max_weight=0.5, cash_buffer=0.1)
    assert target_weights(["A", "B", "C", "D"], loose) == pytest.approx(
        {"A": 0.225, "B": 0.225, "C": 0.225, "D": 0.225})
    assert target_weights([], RULES) == {}


@pytest.mark.parametrize(("target", "current", "outside", "words"), [
    (0.20, 0.20, False, "inside band"),
    (0.20, 0.26, True, "> 5 pp"),  # 6 pp absolute
    (0.10, 0.13, True, "> 25% relative"),  # 3 pp, 30% relative
    (0.10, 0.12, False, "inside band"),  # 2 pp, 20% relative
    (0.00, 0.04, True, "exit"),
    (0.15, 0.00, True, "new position"),
])
def test_the_drift_band_absolute_or_relative(target, current, outside, words):
    verdict, reason = band_verdict(target, current, RULES)
    assert verdict is outside and words in reason


def test_targets_decide_once_per_name_whole_shares_and_minimum_order():
    prices = {"A": 100.0, "B": 50.0, "C": 1000.0, "OLD": 20.0}
    held = {"A": 300, "B": 50, "OLD": 10}
    weights = {"A": 0.3, "B": 0.3, "C": 0.001}
    targets = {t.symbol: t for t in plan_targets(weights, held, prices, 100_000.0, RULES)}
    assert (targets["A"].qty, targets["A"].planned) == (300, "")  # exactly on target
    assert (targets["B"].qty, targets["B"].planned) == (600, "BUY")
    assert targets["C"].planned == "" and "one share (1000.00) is more than" in targets["C"].reason
    assert (targets["OLD"].qty, targets["OLD"].planned) == (0, "SELL")  # an exit, even if tiny
    small = {t.symbol: t for t in plan_targets({"A": 0.3}, {"A": 296}, prices, 100_000.0,
                                               PortfolioRules(band_abs=0.0, band_rel=0.0))}
    assert small["A"].planned == "" and "< minimum order 500" in small["A"].reason


def test_orders_take_only_the_remaining_gap_and_sells_stay_within_the_book():
    prices = {"A": 100.0, "B": 50.0, "OLD": 20.0}
    targets = plan_targets({"A": 0.3, "B": 0.3}, {"B": 50, "OLD": 10}, prices, 100_000.0, RULES)
    buys = orders_for(Side.BUY, targets, {"B": 50}, {"A": 100}, prices, RULES)
    assert [(o.symbol, o.qty) for o in buys] == [("A", 200), ("B", 550)]
    assert buys[0].limit_price == 100.5 and buys[1].limit_price == 50.25
    sells = orders_for(Side.SELL, targets, {"OLD": 10}, {}, prices, RULES, {"OLD": 6})
    assert [(o.symbol, o.qty, o.limit_price) for o in sells] == [("OLD", 6, 19.9)]
    assert orders_for(Side.SELL, targets, {"OLD": 10}, {"OLD": 6}, prices, RULES, {"OLD": 6}) == []


def test_limits_are_bounded_and_on_the_tick_grid():
    assert limit_price(Side.BUY, 271.234, RULES) == 272.59
    assert limit_price(Side.SELL, 271.234, RULES) == 269.88
    assert limit_price(Side.BUY, 0.51234, RULES) == 0.5149


def test_buys_are_scaled_to_the_cash_available():
    prices = {"A": 100.0, "B": 50.0}
    targets = plan_targets({"A": 0.3, "B": 0.3}, {}, prices, 100_000.0, RULES)
    buys = orders_for(Side.BUY, targets, {}, {}, prices, RULES)
    kept, note = fit_to_cash(buys, 30_150.0)
    assert sum(o.qty * o.limit_price for o in kept) <= 30_150.0
    assert [o.qty for o in kept] == [150, 300] and note.startswith("buys scaled to 50%")
    assert fit_to_cash(buys, 1e9) == (buys, "")
