"""IB commission schedules for US stocks, as used by the paper matching engine.

Numbers from IBKR's published US stock pricing (IBKR Pro). They are per execution here (IB
applies the minimum/maximum per order; a partial fill therefore pays the minimum once per
execution in the simulator, a small, conservative overstatement).
"""

from __future__ import annotations

from typing import Protocol


class CommissionModel(Protocol):
    def commission(self, shares: float, price: float, action: str, removes_liquidity: bool) -> float:
        """USD charged for one execution of `shares` at `price` (`action` BUY/SELL)."""
        ...


class IBTieredCommission:
    """IBKR Pro tiered (lowest-volume tier), plus the pass-through fees IB itemises.

    - IB commission: USD 0.0035/share, min USD 0.35, max 1% of trade value;
    - exchange fee: USD 0.0030/share when the order removes liquidity (MKT, STP, marketable
      LMT at placement); resting limits are charged 0 (add-liquidity rebates are ignored);
    - clearing (NSCC/DTC): USD 0.00020/share;
    - FINRA pass-through: 0.000175 x the IB commission;
    - sales only: SEC transaction fee USD 27.80 per million of value, FINRA TAF USD 0.000166/share
      (max USD 8.30 per trade).
    """

    per_share = 0.0035
    minimum = 0.35
    max_pct = 0.01
    exchange_remove = 0.0030
    clearing = 0.00020
    finra_pass_through = 0.000175
    sec_fee_rate = 27.80 / 1_000_000
    finra_taf = 0.000166
    finra_taf_max = 8.30

    def commission(self, shares: float, price: float, action: str, removes_liquidity: bool) -> float:
        value = abs(shares) * price
        ib = min(max(abs(shares) * self.per_share, self.minimum), self.max_pct * value)
        fees = abs(shares) * self.clearing + ib * self.finra_pass_through
        if removes_liquidity:
            fees += abs(shares) * self.exchange_remove
        if action.upper() == "SELL":
            fees += value * self.sec_fee_rate
            fees += min(abs(shares) * self.finra_taf, self.finra_taf_max)
        return round(ib + fees, 6)


class IBFixedCommission:
    """IBKR Pro fixed: USD 0.005/share, min USD 1.00, max 1% of trade value, fees included."""

    per_share = 0.005
    minimum = 1.00
    max_pct = 0.01

    def commission(self, shares: float, price: float, action: str, removes_liquidity: bool) -> float:
        value = abs(shares) * price
        return round(min(max(abs(shares) * self.per_share, self.minimum), self.max_pct * value), 6)


class ZeroCommission:
    """No commission: for tests that check prices only."""

    def commission(self, shares: float, price: float, action: str, removes_liquidity: bool) -> float:
        return 0.0
