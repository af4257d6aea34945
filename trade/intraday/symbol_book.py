"""What the day trader knows about one symbol, split by concern, each part with one writer.

    SymbolBook            the symbol, its parameters, its indicators, the day's volatility screen
      .feed   FeedTrack   the bar feed's place in the minute stream        written by BarFeed
      .lot    Lot         the shares this bot owns and their average cost  written by Lots
      .entry  EntryInFlight | None   the entry sent and not yet done       written by EntryDesk
      .exits  ExitWatch   since when the position lacks its correct exits  written by ExitKeeper

Keeping the writers apart is what lets a reader trust a field: the position moves only by the
bot's own executions and reconciles (trade/intraday/lots.py), an entry is opened and closed only
by the entry desk, and so on; every other part only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from trade.indicators import IndicatorState
from trade.models import Bar, BracketTickets, OrderTicket, Params


@dataclass(slots=True)
class FeedTrack:
    last_bar_start: datetime | None = None  # the last minute fed to the indicators
    backfill: list[Bar] | None = None  # live bars held while a gap is filled from history
    gap_attempts: int = 0  # history requests made for the current gap


@dataclass(slots=True)
class Lot:
    qty: int = 0  # shares this bot owns (never another book's); negative: it oversold
    avg_cost: float = 0.0


@dataclass(slots=True)
class EntryInFlight:
    ref: str  # the entry's order ref
    qty: int  # shares it asked for
    price: float  # the price it was sized at
    sent_at: float  # monotonic time it was sent
    legs: BracketTickets | None = None  # its legs, once the broker took them
    result: OrderTicket | None = None  # its final status, when that came during the send
    resumed: bool = False  # found working at the broker by a restarted run (not sent by it)
    # its final status, come before its executions (IB promises no order): the entry stays in
    # flight, counted and blocking a second one, until they are applied
    final: OrderTicket | None = None


@dataclass(slots=True)
class ExitWatch:
    unprotected_since: float | None = None  # monotonic time the exits were first seen wrong
    wrong_since: float | None = None  # ... and not reset by a repair attempt (the owner's alert)
    alerted: bool = False  # the owner was told of this incident


@dataclass(slots=True)
class SymbolBook:
    symbol: str
    params: Params
    indicators: IndicatorState
    daily_atr_pct: float | None = None  # the day's volatility screen value (the analyst's)
    feed: FeedTrack = field(default_factory=FeedTrack)
    lot: Lot = field(default_factory=Lot)
    entry: EntryInFlight | None = None
    exits: ExitWatch = field(default_factory=ExitWatch)

    @property
    def qty(self) -> int:
        return self.lot.qty

    @property
    def avg_cost(self) -> float:
        return self.lot.avg_cost

    @property
    def busy(self) -> bool:
        """Held, or an entry in flight: no new entry is considered."""
        return self.lot.qty != 0 or self.entry is not None

    @classmethod
    def outside_watchlist(cls, symbol: str) -> SymbolBook:
        """A bot-owned position in a symbol not on today's watchlist: managed, never entered."""
        return cls(symbol, Params(), IndicatorState())
