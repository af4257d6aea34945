"""What trading costs, estimated before the orders go out: IB's commission and the slippage.

The weekly filter needs the round trip a new name must earn back, and the report states what a
cycle's planned trades will cost before they are sent. Both use this one estimate:

- commission: IBKR Pro **tiered**, lowest-volume tier, as IB publishes it for US stocks
  (https://www.interactivebrokers.com/en/pricing/commissions-stocks.php): USD 0.0035 per share,
  at least USD 0.35 and at most 1% of the trade value per order, plus the pass-through fees IB
  itemises: exchange fee USD 0.0030 per share for an order that removes liquidity (the
  rebalancer's limit is marketable when sent), clearing USD 0.00020 per share, FINRA
  pass-through 0.000175 x the commission, and on sales the SEC fee (USD 27.80 per million) and
  FINRA's TAF (USD 0.000166 per share, at most USD 8.30). The simulator charges the same
  schedule (sim/engine/commissions.py); tests/trade/portfolio/test_costs.py holds the two
  together to the cent.
- slippage: `rules.slippage_bps` per side, the half spread plus the impact of a small order: an
  assumption, stated in the report, which the backtest's slippage model (half spread + square-root
  impact, sim/backtest/weekly/fills.py) charges for real.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trade.portfolio.universe import PortfolioRules

PER_SHARE = 0.0035
MINIMUM = 0.35
MAX_PCT = 0.01
EXCHANGE_REMOVE = 0.0030
CLEARING = 0.00020
FINRA_PASS_THROUGH = 0.000175
SEC_FEE_RATE = 27.80 / 1_000_000
FINRA_TAF = 0.000166
FINRA_TAF_MAX = 8.30
# per share, all in, of an order large enough that the minimum does not bind (buy side)
ALL_IN_PER_SHARE = PER_SHARE * (1.0 + FINRA_PASS_THROUGH) + EXCHANGE_REMOVE + CLEARING


def commission(shares: float, price: float, side: str) -> float:
    """USD IB charges for one order of `shares` at `price` that removes liquidity."""
    qty = abs(shares)
    value = qty * price
    ib = min(max(qty * PER_SHARE, MINIMUM), MAX_PCT * value)
    fees = qty * (CLEARING + EXCHANGE_REMOVE) + ib * FINRA_PASS_THROUGH
    if side.upper() == "SELL":
        fees += value * SEC_FEE_RATE + min(qty * FINRA_TAF, FINRA_TAF_MAX)
    return round(ib + fees, 6)


def round_trip(price: float, rules: PortfolioRules) -> float:
    """Buying now and selling later, as a fraction of the position: slippage both ways plus
    the per-share commission at this price (a $20 stock pays 3.4 bp a side in commission, a
    $200 one 0.3 bp). Split-adjusted history makes old prices look small: the estimate is then
    high, never low."""
    if price <= 0:
        return float("inf")
    per_side = rules.slippage_bps / 10_000.0 + ALL_IN_PER_SHARE / price
    return 2.0 * per_side + SEC_FEE_RATE


@dataclass(frozen=True, slots=True)
class CycleCost:
    """The planned trades of one cycle, before they are sent."""

    traded_value: float  # buys + sells, dollars at the reference prices
    budget: float
    commission: float
    slippage: float
    orders: int

    @property
    def turnover(self) -> float:
        """Traded value / budget, two-sided (a full switch of the book is 2.0)."""
        return self.traded_value / self.budget if self.budget > 0 else 0.0

    @property
    def total(self) -> float:
        return self.commission + self.slippage

    def as_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "traded_value": round(self.traded_value, 2),
                "turnover": round(self.turnover, 6), "commission": round(self.commission, 2),
                "slippage": round(self.slippage, 2), "total": round(self.total, 2),
                "cost_bps_of_budget": round(self.total / self.budget * 10_000.0, 2)
                if self.budget > 0 else 0.0}


def cycle_cost(trades: Iterable[tuple[str, int, float]], budget: float,
               rules: PortfolioRules) -> CycleCost:
    """Expected cost of (side, shares, reference price) trades against a `budget`."""
    value = fees = slip = 0.0
    orders = 0
    for side, shares, price in trades:
        if shares <= 0:
            continue
        orders += 1
        value += shares * price
        fees += commission(shares, price, side)
        slip += shares * price * rules.slippage_bps / 10_000.0
    return CycleCost(value, budget, fees, slip, orders)
