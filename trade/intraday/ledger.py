"""Round trips built from executions, so every trade row is derived from what the broker filled.

A round trip is one entry sequence of a symbol (`DT-<day>-<SYM>-<seq>-*` refs): entry fills open
it, exit fills (target, stop, backstop, flatten, or an adopted position's protective exits) close
it. The ledger is fed each execution exactly once (the caller dedupes by exec id) and can be
rebuilt after a restart by replaying the day's recorded executions.

A sale larger than the open quantity (a defect: a second exit filling after the first) is split:
the part that closes the long trip closes it, the excess opens a short trip that the cover buy
closes, so the P&L the bot reports stays the broker's truth instead of hiding the oversell.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from trade.models import Fill, OrderRef, Side

EXIT_REASONS = {"TP": "target", "SL": "stop", "FLAT": "flatten", "BKS": "flatten",
                "COVER": "cover"}


@dataclass(slots=True)
class RoundTrip:
    symbol: str
    key: str  # "<day>-<symbol>-<seq>" of the entry
    entry_fills: list[Fill] = field(default_factory=list)
    exit_fills: list[Fill] = field(default_factory=list)
    side: Side = Side.BUY  # BUY: a long trip; SELL: a short trip (only ever from an oversell)

    @property
    def entry_qty(self) -> int:
        return sum(f.qty for f in self.entry_fills)

    @property
    def exit_qty(self) -> int:
        return sum(f.qty for f in self.exit_fills)

    @property
    def open_qty(self) -> int:
        return self.entry_qty - self.exit_qty

    @property
    def is_closed(self) -> bool:
        return self.entry_qty > 0 and self.open_qty <= 0

    @staticmethod
    def _avg(fills: list[Fill]) -> float:
        qty = sum(f.qty for f in fills)
        return sum(f.qty * f.price for f in fills) / qty if qty else 0.0

    @property
    def entry_price(self) -> float:
        return self._avg(self.entry_fills)

    @property
    def exit_price(self) -> float:
        return self._avg(self.exit_fills)

    @property
    def entry_time(self) -> datetime | None:
        return self.entry_fills[0].time if self.entry_fills else None

    @property
    def exit_time(self) -> datetime | None:
        return self.exit_fills[-1].time if self.exit_fills else None

    @property
    def commission(self) -> float:
        """Every commission known so far (a report not yet in counts 0: see `pending`)."""
        return sum(f.cost for f in self.entry_fills + self.exit_fills)

    @property
    def pending(self) -> bool:
        """Some execution's commission report has not come yet."""
        return any(f.commission is None for f in self.entry_fills + self.exit_fills)

    @property
    def pnl(self) -> float:
        """Net P&L: sale proceeds minus cost minus every commission."""
        gross = sum(f.qty * f.price for f in self.exit_fills) - sum(
            f.qty * f.price for f in self.entry_fills
        )
        if self.side is Side.SELL:
            gross = -gross
        return gross - self.commission

    @property
    def exit_reason(self) -> str:
        """The leg that closed most of the position: target, stop or flatten."""
        by_leg: dict[str, int] = {}
        for f in self.exit_fills:
            ref = OrderRef.parse(f.order_ref)
            leg = ref.leg if ref else "FLAT"
            by_leg[leg] = by_leg.get(leg, 0) + f.qty
        if not by_leg:
            return ""
        leg = max(by_leg, key=lambda name: by_leg[name])
        return EXIT_REASONS.get(leg, leg.lower())


class TripLedger:
    """Groups a bot's executions into round trips; returns each one when it closes."""

    def __init__(self, bot: str) -> None:
        self.bot = bot
        self._open: dict[str, RoundTrip] = {}  # symbol -> the round trip holding its position
        self.closed: list[RoundTrip] = []
        self._last_exit: dict[str, datetime] = {}
        self._realized = 0.0  # sum of the closed trips' P&L, in closing order
        self._realized_trips = 0  # how many trips that sum covers

    @property
    def realized_pnl(self) -> float:
        """`sum(t.pnl for t in closed)`: kept as a running sum (the same float: a sum in closing
        order), because the risk rules read it for every entry signal; recomputed if `closed`
        was changed from outside."""
        if self._realized_trips != len(self.closed):
            self._realized = sum(trip.pnl for trip in self.closed)
            self._realized_trips = len(self.closed)
        return self._realized

    def apply(self, fill: Fill) -> RoundTrip | None:
        """Apply one execution of ours; the round trip it closed, if it closed one."""
        ref = OrderRef.parse(fill.order_ref)
        if ref is None or ref.bot != self.bot:
            return None
        trip = self._open.get(fill.symbol)
        if trip is None:
            if fill.side is Side.SELL:
                # a sale whose entry this ledger never saw (an adopted position's exit replayed
                # after a restart): its cost is unknown, and a zero-cost trip would report the
                # whole sale as profit; `adopt` starts the trip for what is still held
                return None
            trip = RoundTrip(fill.symbol, f"{ref.day}-{ref.symbol}-{ref.seq}")
            self._open[fill.symbol] = trip
        if fill.side is trip.side:
            trip.entry_fills.append(fill)
            return None
        closing, excess = _split(fill, trip.open_qty)
        trip.exit_fills.append(closing)
        if trip.open_qty > 0:
            return None
        del self._open[fill.symbol]
        self.closed.append(trip)
        if self._realized_trips == len(self.closed) - 1:
            self._realized += trip.pnl
            self._realized_trips += 1
        self._last_exit[fill.symbol] = fill.time
        if excess is not None:  # sold more than held: the excess is a short to be covered
            self._open[fill.symbol] = RoundTrip(fill.symbol, trip.key + "-over", [excess],
                                                side=excess.side)
        return trip

    def last_exit(self, symbol: str) -> datetime | None:
        """When the bot last closed a round trip in `symbol` (for the re-entry cooldown)."""
        return self._last_exit.get(symbol)

    def adopt(self, symbol: str, qty: int, avg_cost: float, time: datetime, ref: OrderRef) -> None:
        """Start a round trip for a position found at the broker (after a crash or restart)."""
        if symbol in self._open or qty <= 0:
            return
        trip = RoundTrip(symbol, f"{ref.day}-{ref.symbol}-{ref.seq}")
        trip.entry_fills.append(
            Fill(f"adopted-{symbol}-{ref.seq}", 0, str(ref), symbol, Side.BUY, qty, avg_cost, time)
        )
        self._open[symbol] = trip

    def open_trip(self, symbol: str) -> RoundTrip | None:
        return self._open.get(symbol)

    def write_off(self, symbol: str, shares: int) -> None:
        """Shares of the open trip that left without the bot's execution (a person sold them):
        the trip keeps the rest, at the same average price, and closes when the rest is sold."""
        trip = self._open.get(symbol)
        if trip is None or shares <= 0 or trip.side is not Side.BUY:
            return
        keep = max(0, trip.open_qty - shares)
        if keep == 0:
            del self._open[symbol]
            return
        excess = trip.entry_qty - (keep + trip.exit_qty)  # shares to take off, latest fills first
        fills: list[Fill] = []
        for f in reversed(trip.entry_fills):
            take = min(excess, f.qty)
            excess -= take
            if take < f.qty:
                share = (f.qty - take) / f.qty
                fills.append(replace(f, qty=f.qty - take, commission=None
                                     if f.commission is None else f.commission * share))
        trip.entry_fills[:] = list(reversed(fills))

    def set_commission(self, exec_id: str, commission: float) -> list[RoundTrip]:
        """A commission report that came after its execution: attached to that execution (pro
        rata where a sale was split over two trips); returns the trips it touched."""
        touched: list[tuple[RoundTrip, list[Fill], int]] = []
        for trip in [*self.closed, *self._open.values()]:  # a split sale: closing part first
            for fills in (trip.entry_fills, trip.exit_fills):
                for i, f in enumerate(fills):
                    if f.exec_id == exec_id:
                        touched.append((trip, fills, i))
        total = sum(fills[i].qty for _, fills, i in touched)
        left = commission  # the same arithmetic as `_split`, so a late report books the same float
        for n, (_, fills, i) in enumerate(touched):
            part = left if n == len(touched) - 1 else commission * (fills[i].qty / total)
            left -= part
            fills[i] = replace(fills[i], commission=part)
        self._realized_trips = -1  # the closed trips' P&L changed: recomputed on next read
        trips: list[RoundTrip] = []
        for trip, _, _ in touched:
            if all(trip is not t for t in trips):
                trips.append(trip)
        return trips


def _split(fill: Fill, qty: int) -> tuple[Fill, Fill | None]:
    """`fill` cut at `qty` shares (commission pro rata): the part that closes, and the excess."""
    if fill.qty <= qty:
        return fill, None
    if fill.commission is None:  # its report comes later: `set_commission` splits it then
        return replace(fill, qty=qty), replace(fill, qty=fill.qty - qty)
    share = qty / fill.qty
    part = fill.commission * share
    closing = replace(fill, qty=qty, commission=part)
    excess = replace(fill, qty=fill.qty - qty, commission=fill.commission - part)
    return closing, excess
