"""Runtime state of one symbol the day trader trades (shared by the trader and its recorder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trade.indicators import IndicatorState
from trade.models import Bar, BracketTickets, OrderTicket, Params


@dataclass(slots=True)
class SymbolBook:
    symbol: str
    params: Params
    indicators: IndicatorState
    qty: int = 0  # shares this bot owns (never another book's)
    avg_cost: float = 0.0
    pending_entry: str | None = None  # ref of an entry in flight
    pending_qty: int = 0  # shares that entry asked for
    pending_price: float = 0.0  # the price it was sized at
    entry_sent_at: float = 0.0  # monotonic time it was sent
    entry_legs: BracketTickets | None = None  # its legs, until the entry is done
    entry_result: OrderTicket | None = None  # its final status, when it came during the send
    daily_atr_pct: float | None = None  # the day's volatility screen value (analyst)
    last_bar_start: datetime | None = None
    backfill: list[Bar] | None = None  # live bars held while a gap is filled from history
    gap_attempts: int = 0  # history requests made for the current gap
    unprotected_since: float | None = None  # monotonic time a held position lost its stop
    entry_snapshot: dict[str, Any] = field(default_factory=dict)  # indicators at the decision

    @classmethod
    def outside_watchlist(cls, symbol: str) -> SymbolBook:
        """A bot-owned position in a symbol not on today's watchlist: managed, never entered."""
        return cls(symbol, Params(), IndicatorState())
