"""Which shares are the bot's: proven by its own executions, never inferred by subtraction.

The bot owns, per symbol, what its own executions bought and have not sold (orders with its refs,
in the trading account), plus the leftovers it recorded on an earlier day, plus what a person
assigns to it explicitly (`--adopt SYMBOL[:QTY]`). That is its lot (trade/intraday/lots.py).
Every other share in the account — the owner's long-term holdings, the weekly book's, a weekly
fill not yet in that book, anything bought by hand — is *foreign*: never given exits, never
sold, never counted as the bot's exposure, and reported ("seen and left alone").

The broker's position is used for two things only, and neither may move foreign shares:
- the *foreign baseline* U of a symbol: every share the broker holds beyond the bot's lot the
  first time the bot looks at it (the owner's holdings and the other books' shares alike). The
  bot never sells a symbol below U: its working sells and its flatten stay within
  `min(lot, broker position - U)`. U follows what is proven, never what is claimed: it rises
  when shares the bot did not buy appear and stay (a weekly fill, a buy by hand; confirmed after
  `quiet_s` with no execution of the bot's), and falls only by what the other books *record*
  selling. It is kept for the day (the DB's `foreign_baselines`): a restart takes the larger of
  the recorded U and what it computes, so a sale made while the bot was down is never charged to
  the owner;
- a *reduction the bot did not make*: when the broker holds less than lot + U, someone sold
  (a person in TWS, from another client). The bot then treats its own lot as what was sold —
  the owner's shares are never put at risk — shrinks its lot and its exits, and says so loudly.
  Positions lag executions at IB (ib_async issue 15: "ib.positions() may have a delay in
  updating"), so this is acted on only when it persists over two looks and no execution of the
  bot's in that symbol is recent.
Other books' recorded claims never enlarge U by themselves: a weekly book that overstates (its
sale filled while it was down) can never zero the bot's own lot, and one that understates never
makes its shares the bot's. The price of that order of proof: when the weekly bot sells shares
of a symbol the day trader holds and records the sale only seconds later, the day trader reads
the sale as its own and gives up that many of its shares (loudly); foreign shares stay safe.
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
    recorded: dict[str, int] = field(default_factory=dict)  # today's U from an earlier run
    on_baseline: Callable[[str, int], None] | None = None  # keeps a new U for the day
    _shortfalls: dict[str, _Shortfall] = field(default_factory=dict)
    _surpluses: dict[str, _Shortfall] = field(default_factory=dict)  # unexplained shares seen
    # unexplained shares seen and not yet confirmed foreign: a sale decided meanwhile never
    # takes them for the bot's (seed 376: a weekly fill 2 s before a person's sale)
    _unconfirmed: dict[str, int] = field(default_factory=dict)
    _others_ref: dict[str, int] = field(default_factory=dict)  # other books' shares, last read
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

    def position_pushed(self, symbol: str, broker_qty: int, lot: int) -> None:
        """IB pushed `symbol`'s position (pushes come in order, each a state that was): one
        showing the whole lot ends the wait for the bot's buys in flight, so a person's sale
        right after it is judged by the next look, not after the quiet window (seeds 372,
        376, 399: exits for the whole lot outlived a sale of most of it for 5 s)."""
        self._buys_shown(symbol, broker_qty, lot)

    def _buys_shown(self, symbol: str, broker_qty: int, lot: int) -> bool:
        """Forget the recent buys once a position shows every share of the lot beyond the
        foreign baseline. Not after a recent sale of the bot's: a position from before that
        sale could show as many shares without the new buy."""
        recent = self._recent(symbol)
        floor = self.baseline.get(symbol)
        if not recent or floor is None or not all(q for _, q in recent) \
                or broker_qty < max(lot, 0) + floor:
            return False
        self._own[symbol] = []
        return True

    def quiet(self, symbol: str) -> bool:
        """No execution of the bot's in `symbol` so recent that the position may lag it."""
        return not self._recent(symbol)

    def pending(self, symbol: str) -> bool:
        """A shortfall was seen once and waits for its second look."""
        return symbol in self._shortfalls

    def look(self, symbol: str, broker_qty: int, lot: int,
             other_books: Mapping[str, int] | None, *, settled: bool = False,
             buying: bool = False) -> Look:
        """Judge one symbol from a broker position read now. `other_books`: the other books'
        recorded shares (None: unreadable, so every share beyond the lot counts as foreign).
        `settled`: the broker reports no execution of the bot's in this symbol today, so the
        position cannot be lagging one (a leftover that is gone at a start): one look is enough.

        The broker's position may not show the bot's own buys of the last `quiet_s` seconds yet:
        those shares count as there; only a shortfall beyond them is a sale the bot did not
        make, and only once a second look `confirm_s` later still shows it.

        `buying`: an order of the bot that buys this symbol is in flight (an entry, until its
        executions are applied). Positions may show its fill before its execution reaches the
        bot: shares that appear then are no baseline and no foreign surplus (seed 327: the
        first look at a symbol saw the bot's own 95 before their execution, took them for the
        owner's, and a later look "confirmed a sale" of the whole lot and dropped its exits)."""
        now = self.clock()
        recent = self._recent(symbol)
        if self._buys_shown(symbol, broker_qty, lot):
            recent = []
        hidden = sum(q for _, q in recent)  # own buys the position may not show yet
        seen_broker = broker_qty + hidden
        others = None if other_books is None else max(0, other_books.get(symbol, 0))
        floor = self.baseline.get(symbol)
        if floor is None:
            floor = max(0, seen_broker - max(lot, 0), self.recorded.get(symbol, 0))
            if others and seen_broker < lot:
                # a shortfall at the first look of the day: nothing seen or recorded says what
                # is foreign (a restart on a lost DB), and the other books' records are all
                # there is. Taken at their word, an overstated one leaves some of the bot's own
                # shares alone; ignored, a true one had its shares sold (seed 410: the weekly
                # book's 40 taken into the lot after a person's sale, and a stop sold them)
                floor = max(floor, min(others, broker_qty))
            if buying:  # shares appearing may be the bot's own, not yet executed as far as it knows
                floor = max(0, self.recorded.get(symbol, 0))
            elif not recent:  # a position that may still lag a sale of the bot's is no baseline
                self._note(symbol, floor)
                if others is not None:
                    self._others_ref[symbol] = others
        else:
            floor = self._follow_other_books(symbol, floor, others)
            floor = self._follow_surplus(symbol, floor, seen_broker - max(lot, 0), broker_qty,
                                         quiet=not recent and not buying)
        room = seen_broker - floor  # what the bot could sell without touching foreign shares
        foreign = max(0, broker_qty - max(lot, 0))
        if lot <= 0 or room >= lot:
            if room - max(lot, 0) <= 0 or lot <= 0:  # nothing unexplained in sight any more
                self._unconfirmed.pop(symbol, None)
            if lot > 0 and hidden and broker_qty - floor < lot:
                # short of the lot unless the buys in flight explain it: timed from now, so it
                # is judged the moment they no longer can (seed 372: a person sold 200 of 266
                # before the position ever showed the buy; looks at the quiet window's end and
                # then a second look took the exits past 5 s)
                self._track_shortfall(symbol, now, broker_qty)
            else:
                self._shortfalls.pop(symbol, None)
            return Look(max(0, lot), foreign)
        left = max(0, room)  # the bot's lot, as far as the broker's position can tell
        seen = self._shortfalls.get(symbol)
        if (settled and not recent) or (
                seen is not None and seen.broker_qty == broker_qty
                and now - seen.first_seen >= self.confirm_s):
            self._shortfalls.pop(symbol, None)
            unconfirmed = self._unconfirmed.pop(symbol, 0)
            if unconfirmed:  # still there as far as anyone can prove: the sale was the bot's
                self._note(symbol, floor + unconfirmed)
                left = max(0, seen_broker - floor - unconfirmed)
            return Look(left, foreign, reduced_to=left)
        self._track_shortfall(symbol, now, broker_qty)
        return Look(max(0, lot), foreign)  # not yet: one look at a moving position decides nothing

    def _track_shortfall(self, symbol: str, now: float, broker_qty: int) -> None:
        seen = self._shortfalls.get(symbol)
        if seen is None or seen.broker_qty != broker_qty:
            self._shortfalls[symbol] = _Shortfall(now, broker_qty)

    def next_look_in(self, symbol: str) -> float | None:
        """Seconds until a shortfall of `symbol` can be decided (its second look due and no
        buy of the bot's in flight any more), None when none is pending."""
        seen = self._shortfalls.get(symbol)
        if seen is None:
            return None
        now = self.clock()
        wait = self.confirm_s - (now - seen.first_seen)
        recent = self._recent(symbol)
        if recent:
            wait = max(wait, max(t for t, _ in recent) + self.quiet_s - now)
        return max(0.0, wait)

    def _note(self, symbol: str, floor: int) -> None:
        if self.baseline.get(symbol) == floor:
            return
        self.baseline[symbol] = floor
        if self.on_baseline is not None:
            self.on_baseline(symbol, floor)

    def _follow_other_books(self, symbol: str, floor: int, others: int | None) -> int:
        """U falls by what the other books record selling (their shares left the account);
        a larger claim raises nothing: only shares seen at the broker do."""
        if others is None:
            return floor
        before = self._others_ref.get(symbol)
        self._others_ref[symbol] = others
        if before is not None and others < before:
            floor = max(0, floor - (before - others))
            self._note(symbol, floor)
        return floor

    def _follow_surplus(self, symbol: str, floor: int, beyond_lot: int, broker_qty: int,
                        *, quiet: bool) -> int:
        """Shares beyond the bot's lot and U that stay `quiet_s` with no execution of the bot's
        are foreign (a weekly fill not yet in its book, a buy by hand): U rises to cover them,
        so a later sale of the bot's shares is never absorbed by them."""
        if not quiet or beyond_lot <= floor:
            self._surpluses.pop(symbol, None)
            return floor
        self._unconfirmed[symbol] = beyond_lot - floor
        seen = self._surpluses.get(symbol)
        if seen is None or seen.broker_qty != broker_qty:
            self._surpluses[symbol] = _Shortfall(self.clock(), broker_qty)
            return floor
        if self.clock() - seen.first_seen < self.quiet_s:
            return floor
        self._surpluses.pop(symbol, None)
        self._unconfirmed.pop(symbol, None)
        self._note(symbol, beyond_lot)
        return beyond_lot

    def sellable(self, symbol: str, broker_qty: int, lot: int) -> int:
        """At most what the bot may sell now: its lot, never into the foreign baseline."""
        floor = self.baseline.get(symbol, 0)
        return max(0, min(lot, broker_qty - floor))

    def exit_size(self, symbol: str, broker_qty: int, lot: int) -> int:
        """What a new exit group may sell: the lot, never more than the broker shows beyond the
        foreign baseline. A person's sale not yet confirmed must not leave exits for shares that
        are gone: a repaired stop for the whole lot filled at once and shorted the 62 a person
        had sold (seed 237). The one shortfall read as the position lagging is exactly the
        bot's latest buys (a position from before them); anything else is sized as shown."""
        if lot <= 0:
            return 0
        shown = broker_qty - self.baseline.get(symbol, 0)
        if shown >= lot:
            return lot
        unshown = 0
        for _, bought in reversed(self._recent(symbol)):
            unshown += bought
            if bought and shown + unshown == lot:
                return lot
        return max(0, shown)

    def missing(self, symbol: str, broker_qty: int) -> int:
        """Shares the account lacks below the foreign baseline: what an oversale of the bot's
        can have taken (a short at the broker, or the owner's shares sold). Before any look
        the baseline is what the broker holds (nothing is missing unless it is short)."""
        floor = self.baseline.get(symbol, max(0, broker_qty))
        return max(0, floor - broker_qty)

    def tell_foreign(self, symbol: str, qty: int) -> str | None:
        """The line to report foreign shares, once per symbol and size (None: already told)."""
        if qty <= 0 or self.reported.get(symbol) == qty:
            return None
        self.reported[symbol] = qty
        return f"{symbol}: {qty} shares at the broker are not the bot's (the owner's, another " \
               "book's or bought by hand): seen and left alone"
