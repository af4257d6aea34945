"""Which shares are the bot's: proven by its own executions, never inferred by subtraction.

The bot owns, per symbol, what its own executions bought and have not sold (orders with its refs,
in the trading account), plus the leftovers it recorded on an earlier day, plus what a person
assigns to it explicitly (`--adopt SYMBOL[:QTY]`). That is its lot (trade/intraday/lots.py).
Every other share in the account — the owner's long-term holdings, the weekly book's, a weekly
fill not yet in that book, anything bought by hand — is *foreign*: never given exits, never
sold, never counted as the bot's exposure, and reported ("seen and left alone").

The broker's position is used for two things only, and neither may move foreign shares:
- the *foreign baseline* U of a symbol, noted the first time the bot looks at it: what the
  broker holds beyond the bot's lot and the other books' recorded shares (the owner's holdings).
  The bot never sells a symbol below U: its working sells and its flatten stay within
  `min(lot, broker position - U)`;
- a *reduction the bot did not make*: when the broker holds less than lot + U, someone sold
  (a person in TWS, from another client). The bot then treats its own lot as what was sold —
  the owner's shares are never put at risk — shrinks its lot and its exits, and says so loudly.
  Positions lag executions at IB (ib_async issue 15: "ib.positions() may have a delay in
  updating"), so this is acted on only when it persists over two looks and no execution of the
  bot's in that symbol is recent.
Other books' recorded shares enter only the baseline, once: a weekly book that overstates (its
sale filled while it was down) can never zero the bot's own lot, and one that understates never
makes its shares the bot's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

QUIET_AFTER_OWN_EXECUTION_S = 5.0  # a position may still lag an execution this recent
CONFIRM_AFTER_S = 0.5  # a shortfall seen again this much later is not a reply in flight


@dataclass(frozen=True, slots=True)
class Look:
    """What one look at a symbol decided."""

    sellable: int  # what the bot may have working sells for / sell at most
    foreign: int  # shares the broker holds beyond the bot's lot (not the bot's)
    reduced_to: int | None = None  # a confirmed reduction: the bot's lot is now this


@dataclass(slots=True)
class _Shortfall:
    first_seen: float
    broker_qty: int


@dataclass(slots=True)
class Ownership:
    """The foreign baselines and the reductions the bot did not make (one writer: this)."""

    clock: Callable[[], float] = time.monotonic
    quiet_s: float = QUIET_AFTER_OWN_EXECUTION_S
    confirm_s: float = CONFIRM_AFTER_S
    baseline: dict[str, int] = field(default_factory=dict)  # symbol -> U
    _shortfalls: dict[str, _Shortfall] = field(default_factory=dict)
    _last_own_execution: dict[str, float] = field(default_factory=dict)
    reported: dict[str, int] = field(default_factory=dict)  # symbol -> foreign qty last told

    def own_execution(self, symbol: str) -> None:
        """One of the bot's executions in `symbol` was just applied (positions may lag it)."""
        self._last_own_execution[symbol] = self.clock()
        self._shortfalls.pop(symbol, None)

    def look(self, symbol: str, broker_qty: int, lot: int,
             other_books: Mapping[str, int] | None, *, settled: bool = False) -> Look:
        """Judge one symbol from a broker position read now. `other_books`: the other books'
        recorded shares (None: unreadable, so every share beyond the lot counts as foreign).
        `settled`: the broker reports no execution of the bot's in this symbol today, so the
        position cannot be lagging one (a leftover that is gone at a start): one look is enough."""
        now = self.clock()
        recent = now - self._last_own_execution.get(symbol, -1e9) < self.quiet_s
        floor = self.baseline.get(symbol)
        if floor is None:
            others = (other_books or {}).get(symbol, 0) if other_books is not None else 0
            floor = max(0, broker_qty - max(lot, 0) - max(others, 0))
            if not recent:  # a position that may still lag the bot's execution is no baseline
                self.baseline[symbol] = floor
        room = broker_qty - floor  # what the bot could sell without touching foreign shares
        foreign = max(0, broker_qty - max(lot, 0))
        if lot <= 0 or room >= lot:
            self._shortfalls.pop(symbol, None)
            return Look(max(0, lot), foreign)
        # the broker holds less than the bot's lot beyond the foreign baseline
        seen = self._shortfalls.get(symbol)
        if settled and not recent:
            self._shortfalls.pop(symbol, None)
            left = max(0, room)
            return Look(left, foreign, reduced_to=left)
        if recent or seen is None or seen.broker_qty != broker_qty:
            if not recent:
                self._shortfalls[symbol] = _Shortfall(now, broker_qty)
            return Look(max(0, lot), foreign)  # not yet: a lagging position looks the same
        if now - seen.first_seen < self.confirm_s:
            return Look(max(0, lot), foreign)
        del self._shortfalls[symbol]
        left = max(0, room)
        return Look(left, foreign, reduced_to=left)

    def sellable(self, symbol: str, broker_qty: int, lot: int) -> int:
        """At most what the bot may sell now: its lot, never into the foreign baseline."""
        floor = self.baseline.get(symbol, 0)
        return max(0, min(lot, broker_qty - floor))

    def tell_foreign(self, symbol: str, qty: int) -> str | None:
        """The line to report foreign shares, once per symbol and size (None: already told)."""
        if qty <= 0 or self.reported.get(symbol) == qty:
            return None
        self.reported[symbol] = qty
        return f"{symbol}: {qty} shares at the broker are not the bot's (the owner's, another " \
               "book's or bought by hand): seen and left alone"
