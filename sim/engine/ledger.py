"""Cash, positions and realized P&L of the paper account, updated one execution at a time.

IB conventions: a position's average cost includes the commissions paid to open it, and an
execution's realized P&L is net of its own commission; an opening execution has no realized P&L
(None). Invariant: cash == initial cash - sum(signed shares x price) - sum(commissions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class Ledger:
    initial_cash: float
    cash: float = 0.0
    realized_pnl: float = 0.0
    commissions: float = 0.0
    positions: dict[str, list[float]] = field(default_factory=dict)  # symbol -> [qty, avg_cost]

    def __post_init__(self) -> None:
        self.cash = self.initial_cash

    def apply(self, symbol: str, signed_qty: float, price: float, commission: float) -> float | None:
        """Book one execution; returns its realized P&L (None when it only opens or adds)."""
        self.cash -= signed_qty * price + commission
        self.commissions += commission
        qty, avg = self.positions.get(symbol, [0.0, 0.0])
        same_direction = qty == 0 or (qty > 0) == (signed_qty > 0)
        if same_direction:
            new_qty = qty + signed_qty
            cost = qty * avg + signed_qty * price + commission
            self.positions[symbol] = [new_qty, cost / new_qty]
            return None
        closing = min(abs(signed_qty), abs(qty))
        opening = abs(signed_qty) - closing
        close_commission = commission * closing / abs(signed_qty)
        direction = 1.0 if qty > 0 else -1.0
        realized = (price - avg) * closing * direction - close_commission
        self.realized_pnl += realized
        remaining = qty + signed_qty
        if opening > 0:
            open_commission = commission - close_commission
            cost = remaining * price + open_commission
            self.positions[symbol] = [remaining, cost / remaining]
        elif remaining == 0:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = [remaining, avg]
        return realized

    def account_values(self, marks: Mapping[str, float | None], leverage: float) -> dict[str, float]:
        """IB account tags with positions marked at `marks` (their average cost when unknown).

        Reg T style margin: initial = maintenance = gross / `leverage` (4 = the intraday 25%), and
        BuyingPower = leverage x NetLiquidation - GrossPositionValue, as IB computes it.
        """
        gross = market = unrealized = 0.0
        for symbol, (qty, avg) in self.positions.items():
            price = marks.get(symbol) or avg
            market += qty * price
            gross += abs(qty * price)
            unrealized += (price - avg) * qty
        net_liq = self.cash + market
        init_margin = gross / leverage if leverage > 0 else gross
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": self.cash,
            "SettledCash": self.cash,
            "EquityWithLoanValue": net_liq,
            "GrossPositionValue": gross,
            "InitMarginReq": init_margin,
            "MaintMarginReq": init_margin,
            "AvailableFunds": net_liq - init_margin,
            "ExcessLiquidity": net_liq - init_margin,
            "BuyingPower": max(0.0, leverage * net_liq - gross),
            "RealizedPnL": self.realized_pnl,
            "UnrealizedPnL": unrealized,
        }
