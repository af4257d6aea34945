"""Which names the book holds: the top K with hysteresis, so membership does not churn on noise.

Without it, a held name that slips from 8th to 9th on one week's new data point is sold in full
and a name that rose from 9th to 8th is bought: on the 2019 Mondays that replaced about one name
in eight nearly every week. A rank moves that much on noise (a year of history gains one week
and loses another), so the rule asks for more evidence to change membership than to keep it:

1. a held name that is still eligible (the filter's `holdable`) stays while it ranks within
   `top_k + hold_buffer` of the eligible names by score;
2. empty slots (up to `top_k`) are filled by the best names that pass the entry filter;
3. then a challenger (a passing name not held) displaces the weakest member only when its score
   beats that member's by `entry_margin` (score units: the score is a sum of z-scores), best
   challenger first, until one does not.
With `hold_buffer` 0, `entry_margin` 0 and `hold_edge_z` = `min_edge_z` this is the plain top K
of the passing names. Every name gets a reason in the report.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from trade.portfolio.universe import PortfolioRules


@dataclass(frozen=True, slots=True)
class Ranked:
    """One assessed candidate as membership sees it (best score first in a list)."""

    symbol: str
    score: float
    passed: bool  # may be bought
    holdable: bool  # may be kept


@dataclass(slots=True)
class Membership:
    members: list[str]  # best score first
    reasons: dict[str, str] = field(default_factory=dict)  # every member and every dropped name
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"members": self.members, "added": self.added, "dropped": self.dropped,
                "reasons": dict(sorted(self.reasons.items()))}


def choose(ranked: Sequence[Ranked], held: Collection[str], rules: PortfolioRules) -> Membership:
    """The members for this cycle from `ranked` (best score first) and the names `held`."""
    k, limit = rules.top_k, rules.top_k + rules.hold_buffer
    eligible = [r for r in ranked if r.holdable]
    rank = {r.symbol: i + 1 for i, r in enumerate(eligible)}
    score = {r.symbol: r.score for r in ranked}
    out = Membership([])
    kept: list[str] = []
    for symbol in sorted(held, key=lambda s: (s not in rank, rank.get(s, 0), s)):
        if symbol not in score:
            out.reasons[symbol] = "dropped: not a candidate this cycle (screened out)"
        elif symbol not in rank:
            out.reasons[symbol] = "dropped: failed the filter for held names"
        elif rank[symbol] > limit:
            out.reasons[symbol] = (f"dropped: rank {rank[symbol]} of the eligible names is "
                                   f"beyond top_k + hold_buffer = {limit}")
        elif len(kept) >= k:
            out.reasons[symbol] = f"dropped: {k} better-ranked held names fill the book"
        else:
            kept.append(symbol)
            out.reasons[symbol] = f"kept: rank {rank[symbol]} <= {limit}"
    members = list(kept)
    challengers = [r.symbol for r in ranked if r.passed and r.symbol not in held]
    for symbol in challengers:
        if len(members) < k:
            members.append(symbol)
            out.reasons[symbol] = f"added: rank {rank[symbol]}, fills an empty slot"
            continue
        weakest = min(members, key=lambda s: (score[s], s))
        if score[symbol] <= score[weakest] or score[symbol] < score[weakest] + rules.entry_margin:
            break  # the best remaining challenger does not clear it: none behind it can
        members.remove(weakest)
        members.append(symbol)
        out.reasons[symbol] = (f"added: score {score[symbol]:+.2f} clears the weakest member "
                               f"{weakest} ({score[weakest]:+.2f}) by >= {rules.entry_margin:g}")
        out.reasons[weakest] = f"dropped: displaced by {symbol} (score margin)"
    out.members = sorted(members, key=lambda s: (-score[s], s))
    out.added = [s for s in out.members if s not in held]
    out.dropped = sorted(s for s in held if s not in out.members)
    return out
