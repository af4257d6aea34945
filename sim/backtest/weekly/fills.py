"""How the weekly backtest fills an order: the session's open, moved by a slippage model, plus
IB's tiered commission as the simulator charges it.

The price: the daily files have no 10:00 price, so an order of the cycle fills at the session's
OPEN (the first price of the day, known before any decision of the day could see the close).
The slippage model, per side, as a fraction of that price:

    half spread + impact x daily volatility x sqrt(shares / average daily volume)

the square-root law of market impact (Almgren et al. 2005; Toth et al. 2011: impact grows with
the square root of the order's share of the day's volume, in units of the daily volatility),
with the volatility and the volume of the 20 sessions before the day. A $10,000 order in a name
trading $1bn a day costs the half spread and almost nothing more; the same book a thousand times
larger would pay for its size. A buy pays more, a sell gets less. An order whose slippage would
pass the live limit (`rules.max_slippage` from the reference price) does not fill, as the live
limit order would not.

Commission: `sim.engine.commissions.IBTieredCommission`, the matching engine's schedule, for an
order that removes liquidity (the live limit is marketable when it is sent).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sim.engine.commissions import IBTieredCommission
from trade.models import Bar, Side

LOOKBACK = 20


@dataclass(frozen=True, slots=True)
class SlippageModel:
    half_spread_bps: float = 3.0
    impact: float = 1.0  # the square-root law's coefficient (of order 1 in the literature)

    def fraction(self, shares: int, recent: Sequence[Bar]) -> float:
        """Slippage of `shares` as a fraction of the price, from the bars before the day."""
        bars = list(recent)[-LOOKBACK:]
        volume = sum(b.volume for b in bars) / len(bars) if bars else 0.0
        closes = [b.close for b in bars if b.close > 0]
        logs = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
        mean = sum(logs) / len(logs) if logs else 0.0
        sigma = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1)) \
            if len(logs) > 1 else 0.02
        participation = shares / volume if volume > 0 else 1.0
        return self.half_spread_bps / 10_000.0 + self.impact * sigma * math.sqrt(participation)

    def as_dict(self) -> dict[str, float]:
        return {"half_spread_bps": self.half_spread_bps, "impact": self.impact,
                "lookback_sessions": float(LOOKBACK)}


@dataclass(frozen=True, slots=True)
class SimulatedFill:
    price: float
    commission: float
    slippage: float  # dollars paid against the reference price (>= 0)


COMMISSION = IBTieredCommission()


def fill(side: Side, shares: int, reference: float, slippage: float) -> SimulatedFill:
    """The execution of `shares` at `reference` moved by the `slippage` fraction."""
    move = 1.0 + slippage if side is Side.BUY else 1.0 - slippage
    price = reference * move
    commission = COMMISSION.commission(shares, price, side.value, removes_liquidity=True)
    return SimulatedFill(price, commission, abs(price - reference) * shares)
