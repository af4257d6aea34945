"""The trader's flatten: what the bot still owns, read afresh, and the flatten routine run over it.

Kept apart from the trader's loop because it is the one place where the bot sells everything it
owns, and every number it sells must come from the bot's own executions (caught up with the
broker's first: an exit that filled as it was cancelled, its report still on the way, is never
sold twice), never into foreign shares (trade/intraday/ownership.py). The routine itself, with its
double safety net and its watchdog, is trade/intraday/flatten.py.
"""

from __future__ import annotations

import asyncio
import logging

from observability import tracing
from observability.tracing import SpanNames
from trade.intraday.context import TraderContext
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.flatten import Holdings, flatten, flatten_refs
from trade.intraday.sync import BrokerSync

log = logging.getLogger(__name__)


class Closing:
    def __init__(self, ctx: TraderContext, fills: FillRecorder, sync: BrokerSync, *,
                 release_backstop: bool) -> None:
        self.ctx = ctx
        self.fills = fills
        self.sync = sync
        self.release_backstop = release_backstop

    async def flatten(self) -> None:
        """One flatten (the flatten time's, or a person's), until flat or the close."""
        ctx = self.ctx
        session, state = ctx.session, ctx.state
        first = state.flatten_started(ctx.broker.now(), session.flatten_at)
        if first is not None:
            how = ("a whole exit group by releasing its backstop, the rest cancelled and sold"
                   if self.release_backstop else "every exit cancelled, confirmed, then sold")
            log.info("%s: closing own positions (%s)", first, how)
        await ctx.jobs.drain(2.0)  # let a repair or reprice in progress finish first
        with tracing.span(SpanNames.FLATTEN):
            result = await flatten(ctx.broker, ctx.bot, self.holdings, flatten_refs(ctx.refs),
                                   settled=self.settled, release_backstop=self.release_backstop,
                                   until=session.close, poll=0.005)
        if result.flat:
            assert result.flat_at is not None
            state.flat_confirmed(result.flat_at, ctx.broker.now(), session.flatten_at)
            if state.phase.value == "flat":  # the day's flatten, not a person's earlier one
                ctx.run_log.flat_at = result.flat_at
            log.info("flat confirmed at %s after %d round(s)", result.flat_at, result.rounds)
        elif result.remaining:
            log.error("NOT FLAT after %d rounds: %s still held", result.rounds, result.remaining)

    async def holdings(self) -> Holdings:
        """What the bot still owns and may trade now: every execution the broker reports
        applied first, a confirmed sale the bot did not make taken into account."""
        # both reads at once: the flatten's every round pays this, IB's replies take time
        _, positions = await asyncio.gather(self.fills.catch_up(), self.ctx.broker.positions())
        self.sync.judge(positions)
        held = {p.symbol: p.qty for p in positions}
        remaining, tradable = {}, {}
        for symbol, book in self.ctx.books.items():
            lot = book.qty
            if lot == 0:
                continue
            if lot < 0:  # bought back only as far as the account misses the shares
                coverable = self.sync.lots.coverable(symbol, held.get(symbol, 0))
                if book.qty:
                    remaining[symbol] = book.qty
                if coverable:
                    tradable[symbol] = -coverable
                continue
            remaining[symbol] = lot
            if (sellable := self.ctx.ownership.sellable(symbol, held.get(symbol, 0), lot)) > 0:
                tradable[symbol] = sellable
        return Holdings(remaining, tradable)

    async def settled(self) -> bool:
        """No exit of the bot reported filled whose execution has not been applied."""
        books = self.ctx.books
        if any(self.fills.unsettled(symbol) for symbol in books):
            await self.fills.catch_up()
            return not any(self.fills.unsettled(symbol) for symbol in books)
        return True
