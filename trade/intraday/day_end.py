"""The trader's reports around the trading loop: what a start resumes, the progress line, and how
a run ends (settle after the close, what is left open, the last records, the run log's tail).

Mixed into `IntradayTrader`, whose state these methods read; kept apart so the trader module
holds the loop and the broker events only.

Why a run may wait after the close: when the close comes before the bot saw itself flat (the
Gateway was down over the flatten, the run started late), the broker-held backstop sold at
flatten + 2 min, or the positions are still held. IB reports only the current day's executions,
so a bot that left at once would never record the backstop's sale. It waits for the connection
(bounded in real seconds: a simulator's clock may run far ahead of a disconnected client) and
reconciles until its book is flat, then writes the run log with what is really left.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from observability.schema import IntentState
from trade.broker import ConnectionState

log = logging.getLogger(__name__)

BOOK = "intraday"
BACKSTOP_MARGIN = timedelta(seconds=30)  # the backstop's sale is in the broker's executions by then


class DayEnd:
    broker: Any
    session: Any
    options: Any
    books: Any
    orders: Any
    records: Any
    refs: Any
    fills: Any
    entries: Any
    run_log: Any
    jobs: Any
    exits: Any
    _stop_reason: str | None
    _connection: ConnectionState
    _reconnects: int
    _next_progress: datetime | None
    _bars_to_record: list[Any]

    async def reconcile(self, reason: str) -> None: ...

    # == start ============================================================================
    def _resume_report(self) -> None:
        """After the start's reconcile: say what is resumed, and close the intents that no
        position or working order carries any more (a simulator that vanished, an earlier day)."""
        held = [(s, b.qty) for s, b in sorted(self.books.items()) if b.qty]
        if held:
            legs = {s: sorted(o.order_type.value for o in self.orders.values() if o.symbol == s)
                    for s, _ in held}
            log.warning("resuming %d position(s) with their exits: %s", len(held), "; ".join(
                f"{s} {q} ({', '.join(legs[s]) or 'no exits yet: protecting'})" for s, q in held))
        db = self.records.db
        working = {o.order_ref.rsplit("-", 1)[0] for o in self.orders.values()}
        for intent in self.records.read("open_intents", lambda: db.open_intents(BOOK), []):
            group = intent.order_ref.rsplit("-", 1)[0]
            book = self.books.get(intent.symbol)
            if intent.trading_date < self.session.date or (
                    group not in working and (book is None or book.qty == 0)):
                self.refs.set_state(intent.order_ref, IntentState.CLOSED)

    # == during the day ===================================================================
    def _progress(self, now: datetime) -> None:
        """One line a trader can follow: market time, positions, P&L, entries so far."""
        step = timedelta(seconds=self.options.progress_every_s)
        self._next_progress = (self._next_progress or now) + step
        if not self.session.open <= now <= self.session.close:
            return
        held = [f"{s} {b.qty}" for s, b in sorted(self.books.items()) if b.qty]
        unrealized = sum(((self.broker.last_price(s) or b.avg_cost) - b.avg_cost) * b.qty
                         for s, b in self.books.items() if b.qty)
        entries = sum(self.refs.entries_sent(s) for s in self.books)
        log.info("progress %s: positions %s | realized %+.2f, unrealized %+.2f | %d entries, "
                 "%d trades", now.strftime("%H:%M"), ", ".join(held) or "none",
                 self.fills.realized_pnl, unrealized, entries, len(self.run_log.trades))

    def _record_bars(self) -> None:
        """The minute bars the bot traded on (the daily report draws them), in one write."""
        if self._bars_to_record:
            bars, self._bars_to_record = self._bars_to_record, []
            db = self.records.db
            self.records.write("record_minute_bars",
                               lambda: db.record_minute_bars(self.session.date, bars))

    # == the end of the run ===============================================================
    def _held(self) -> dict[str, int]:
        return {s: b.qty for s, b in self.books.items() if b.qty}

    async def _settle_after_close(self) -> None:
        """The close came with positions in the book: wait for the connection and reconcile
        until the broker's executions (the backstop's sale) have been applied, for at most
        `settle_after_close_s` real seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.settle_after_close_s
        log.warning("the close came with %s in the book: waiting up to %.0f s for the broker's "
                    "executions (the backstop's sale)", self._held(), self.options.settle_after_close_s)
        backstop = self.exits.backstop_at
        final = backstop + BACKSTOP_MARGIN if backstop is not None else self.session.close
        while self._held() and loop.time() < deadline:
            if self._connection != ConnectionState.LOST:
                try:
                    await self.reconcile(reason="after close")
                except Exception as exc:  # a dropped socket: the watchdog reconnects, try again
                    log.info("after-close reconcile failed (%s: %s)", type(exc).__name__, exc)
                else:
                    if not self._held():
                        log.info("flat after the close: the broker's executions are recorded")
                        return
                    if self.broker.now() >= final:
                        return  # the backstop had its chance: what is held now is really held
            await asyncio.sleep(self.options.settle_poll_s)

    def _report_left_open(self) -> None:
        held = self._held()
        if held:
            note = (f"the session closed with {held} still held by the bot: they are adopted, "
                    "protected and flattened at the next session")
            log.error(note)
            if note not in self.run_log.warnings:
                self.run_log.warnings.append(note)
        self.run_log.extra["left_open"] = held

    async def _flush_before_exit(self) -> None:
        """Records that waited for a locked DB get a last chance before the process ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.shutdown_flush_s
        while self.records.flush(force=True) is not None and self.records.pending \
                and loop.time() < deadline:
            await asyncio.sleep(0.2)
        if self.records.pending:
            log.error("%d history DB write(s) could not be recorded before exit",
                      self.records.pending)

    def _finish_run_log(self) -> None:
        """The run log's tail: end time, reconnects, why no entry, exact P&L, what is held."""
        self.run_log.ended_at = self.broker.now()
        self.run_log.reconnects = max(self.run_log.reconnects, self._reconnects)
        self.run_log.extra["no_entry"] = {s: dict(c) for s, c in self.entries.no_entry.items() if c}
        self.run_log.exact_pnl = self.fills.realized_pnl
        held = self._held()
        if held:  # stopped early (a signal) or the close came first: say what is still held
            self.run_log.extra["open_positions"] = [
                {"symbol": s, "qty": q, "exits_at_broker": sorted(
                    o.order_type.value for o in self.orders.values()
                    if o.symbol == s and o.status.is_working)}
                for s, q in sorted(held.items())]
        if self.records.pending:
            self.run_log.warnings.append(
                f"{self.records.pending} history DB write(s) could not be recorded")
        if self._stop_reason is not None:
            self.run_log.stopped_by = self._stop_reason
