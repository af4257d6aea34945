"""Who owns which shares of the trading account, as the campaign planted and moved them, and
I8 judged from it: "the owner's and other books' shares are exactly what they were: no exit
ever rests on them, none sold".

The bot OWNS what its own executions (orderRef `DT-`, this account) bought and have not sold,
plus yesterday's leftover the campaign recorded in its DB, minus what a person sold from its
position (the manual-sale fault knows how many it took). Everything else in the account is
FOREIGN: the owner's holdings, the weekly book's shares, a weekly fill not yet in its book. The
campaign never sells foreign shares, so at every moment, per symbol:

- the account holds at least the foreign shares (the bot sold none of them);
- after a grace of `PROTECTION_DEADLINE_S` from any change of the bot's lot, while the bot runs
  and reaches the Gateway, the bot's working sells never exceed its lot: neither in one OCA
  group (its exits: the members are alternatives - a fill cancels or reduces the others - so
  the group can sell at most its largest member) nor outside any group (its flatten: those
  add up), so no exit rests on foreign shares. Orders not at the exchange yet (children
  waiting for their parent, orders not transmitted) do not count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

BOT_PREFIX = "DT-"
NOT_AT_THE_EXCHANGE = ("waiting for parent fill", "not transmitted")
WORKING = ("PreSubmitted", "Submitted")


@dataclass
class OwnershipTruth:
    """The campaign's record of the account's shares that are not the bot's, and of the bot's."""

    account: str
    foreign: dict[str, int] = field(default_factory=dict)  # owner + other books + unbooked fills
    start_lot: dict[str, int] = field(default_factory=dict)  # the bot's leftover from yesterday
    taken: dict[str, int] = field(default_factory=dict)  # sold from the bot's lot by a person

    def add_foreign(self, symbol: str, qty: int) -> None:
        self.foreign[symbol] = self.foreign.get(symbol, 0) + qty

    def take(self, symbol: str, qty: int) -> None:
        self.taken[symbol] = self.taken.get(symbol, 0) + qty

    def disown_leftover(self, fills: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """The bot's DB was lost: what is left of yesterday's leftover can no longer be proven
        its own, so from now on it is foreign (the bot must leave it alone)."""
        lots = self.bot_lots(fills)
        moved = {}
        for symbol in list(self.start_lot):
            left = max(0, min(lots.get(symbol, 0), self.start_lot[symbol]))
            if left:
                self.start_lot[symbol] -= left
                self.add_foreign(symbol, left)
                moved[symbol] = left
        return moved

    def bot_lots(self, fills: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Per symbol: the leftover + the bot's buys - its sells - what a person took."""
        lots = dict(self.start_lot)
        for fill in fills:
            if fill["account"] != self.account or not fill["ref"].startswith(BOT_PREFIX):
                continue
            signed = fill["shares"] if fill["side"] == "BOT" else -fill["shares"]
            lots[fill["symbol"]] = lots.get(fill["symbol"], 0) + int(signed)
        for symbol, qty in self.taken.items():
            lots[symbol] = lots.get(symbol, 0) - qty
        return lots


@dataclass
class OwnershipCheck:
    """I8 over a run: `observe` every state of the broker's truth."""

    ownership: OwnershipTruth
    deadline_s: float
    violate: Any  # InvariantChecker.violate(code, text)
    _lots: dict[str, int] = field(default_factory=dict)
    _lot_changed: dict[str, float] = field(default_factory=dict)
    _over_since: dict[str, float] = field(default_factory=dict)
    _over: set[str] = field(default_factory=set)

    def observe(self, state: Mapping[str, Any], wall: float, counting: bool, now: datetime) -> None:
        own = self.ownership
        held = {s: int(p["qty"]) for s, p in state["accounts"][own.account]["positions"].items()}
        for symbol, qty in own.foreign.items():
            if held.get(symbol, 0) < qty:
                self.violate("I8", f"{symbol}: foreign shares sold: the account holds "
                                   f"{held.get(symbol, 0)}, the owner and other books own {qty} "
                                   f"(at {now:%H:%M:%S})")
        lots = own.bot_lots(state["fills"])
        for symbol, lot in lots.items():
            if self._lots.get(symbol) != lot:
                self._lots[symbol] = lot
                self._lot_changed[symbol] = wall
        self._over = set()
        for symbol, (group, shares) in self._largest_sells(state).items():
            lot = max(lots.get(symbol, 0), 0)
            if shares > lot:
                self._over.add(symbol)
            graced = wall - self._lot_changed.get(symbol, float("-inf")) <= self.deadline_s
            if shares <= lot or graced or not counting:
                self._over_since.pop(symbol, None)
                continue
            since = self._over_since.setdefault(symbol, wall)
            if wall - since > self.deadline_s:
                where = f"OCA group {group}" if group else "outside any OCA group"
                self.violate("I8", f"{symbol}: sells for {shares:g} shares working {where}, the "
                                   f"bot owns {lot} (at {now:%H:%M:%S}): they rest on foreign shares")

    @property
    def over(self) -> set[str]:
        """Symbols whose sells exceed the bot's lot now, in grace or not: a fill there sells
        foreign shares at once, so the campaign runs those seconds at the market's own pace."""
        return set(self._over)

    @property
    def pending(self) -> set[str]:
        """Symbols whose sells exceed the bot's lot now (the deadline is running)."""
        return set(self._over_since)

    def _largest_sells(self, state: Mapping[str, Any]) -> dict[str, tuple[str, float]]:
        """Per symbol, the most the bot's working sells can sell: the largest member of one OCA
        group, or all its sells outside any group together."""
        totals: dict[tuple[str, str], float] = {}
        for o in state["orders"]:
            if (o["account"] != self.ownership.account or not o["ref"].startswith(BOT_PREFIX)
                    or o["action"] != "SELL" or o["status"] not in WORKING
                    or o["held"] in NOT_AT_THE_EXCHANGE):
                continue
            key = (o["symbol"], o["oca"] or "")
            shares = float(o["remaining"])
            totals[key] = max(totals.get(key, 0.0), shares) if key[1] else totals.get(key, 0.0) + shares
        largest: dict[str, tuple[str, float]] = {}
        for (symbol, group), shares in totals.items():
            if shares > largest.get(symbol, ("", -1.0))[1]:
                largest[symbol] = (group, shares)
        return largest
