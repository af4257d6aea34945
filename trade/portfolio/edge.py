"""The analyst's filter: is a name's expected return, net of what trading it costs, big enough
to tell apart from nothing, given how little a year of history says?

For each candidate the Monte Carlo gives the expected return over the holding period E[r], its
standard deviation and the 5% CVaR. The filter reads them in the unit that matters:

    net  = E[r] - round trip (costs.round_trip: slippage both ways + commission at its price)
    SE   = the resampling error of E[r] (montecarlo.standard_error: stdev x sqrt(h / days))
    z    = net / SE

- a NEW name passes when z >= `min_edge_z` and CVaR <= `max_cvar`;
- a HELD name stays eligible while z >= `hold_edge_z` (<= min_edge_z) and CVaR <= `max_cvar`:
  holding it costs nothing more, and a name hovering at the entry threshold must not be bought
  and sold on the noise of one week's new data point.

Error rates at the defaults (min_edge_z 0.5, a year of history, a week's horizon), measured by
`python -m sim.backtest.weekly.filter_rates` on seeded synthetic names whose drift is known:
a name with zero true drift passes about 1 time in 4 (23% measured; 1 - Phi(0.5 + cost / SE)),
against one in two for the old P(up) >= 50% rule; a name trending +50% a year passes 4 times in
5. What it cannot do is separate ordinary stocks from each other: the SE of a week's expected
return from a year of a 25%-vol stock is ~0.5 percentage points, i.e. a true drift of ~25% a
year is only one SE. It tells apart a strong trailing trend from a flat or falling one, and
nothing finer. docs/weekly.md has the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trade.portfolio.costs import round_trip
from trade.portfolio.montecarlo import RiskFigures, standard_error
from trade.portfolio.universe import PortfolioRules


@dataclass(frozen=True, slots=True)
class Edge:
    """A name's expected return over the holding period against its costs and its error."""

    expected: float
    round_trip: float
    standard_error: float
    history_days: int

    @property
    def net(self) -> float:
        return self.expected - self.round_trip

    @property
    def z(self) -> float:
        if self.standard_error <= 0 or not math.isfinite(self.standard_error):
            return 0.0 if self.net == 0 else math.copysign(math.inf, self.net)
        return self.net / self.standard_error

    def as_dict(self) -> dict[str, Any]:
        return {"expected_return": round(self.expected, 5), "round_trip": round(self.round_trip, 5),
                "net": round(self.net, 5), "standard_error": round(self.standard_error, 5),
                "z": round(self.z, 3) if math.isfinite(self.z) else None,
                "history_days": self.history_days}


@dataclass(frozen=True, slots=True)
class FilterVerdict:
    passed: bool  # may be bought
    holdable: bool  # may be kept if already held
    reason: str


def edge_of(risk: RiskFigures, price: float, history_days: int, rules: PortfolioRules) -> Edge:
    return Edge(risk.expected, round_trip(price, rules),
                standard_error(risk.stdev, rules.holding_days, history_days), history_days)


def judge(edge: Edge, risk: RiskFigures, rules: PortfolioRules) -> FilterVerdict:
    """The verdict and its reason in the filter's own units."""
    figures = (f"E[r] {edge.expected:+.2%} - round trip {edge.round_trip:.2%} = "
               f"{edge.net:+.2%}, {edge.z:+.2f} SE (SE {edge.standard_error:.2%}); "
               f"CVaR {risk.cvar_5:.1%}")
    if risk.cvar_5 > rules.max_cvar:
        return FilterVerdict(False, False, f"filtered: 5% CVaR {risk.cvar_5:.1%} > "
                             f"{rules.max_cvar:.0%} ({figures})")
    if edge.z >= rules.min_edge_z:
        return FilterVerdict(True, True, f"passed: {figures}")
    if edge.z >= rules.hold_edge_z:
        return FilterVerdict(False, True, f"hold only: {edge.z:+.2f} SE < {rules.min_edge_z:g} "
                             f"to enter, >= {rules.hold_edge_z:g} to stay ({figures})")
    return FilterVerdict(False, False, f"filtered: {edge.z:+.2f} SE < {rules.hold_edge_z:g} "
                         f"({figures})")
