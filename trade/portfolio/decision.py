"""The manager's decision for one cycle, pure: members -> weights -> targets -> expected cost.

One function for both callers, so they cannot drift apart: the live cycle (`cycle.py`, after
the screener and the analyst ran against the broker) and the weekly backtest
(`sim/backtest/weekly`, the same screener and analyst over the shared daily files). Given the
same analysis, book, prices and budget they make the same decision; the parity test
(tests/sim/backtest/test_weekly_parity.py) holds them to it against `main.py` on the simulator.

Two steps because the live cycle fetches reference prices only for the names the selection
needs (every price is a broker request): `select` (membership and weights, no prices), then
`decide` (whole-share targets through the drift band, and the expected turnover and cost of
the trades they plan, `costs.cycle_cost`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trade.portfolio.analyst import Analysis
from trade.portfolio.costs import CycleCost, cycle_cost
from trade.portfolio.manager import Target, plan_targets, target_weights
from trade.portfolio.membership import Membership, Ranked, choose
from trade.portfolio.montecarlo import RiskFigures
from trade.portfolio.universe import PortfolioRules


@dataclass(slots=True)
class Selection:
    membership: Membership
    weights: dict[str, float]  # of the budget; members only


@dataclass(slots=True)
class Decision:
    selection: Selection
    targets: list[Target]
    expected: CycleCost  # of the planned trades, at the reference prices
    risk: RiskFigures | None  # Monte Carlo of the target portfolio

    @property
    def weights(self) -> dict[str, float]:
        return self.selection.weights

    def as_dict(self) -> dict[str, Any]:
        return {"membership": self.selection.membership.as_dict(),
                "expected_cost": self.expected.as_dict()}


def select(analysis: Analysis, held: Mapping[str, int], rules: PortfolioRules) -> Selection:
    """Members (with hysteresis against the names `held`) and their target weights."""
    ranked = [Ranked(a.symbol, a.score, a.passed, a.holdable) for a in analysis.assessments]
    membership = choose(ranked, [s for s, q in held.items() if q > 0], rules)
    return Selection(membership, target_weights(membership.members, rules))


def decide(selection: Selection, analysis: Analysis, held: Mapping[str, int],
           prices: Mapping[str, float], budget: float, rules: PortfolioRules) -> Decision:
    """Targets per name (members and held names) and what their trades are expected to cost."""
    targets = plan_targets(selection.weights, held, prices, budget, rules)
    trades = [(t.planned, abs(t.qty - max(0, held.get(t.symbol, 0))), t.ref_price)
              for t in targets if t.planned]
    return Decision(selection, targets, cycle_cost(trades, budget, rules),
                    analysis.portfolio_risk(selection.weights))
