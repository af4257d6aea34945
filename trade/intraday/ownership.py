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

QUIET_AFTER_OWN_EXECUTION_S = 2.5  # a position may still lag an execution this recent
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
    _own: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # recent own buys
    reported: dict[str, int] = field(default_factory=dict)  # symbol -> foreign qty last told

    def own_execution(self, symbol: str, bought: int = 0) -> None:
        """One of the bot's executions in `symbol` was just applied (positions may lag it).
        `bought`: shares it bought (a sale makes the broker look long, never short)."""
        recent = self._recent(symbol)
        recent.append((self.clock(), max(0, bought)))

    def _recent(self, symbol: str) -> list[tuple[float, int]]:
        cutoff = self.clock() - self.quiet_s
        kept = [(t, q) for t, q in self._own.get(symbol, []) if t > cutoff]
        self._own[symbol] = kept
        return kept

    def quiet(self, symbol: str) -> bool:
        """No execution of the bot's in `symbol` so recent that the position may lag it."""
        return not self._recent(symbol)

    def pending(self, symbol: str) -> bool:
        """A shortfall was seen once and waits for its second look."""
        return symbol in self._shortfalls

    def look(self, symbol: str, broker_qty: int, lot: int,
             other_books: Mapping[str, int] | None, *, settled: bool = False) -> Look:
        """Judge one symbol from a broker position read now. `other_books`: the other books'
        recorded shares (None: unreadable, so every share beyond the lot counts as foreign).
        `settled`: the broker reports no execution of the bot's in this symbol today, so the
        position cannot be lagging one (a leftover that is gone at a start): one look is enough.

        The broker's position may not show the bot's own buys of the last `quiet_s` seconds yet:
        those shares count as there; only a shortfall beyond them is a sale the bot did not
        make, and only once a second look `confirm_s` later still shows it."""
        now = self.clock()
        recent = self._recent(symbol)
        hidden = sum(q for _, q in recent)  # own buys the position may not show yet
        seen_broker = broker_qty + hidden
        floor = self.baseline.get(symbol)
        if floor is None:
            others = (other_books or {}).get(symbol, 0) if other_books is not None else 0
            floor = max(0, seen_broker - max(lot, 0) - max(others, 0))
            if not recent:  # a position that may still lag a sale of the bot's is no baseline
                self.baseline[symbol] = floor
        room = seen_broker - floor  # what the bot could sell without touching foreign shares
        foreign = max(0, broker_qty - max(lot, 0))
        if lot <= 0 or room >= lot:
            self._shortfalls.pop(symbol, None)
            return Look(max(0, lot), foreign)
        left = max(0, room)  # the bot's lot, as far as the broker's position can tell
        seen = self._shortfalls.get(symbol)
        if (settled and not recent) or (
                seen is not None and seen.broker_qty == broker_qty
                and now - seen.first_seen >= self.confirm_s):
            self._shortfalls.pop(symbol, None)
            return Look(left, foreign, reduced_to=left)
        if seen is None or seen.broker_qty != broker_qty:
            self._shortfalls[symbol] = _Shortfall(now, broker_qty)
        return Look(max(0, lot), foreign)  # not yet: one look at a moving position decides nothing

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
