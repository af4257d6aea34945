"""The trader's reports around the trading loop: what a start resumes, the progress line, the day's
minute bars, and how a run ends (settle after the close, what is left open, the last records, the
run log's tail).

A collaborator of `IntradayTrader`, given the shared context and the parts it reads; it writes
only the run log, the minute-bar records and its own progress clock.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from observability.alerts import events as ev
from observability.schema import IntentRow, IntentState
from trade.intraday.context import TraderContext
from trade.intraday.entries import EntryDesk
from trade.intraday.exits import ExitKeeper
from trade.intraday.fill_recorder import FillRecorder
from trade.models import Bar

log = logging.getLogger(__name__)

BACKSTOP_MARGIN = timedelta(seconds=30)  # the backstop's sale is in the broker's executions by then


@dataclass(frozen=True, slots=True)
class DayEndOptions:
    progress_every_s: float  # market seconds between two progress lines (0: none)
    settle_after_close_s: float  # real seconds to wait for the backstop's executions
    settle_poll_s: float  # real seconds between two reconciles while settling
    shutdown_flush_s: float  # how long to wait for a locked DB before exiting
    commission_wait_s: float = 10.0  # real seconds to wait for commission reports still due


class DayEnd:
    def __init__(self, ctx: TraderContext, fills: FillRecorder, entries: EntryDesk,
                 exits: ExitKeeper, options: DayEndOptions,
                 reconcile: Callable[[str], Awaitable[None]]) -> None:
        self.ctx = ctx
        self.fills = fills
        self.entries = entries
        self.exits = exits
        self.options = options
        self.reconcile = reconcile
        self._bars: list[Bar] = []  # the day's minute bars, written once a second
        self._next_progress: datetime | None = None

    # == start ============================================================================
    def resume_report(self) -> None:
        """After the start's reconcile: say what is resumed, and close the intents that no
        position or working order carries any more (a simulator that vanished, an earlier day)."""
        ctx = self.ctx
        held = [(s, b.qty) for s, b in sorted(ctx.books.items()) if b.qty]
        if held:
            legs = {s: sorted(o.order_type.value for o in ctx.orders.values() if o.symbol == s)
                    for s, _ in held}
            log.warning("resuming %d position(s) with their exits: %s", len(held), "; ".join(
                f"{s} {q} ({', '.join(legs[s]) or 'no exits yet: protecting'})" for s, q in held))
        db = ctx.records.db
        working = {o.order_ref.rsplit("-", 1)[0] for o in ctx.orders.values()}
        intents: list[IntentRow] = ctx.records.read(
            "open_intents", lambda: db.open_intents(ctx.book_name), [])
        for intent in intents:
            group = intent.order_ref.rsplit("-", 1)[0]
            book = ctx.books.get(intent.symbol)
            if intent.trading_date < ctx.session.date or (
                    group not in working and (book is None or book.qty == 0)):
                ctx.refs.set_state(intent.order_ref, IntentState.CLOSED)

    # == during the day ===================================================================
    def progress_due(self, now: datetime) -> bool:
        every = self.options.progress_every_s
        return bool(every) and (self._next_progress is None or now >= self._next_progress)

    def progress(self, now: datetime) -> None:
        """One line a trader can follow: market time, positions, P&L, entries so far."""
        ctx = self.ctx
        step = timedelta(seconds=self.options.progress_every_s)
        self._next_progress = (self._next_progress or now) + step
        if not ctx.session.open <= now <= ctx.session.close:
            return
        held = [f"{s} {b.qty}" for s, b in sorted(ctx.books.items()) if b.qty]
        unrealized = sum(((ctx.broker.last_price(s) or b.avg_cost) - b.avg_cost) * b.qty
                         for s, b in ctx.books.items() if b.qty)
        entries = sum(ctx.refs.entries_sent(s) for s in ctx.books)
        log.info("progress %s: positions %s | realized %+.2f, unrealized %+.2f | %d entries, "
                 "%d trades", now.strftime("%H:%M"), ", ".join(held) or "none",
                 self.fills.realized_pnl, unrealized, entries, len(ctx.run_log.trades))

    def keep_bar(self, bar: Bar) -> None:
        self._bars.append(bar)

    def record_bars(self) -> None:
        """The minute bars the bot traded on (the daily report draws them), in one write."""
        if self._bars:
            bars, self._bars = self._bars, []
            db, day = self.ctx.records.db, self.ctx.session.date
            self.ctx.records.write("record_minute_bars", lambda: db.record_minute_bars(day, bars))

    # == the end of the run ===============================================================
    def held(self) -> dict[str, int]:
        return {s: b.qty for s, b in self.ctx.books.items() if b.qty}

    async def settle_after_close(self) -> None:
        """The close came with positions in the book: wait for the connection and reconcile
        until the broker's executions (the backstop's sale) have been applied, for at most
        `settle_after_close_s` real seconds."""
        ctx = self.ctx
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.settle_after_close_s
        log.warning("the close came with %s in the book: waiting up to %.0f s for the broker's "
                    "executions (the backstop's sale)", self.held(),
                    self.options.settle_after_close_s)
        backstop = self.exits.backstop_at
        final = backstop + BACKSTOP_MARGIN if backstop is not None else ctx.session.close
        while self.held() and loop.time() < deadline:
            if ctx.state.connected:
                try:
                    await self.reconcile("after close")
                except Exception as exc:  # a dropped socket: the watchdog reconnects, try again
                    log.info("after-close reconcile failed (%s: %s)", type(exc).__name__, exc)
                else:
                    if not self.held():
                        log.info("flat after the close: the broker's executions are recorded")
                        return
                    if ctx.broker.now() >= final:
                        return  # the backstop had its chance: what is held now is really held
            await asyncio.sleep(self.options.settle_poll_s)

    def report_left_open(self) -> None:
        held, run_log = self.held(), self.ctx.run_log
        if held:
            note = (f"the session closed with {held} still held by the bot: they are protected "
                    "and flattened at the next session (a leftover the bot recorded as its own)")
            log.error(note)
            if note not in run_log.warnings:
                run_log.warnings.append(note)
            self.ctx.alerts.notify(ev.not_flat_at_close(ev.DAY_TRADER, dict(held),
                                                        at=self.ctx.broker.now()))
        run_log.extra["left_open"] = held

    async def await_commissions(self) -> None:
        """IB's commission reports trail their executions (seconds at times): before the run log
        and the last records are written, give the reports still due a bounded wait, then record
        the trips that waited for them with what is known."""
        fills = self.fills
        if fills.pending:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.options.commission_wait_s
            while fills.pending and loop.time() < deadline:
                await asyncio.sleep(0.05)
            if fills.pending and self.ctx.state.connected:
                try:  # a report lost while away: the broker's executions carry it now
                    fills.note_reported(await self.ctx.broker.executions())
                except Exception as exc:
                    log.info("executions not read for their commissions (%s)", exc)
        fills.flush_trips(final=True)

    async def flush_before_exit(self) -> None:
        """Records that waited for a locked DB get a last chance before the process ends."""
        records = self.ctx.records
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.shutdown_flush_s
        while records.flush(force=True) is not None and records.pending \
                and loop.time() < deadline:
            await asyncio.sleep(0.2)
        if records.pending:
            log.error("%d history DB write(s) could not be recorded before exit", records.pending)

    def finish_run_log(self) -> None:
        """The run log's tail: end time, reconnects, why no entry, exact P&L, what is held."""
        ctx = self.ctx
        run_log = ctx.run_log
        run_log.ended_at = ctx.broker.now()
        run_log.reconnects = max(run_log.reconnects, ctx.state.reconnects)
        run_log.extra["no_entry"] = {s: dict(c) for s, c in self.entries.no_entry.items() if c}
        run_log.exact_pnl = self.fills.realized_pnl
        held = self.held()
        if held:  # stopped early (a signal) or the close came first: say what is still held
            run_log.extra["open_positions"] = [
                {"symbol": s, "qty": q, "exits_at_broker": sorted(
                    o.order_type.value for o in ctx.orders.values()
                    if o.symbol == s and o.status.is_working)}
                for s, q in sorted(held.items())]
        unrecorded = ctx.records.unrecorded()
        if unrecorded:
            run_log.warnings.append(
                f"{len(unrecorded)} history DB write(s) could not be recorded: they are in this "
                "run log's `unrecorded`")
            run_log.extra["unrecorded"] = unrecorded
        if ctx.state.stop_reason is not None:
            run_log.stopped_by = ctx.state.stop_reason
