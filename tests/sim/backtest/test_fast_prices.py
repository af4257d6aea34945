"""The fast engine's compiled price arithmetic is Python's, float for float: rounding (half to
even on the exact binary value), the tick grid, slippage, IB's tiered commissions, share sizing."""

from __future__ import annotations

import random

import pytest

from sim.backtest.fast import prices
from sim.engine.commissions import IBTieredCommission
from sim.engine.matching import slipped
from sim.market import ticks
from trade.risk import _whole_shares
from trade.ticks import round_to_tick


def _values(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append(rng.choice([
            rng.uniform(0.0, 2.0), rng.uniform(0.0, 900.0), round(rng.uniform(0, 500), 3),
            rng.randint(0, 100_000) / 1000, rng.randint(0, 1_000_000) / 200,  # many exact halves
            rng.randint(1, 50_000) / 100 * (1.0 + rng.choice([0.014, 0.008, 0.02, 0.0125])),
        ]))
    return out


@pytest.mark.parametrize("x", [2.675, 0.125, 0.135, 1.005, 101.39999999999999, 2.5e-5, 0.00015,
                               12.345, 12.355, 0.5, 1.5, 2.5, 1e-9, 123456.785])
@pytest.mark.parametrize("digits", [0, 2, 4, 6])
def test_round_is_pythons_on_half_way_cases(x: float, digits: int) -> None:
    assert prices.py_round(x, digits) == round(x, digits)
    assert prices.py_round(-x, digits) == round(-x, digits)


def test_round_tick_slippage_and_sizing_equal_python_on_many_values() -> None:
    for x in _values(20_000, 1):
        for digits in (2, 4, 6):
            assert prices.py_round(x, digits) == round(x, digits), (x, digits)
        assert prices.round_to_tick(x) == round_to_tick(x), x
        if x <= 0:
            continue
        for direction in (-1, 0, 1):
            assert prices.to_tick(x, direction) == ticks.to_tick(x, direction), (x, direction)
        for buy in (True, False):
            for bps in (0.0, 1.0, 2.5):
                assert prices.slipped(x, buy, bps) == slipped(x, buy, bps), (x, buy, bps)
        cash = x * 37.3 - 50.0
        assert prices.whole_shares(cash, x) == _whole_shares(cash, x), (cash, x)


def test_commission_equals_ib_tiered_schedule() -> None:
    model = IBTieredCommission()
    rng = random.Random(2)
    for price in _values(5_000, 3):
        if price <= 0:
            continue
        shares = float(rng.choice([1, 7, 99, 100, 101, 350, 2_000, 60_000]))
        for sell in (True, False):
            for removes in (True, False):
                expected = model.commission(shares, price, "SELL" if sell else "BUY", removes)
                assert prices.commission(shares, price, sell, removes) == expected, (shares, price)
