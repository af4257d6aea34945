"""Each symbol's completed 1-minute bars, delivered to the trader in order and without gaps.

Indicators are only right if they see every minute. Warm-up history is fetched before the live
subscription starts, and a reconnect (or a late start: the bot subscribing at 09:35) loses
minutes, so a live bar that does not follow the previous one — within the day, or the first bar
of the session when it is not the opening minute — is held back while the missing minutes are
fetched from history (within IB's historical pacing) and fed to the indicators; then the held
bars go on to the trader, which only updates indicators with a bar older than a minute (a
decision on a stale bar would trade on the past: see `IntradayTrader._process_bar`).

The backfill is a supervised job: a history request that fails (a second disconnect, a pacing
error) is retried with backoff, and after a few failures the held bars are released anyway so a
symbol is never stuck; the indicators then carry the gap, which is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from observability import tracing
from trade.broker import BrokerError, NotConnected
from trade.intraday.context import TraderContext
from trade.intraday.symbol_book import SymbolBook
from trade.models import Bar

log = logging.getLogger(__name__)

_MINUTE = timedelta(minutes=1)
GAP_ATTEMPTS = 4  # history requests for one gap before the held bars are released anyway

ProcessBar = Callable[[SymbolBook, Bar], None]


class BarFeed:
    """The only writer of each symbol's place in the minute stream (`SymbolBook.feed`)."""

    def __init__(self, ctx: TraderContext, process: ProcessBar, warmup_duration: str = "2 D") -> None:
        self.broker = ctx.broker
        self.books = ctx.books
        self.jobs = ctx.jobs
        self.session_open = ctx.session.open
        self.process = process
        self.warmup_duration = warmup_duration
        # bars for today's watchlist only: a leftover of another day is protected and sold,
        # never traded, and needs no data subscription (its symbol may have none)
        self.watchlist = tuple(ctx.books)

    async def warm_up(self, given: Mapping[str, Sequence[Bar]]) -> None:
        """Feed recent completed bars (the analyst's, or fetched) so indicators are ready."""
        async def one(book: SymbolBook) -> None:
            if book.symbol not in self.watchlist:
                return
            bars = given.get(book.symbol)
            if not bars:
                try:
                    bars = await self.broker.history(book.symbol, self.warmup_duration, "1 min")
                except NotConnected:
                    raise  # the start is retried once the Gateway is back
                except BrokerError as exc:
                    log.warning("%s: no warm-up history (%s)", book.symbol, exc)
                    return
            now, feed = self.broker.now(), book.feed
            for bar in bars:  # a retried start must not feed a bar twice
                if bar.end <= now and (feed.last_bar_start is None or bar.start > feed.last_bar_start):
                    book.indicators.update(bar)
                    feed.last_bar_start = bar.start
        with tracing.span("warm_up"):
            await asyncio.gather(*(one(b) for b in list(self.books.values())))

    async def subscribe(self) -> None:
        for symbol in self.watchlist:
            await self.broker.subscribe_bars(symbol, self.on_bar)

    def on_bar(self, bar: Bar) -> None:
        book = self.books.get(bar.symbol)
        if book is None:
            return
        feed = book.feed
        if feed.last_bar_start is not None and bar.start <= feed.last_bar_start:
            return
        if feed.backfill is not None:
            feed.backfill.append(bar)
            return
        if self._follows_a_gap(feed.last_bar_start, bar):
            feed.backfill = [bar]
            feed.gap_attempts = 0
            self.jobs.run(f"backfill:{book.symbol}", lambda: self._fill_gap(book))
            return
        self._deliver(book, bar)

    def _deliver(self, book: SymbolBook, bar: Bar) -> None:
        book.feed.last_bar_start = bar.start
        self.process(book, bar)

    def _follows_a_gap(self, last: datetime | None, bar: Bar) -> bool:
        """Minutes are missing before `bar`: within a day, or at today's open."""
        if last is None:
            return False
        if bar.start.date() == last.date():
            return bar.start - last > _MINUTE
        opening = self.session_open
        return bar.start.date() == opening.date() and bar.start > opening and last < opening

    async def _fill_gap(self, book: SymbolBook) -> None:
        feed = book.feed
        assert feed.backfill is not None and feed.last_bar_start is not None
        first_live = feed.backfill[0]
        last = feed.last_bar_start
        since = max(last, self.session_open - _MINUTE)
        seconds = int((first_live.start - since).total_seconds()) + 120
        duration = f"{seconds} S" if seconds < 86_400 else "1 D"
        feed.gap_attempts += 1
        try:
            history = await self.broker.history(book.symbol, duration, "1 min")
        except (BrokerError, ConnectionError, TimeoutError, OSError) as exc:
            if feed.gap_attempts < GAP_ATTEMPTS:
                raise  # the supervisor retries with backoff
            log.warning("%s: gap before %s not filled after %d tries (%s); the indicators carry "
                        "the gap", book.symbol, first_live.start, feed.gap_attempts, exc)
            history = []
        missed = [b for b in history if last < b.start < first_live.start]
        for bar in missed:
            self._deliver(book, bar)  # old bars: the trader only updates indicators with them
        if missed:
            log.info("%s: filled %d missed minute(s) from history", book.symbol, len(missed))
        pending, feed.backfill = feed.backfill, None
        for bar in pending:
            if feed.last_bar_start is None or bar.start > feed.last_bar_start:
                self._deliver(book, bar)
