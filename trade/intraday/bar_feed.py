"""Each symbol's completed 1-minute bars, delivered to the trader in order and without gaps.

Indicators are only right if they see every minute. Warm-up history is fetched before the live
subscription starts, and a reconnect loses the minutes the Gateway was away, so a live bar that
does not follow the previous one is held back while the missing minutes are fetched from history
(within IB's historical pacing) and fed to the indicators; then the held bars go on to the trader.
Missed minutes only update indicators: a decision on a stale bar would trade on the past.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from observability import tracing
from trade.broker import Broker, BrokerError
from trade.intraday.symbol_book import SymbolBook
from trade.models import Bar

log = logging.getLogger(__name__)

_MINUTE = timedelta(minutes=1)

ProcessBar = Callable[[SymbolBook, Bar], None]
Spawn = Callable[..., None]


class BarFeed:
    def __init__(self, broker: Broker, books: dict[str, SymbolBook], process: ProcessBar,
                 spawn: Spawn, warmup_duration: str = "2 D") -> None:
        self.broker = broker
        self.books = books
        self.process = process
        self.spawn = spawn
        self.warmup_duration = warmup_duration

    async def warm_up(self, given: Mapping[str, Sequence[Bar]]) -> None:
        """Feed recent completed bars (the analyst's, or fetched) so indicators are ready."""
        async def one(book: SymbolBook) -> None:
            bars = given.get(book.symbol)
            if not bars:
                try:
                    bars = await self.broker.history(book.symbol, self.warmup_duration, "1 min")
                except BrokerError as exc:
                    log.warning("%s: no warm-up history (%s)", book.symbol, exc)
                    return
            now = self.broker.now()
            for bar in bars:
                if bar.end <= now:
                    book.indicators.update(bar)
                    book.last_bar_start = bar.start
        with tracing.span("warm_up"):
            await asyncio.gather(*(one(b) for b in list(self.books.values())))

    async def subscribe(self) -> None:
        for symbol in list(self.books):
            await self.broker.subscribe_bars(symbol, self.on_bar)

    def on_bar(self, bar: Bar) -> None:
        book = self.books.get(bar.symbol)
        if book is None or (book.last_bar_start is not None and bar.start <= book.last_bar_start):
            return
        if book.backfill is not None:
            book.backfill.append(bar)
            return
        last = book.last_bar_start
        if last is not None and bar.start - last > _MINUTE and bar.start.date() == last.date():
            book.backfill = [bar]
            self.spawn(self._fill_gap(book))
            return
        self.process(book, bar)

    async def _fill_gap(self, book: SymbolBook) -> None:
        assert book.backfill is not None and book.last_bar_start is not None
        first_live = book.backfill[0]
        seconds = int((first_live.start - book.last_bar_start).total_seconds()) + 120
        duration = f"{seconds} S" if seconds < 86_400 else "1 D"
        try:
            history = await self.broker.history(book.symbol, duration, "1 min")
        except BrokerError as exc:
            log.warning("%s: gap before %s not filled (%s)", book.symbol, first_live.start, exc)
            history = []
        missed = [b for b in history if book.last_bar_start < b.start < first_live.start]
        for bar in missed:
            book.indicators.update(bar)
            book.last_bar_start = bar.start
        if missed:
            log.info("%s: filled %d missed minute(s) from history", book.symbol, len(missed))
        pending, book.backfill = book.backfill, None
        for bar in pending:
            if bar.start > book.last_bar_start:
                self.process(book, bar)
