"""The preflight's own orders: fresh refs, every id it placed, and putting the account back.

Everything the preflight sends goes through here, so the cleanup knows exactly what is its own:
the order ids it placed (IB never reuses an order id of a client) and the executions of those
orders. The cleanup never sells a share it did not buy: it sells (or buys back) the net of its
own executions, after every order of its own is confirmed gone — the flatten's rule
(trade/intraday/flatten.py): a take-profit that fills during its cancel must not turn the sale
into a short. Refs are `PF-<YYYYMMDD>-<SYM>-<n>-<LEG>`: not the day trader's (`DT-`), so a bot
started later never mistakes them for its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import date

from trade.ib.broker import IBBroker
from trade.ib.preflight.options import PreflightOptions
from trade.ib.preflight.tape import Tape
from trade.models import Fill, OrderTicket, Side
from trade.ticks import round_to_tick

log = logging.getLogger(__name__)

BOT = "PF"
CONFIRM_S = 5.0  # a cancel confirmed by IB within this, else it is sent again


class PreflightDesk:
    def __init__(self, broker: IBBroker, tape: Tape, options: PreflightOptions, day: date) -> None:
        self.broker = broker
        self.tape = tape
        self.options = options
        self.symbol = options.symbol
        self.placed: set[int] = set()
        self._day = day.strftime("%Y%m%d")
        self._seq = 0

    # -- sending --------------------------------------------------------------------------------
    def next_ref(self, leg: str) -> str:
        self._seq += 1
        return f"{BOT}-{self._day}-{self.symbol}-{self._seq}-{leg}"

    def track(self, *tickets: OrderTicket | None) -> None:
        self.placed.update(t.order_id for t in tickets if t is not None)

    async def market(self, side: Side, qty: int = 1, leg: str = "") -> OrderTicket:
        ticket = await self.broker.place_market(self.symbol, side, qty,
                                                self.next_ref(leg or side.value))
        self.track(ticket)
        return ticket

    async def filled(self, ticket: OrderTicket, timeout: float = math.inf) -> Fill | None:
        """The order's last execution once it has executed in full; None when time ran out."""
        if not await self.tape.until(lambda: self.tape.executed(ticket.order_id) >= ticket.qty,
                                     timeout):
            return None
        return self.tape.fills_of(ticket.order_id)[-1]

    async def buy_one(self) -> Fill:
        """One share at market, executed (the step's deadline bounds the wait)."""
        fill = await self.filled(await self.market(Side.BUY, 1, "BUY"))
        assert fill is not None, "an unbounded wait returns a fill"
        return fill

    async def last_price(self) -> float:
        """The newest price the preflight knows: its own last execution, the streamed last
        price, else the last bar of the last two sessions (at the open, today has none yet)."""
        mine = [f for f in self.tape.fills.values() if f.order_id in self.placed]
        if mine:
            return max(mine, key=lambda f: (f.time, f.exec_id)).price
        streamed = self.broker.last_price(self.symbol)
        if streamed:
            return streamed
        bars = await self.broker.history(self.symbol, "2 D", "1 min")
        if not bars:
            raise LookupError(f"{self.symbol}: no price (no execution, no stream, no bars)")
        return bars[-1].close

    def exits(self, price: float) -> tuple[float, float]:
        """(take-profit, stop) far enough away not to be reached while the preflight runs."""
        distance = self.options.exit_distance
        return round_to_tick(price * (1 + distance)), round_to_tick(price * (1 - distance))

    # -- reading --------------------------------------------------------------------------------
    async def working(self) -> list[OrderTicket]:
        """The preflight's orders IB lists as working now."""
        return [o for o in await self.broker.open_orders()
                if o.order_id in self.placed and o.status.is_working]

    def net_shares(self) -> int:
        return self.tape.net_shares(self.placed)

    async def gone(self, order_ids: set[int], timeout: float) -> bool:
        """Wait until none of `order_ids` is listed working by IB (it reported them done)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            working = {o.order_id for o in await self.broker.open_orders()}
            if not working & order_ids:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(self.options.poll_s)

    # -- undoing --------------------------------------------------------------------------------
    async def restore(self) -> str:
        """Cancel every order of the preflight still working, confirm, then sell (or buy back)
        the net of its own executions, until nothing of it is left. Unbounded: the caller
        bounds it. Returns what it did, in words."""
        done: list[str] = []
        while True:
            working = await self.working()
            for order in working:
                await self.broker.cancel(order.order_id)
            if working:
                done.append(f"cancelled {', '.join(o.order_ref for o in working)}")
                if not await self.gone({o.order_id for o in working}, CONFIRM_S):
                    log.warning("preflight: cancels not confirmed within %.0f s; sending them again",
                                CONFIRM_S)
                    continue
            await self._settle()
            net = self.net_shares()
            if net == 0:
                return "; ".join(done) or "nothing to undo"
            side = Side.SELL if net > 0 else Side.BUY
            ticket = await self.market(side, abs(net), "FLAT" if net > 0 else "COVER")
            done.append(f"{'sold' if net > 0 else 'bought back'} {abs(net)} {self.symbol} "
                        f"({ticket.order_ref})")
            await self.filled(ticket, CONFIRM_S)

    async def _settle(self) -> None:
        """The executions of every order the preflight placed, all of them: IB's own list merged
        in (an execution whose event was missed), and a status that reported a fill waited for
        until its execution is in (an orderStatus may come before its execDetails)."""
        self.tape.merge(f for f in await self.broker.executions() if f.order_id in self.placed)

        def settled() -> bool:
            return all(self.tape.executed(i) >= self.tape.reported_filled(i) for i in self.placed)

        if not await self.tape.until(settled, CONFIRM_S):
            self.tape.merge(f for f in await self.broker.executions() if f.order_id in self.placed)
