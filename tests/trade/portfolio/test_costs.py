"""The cost estimate the filter and the report use: IB's tiered schedule, held to the cent to
the one the simulator charges, and the round trip a new name must earn back."""

from __future__ import annotations

import pytest

from sim.engine.commissions import IBTieredCommission
from trade.portfolio.costs import commission, cycle_cost, round_trip
from trade.portfolio.universe import PortfolioRules


@pytest.mark.parametrize("side", ["BUY", "SELL"])
@pytest.mark.parametrize("shares", [1, 7, 100, 537, 5_000, 60_000])
@pytest.mark.parametrize("price", [0.8, 4.99, 27.13, 312.5])
def test_the_estimate_is_the_simulators_schedule(side, shares, price):
    charged = IBTieredCommission().commission(shares, price, side, removes_liquidity=True)
    assert commission(shares, price, side) == pytest.approx(charged, abs=0.005)


def test_the_minimum_and_the_cap():
    assert commission(10, 100.0, "BUY") == pytest.approx(0.35 + 10 * 0.0032 + 0.35 * 0.000175,
                                                         abs=1e-6)  # rounded to 6 places
    # 1% of a $10 trade caps the IB part at $0.10
    assert commission(100, 0.1, "BUY") == pytest.approx(0.10 + 100 * 0.0032 + 0.1 * 0.000175,
                                                        abs=1e-6)


def test_the_round_trip_is_slippage_both_ways_plus_commission_per_share():
    rules = PortfolioRules(slippage_bps=5.0)
    assert round_trip(200.0, rules) == pytest.approx(0.001 + 2 * 0.0067006125 / 200 + 27.8e-6)
    assert round_trip(20.0, rules) > round_trip(200.0, rules)  # per-share costs weigh more
    assert round_trip(0.0, rules) == float("inf")


def test_a_cycles_expected_cost():
    rules = PortfolioRules(slippage_bps=4.0)
    cost = cycle_cost([("SELL", 100, 50.0), ("BUY", 40, 250.0), ("BUY", 0, 10.0)], 100_000.0,
                      rules)
    assert cost.orders == 2 and cost.traded_value == 15_000.0
    assert cost.turnover == pytest.approx(0.15)
    assert cost.slippage == pytest.approx(15_000.0 * 4e-4)
    assert cost.commission == pytest.approx(commission(100, 50.0, "SELL")
                                            + commission(40, 250.0, "BUY"))
    shown = cost.as_dict()
    assert shown["total"] == round(cost.commission + cost.slippage, 2)
    assert shown["cost_bps_of_budget"] == pytest.approx(cost.total / 100_000.0 * 1e4, abs=0.01)
