"""The portfolio manager's rules, pure: target weights, the drift band, and the orders to send.

- Targets: the top-K passing candidates by score, equal weight (1 - cash buffer) / K, capped at
  `max_weight` (what the cap cuts off stays cash). Weights are of the book's budget,
  allocation x net liquidation.
- The drift band: a name is rebalanced only when its current weight is off the target by more
  than `band_abs` (absolute, e.g. 5 percentage points) or `band_rel` x target (relative, e.g.
  25%). A held name that is no longer a target is always sold (an exit is never "inside the
  band"). Whole shares; a trade worth less than `min_order_value` is skipped, except an exit.
- Within a cycle the decision is made once per name and stored (`Target.planned`); completing it
  after a restart or a re-check sends only the remaining gap in the planned direction, so a
  restart neither doubles nor skips an order, and a completed name is never traded twice for the
  same target.
- Orders are limits at the reference price moved by `max_slippage` against us, on the tick grid;
  sells never exceed what the weekly book owns and what the broker holds beyond the day trader's
  book; buys are scaled down to the cash available. Sells are sent (and settle) before buys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trade.models import Side
from trade.portfolio.universe import PortfolioRules
from trade.ticks import round_to_tick


@dataclass(slots=True)
class Target:
    symbol: str
    weight: float  # of the budget
    qty: int  # whole shares at ref_price
    ref_price: float
    planned: str  # "BUY" | "SELL" | "" (leave it)
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "weight": round(self.weight, 6), "qty": self.qty,
                "ref_price": self.ref_price, "planned": self.planned or None,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    symbol: str
    side: Side
    qty: int
    limit_price: float
    ref_price: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "side": self.side.value, "qty": self.qty,
                "limit_price": self.limit_price, "ref_price": self.ref_price,
                "reason": self.reason}


def target_weights(ranked: Sequence[str], rules: PortfolioRules) -> dict[str, float]:
    """Equal weights for the best `top_k` of `ranked` (best first), capped; the rest is cash."""
    chosen = list(ranked)[: rules.top_k]
    if not chosen:
        return {}
    weight = min(rules.max_weight, (1.0 - rules.cash_buffer) / len(chosen))
    return {symbol: weight for symbol in chosen}


def band_verdict(target: float, current: float, rules: PortfolioRules) -> tuple[bool, str]:
    """(outside the band?, why) for one name's weights."""
    drift = current - target
    if target <= 0.0:
        if current > 0.0:
            return True, f"exit: held at {current:.1%}, no longer a target"
        return False, "not held, not a target"
    if current <= 0.0:
        return True, f"new position: target {target:.1%}"
    relative = abs(drift) / target
    text = f"weight {current:.1%} vs target {target:.1%} (drift {drift * 100:+.1f} pp, " \
           f"{relative:.0%} of target)"
    if abs(drift) > rules.band_abs:
        return True, f"outside band: {text} > {rules.band_abs * 100:g} pp"
    if relative > rules.band_rel:
        return True, f"outside band: {text} > {rules.band_rel:.0%} relative"
    return False, f"inside band: {text}"


def plan_targets(weights: Mapping[str, float], held: Mapping[str, int],
                 prices: Mapping[str, float], budget: float, rules: PortfolioRules) -> list[Target]:
    """One `Target` per name that is a target or held, with the cycle's decision for it."""
    if budget <= 0:
        raise ValueError(f"budget={budget!r} is invalid: the book needs net liquidation > 0")
    out: list[Target] = []
    for symbol in sorted(set(weights) | {s for s, q in held.items() if q > 0}):
        price = prices[symbol]
        weight = weights.get(symbol, 0.0)
        have = max(0, held.get(symbol, 0))
        qty = int(math.floor(weight * budget / price)) if weight > 0 else 0
        outside, why = band_verdict(weight, have * price / budget, rules)
        delta = qty - have
        if not outside:
            planned = ""
        elif weight > 0 and qty == 0 and have == 0:
            planned, why = "", f"one share ({price:.2f}) is more than the target {weight * budget:,.0f}"
        elif delta == 0:
            planned, why = "", f"{why}; already at {qty} whole shares"
        elif weight > 0 and abs(delta) * price < rules.min_order_value:
            planned, why = "", (f"{why}; {abs(delta)} shares = {abs(delta) * price:,.0f} < "
                                f"minimum order {rules.min_order_value:,.0f}")
        else:
            planned = Side.BUY.value if delta > 0 else Side.SELL.value
        out.append(Target(symbol, weight, qty, price, planned, why))
    return out


def limit_price(side: Side, ref_price: float, rules: PortfolioRules) -> float:
    """The worst price we accept: the reference moved by `max_slippage` against us."""
    move = 1.0 + rules.max_slippage if side is Side.BUY else 1.0 - rules.max_slippage
    return round_to_tick(ref_price * move)


def orders_for(side: Side, targets: Sequence[Target], held: Mapping[str, int],
               working: Mapping[str, int], prices: Mapping[str, float], rules: PortfolioRules,
               sellable: Mapping[str, int] | None = None) -> list[PlannedOrder]:
    """The orders that take each planned name of `side` the rest of the way to its target.

    `working` is the quantity of this side still working at the broker per symbol (an order
    sent before a restart counts: it is not sent again); `sellable` caps sells (the weekly
    book's shares the broker really holds beyond the day trader's)."""
    orders: list[PlannedOrder] = []
    for target in targets:
        if target.planned != side.value:
            continue
        have = max(0, held.get(target.symbol, 0))
        pending = max(0, working.get(target.symbol, 0))
        if side is Side.BUY:
            need = target.qty - have - pending
        else:
            need = have - target.qty - pending
            if sellable is not None:
                need = min(need, max(0, sellable.get(target.symbol, 0)) - pending)
        if need <= 0:
            continue
        price = prices.get(target.symbol, target.ref_price)
        orders.append(PlannedOrder(target.symbol, side, need, limit_price(side, price, rules),
                                   price, target.reason))
    return orders


def fit_to_cash(orders: Sequence[PlannedOrder], cash: float) -> tuple[list[PlannedOrder], str]:
    """Buys scaled down (whole shares) so their worst-case cost fits `cash`; and why, if so."""
    cost = sum(o.qty * o.limit_price for o in orders)
    if cost <= cash or cost <= 0:
        return list(orders), ""
    scale = max(0.0, cash) / cost
    scaled = [PlannedOrder(o.symbol, o.side, int(o.qty * scale), o.limit_price, o.ref_price,
                           o.reason) for o in orders]
    note = f"buys scaled to {scale:.0%}: they would cost {cost:,.0f}, cash is {cash:,.0f}"
    return [o for o in scaled if o.qty > 0], note
