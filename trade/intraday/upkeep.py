"""The trader's upkeep: the account values it sizes with, its periodic health check, and the
healing the verdict asks for.

The healing acts on the trader's state only through `TraderState` (a health pause is lifted by a
healthy verdict, never a person's or the connection's) and on the bar feed (a re-subscription,
never twice within `resubscribe_every_s`: a fresh subscription needs a minute or two to complete
a bar).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from evaluation.health import PAUSE_ENTRIES, RECONNECT, RESUBSCRIBE, RESUME_ENTRIES
from trade.intraday.bar_feed import BarFeed
from trade.intraday.context import TraderContext
from trade.intraday.entries import EntryDesk
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.health_keeper import HealthKeeper

log = logging.getLogger(__name__)


class Upkeep:
    def __init__(self, ctx: TraderContext, entries: EntryDesk, fills: FillRecorder,
                 health: HealthKeeper, feed: BarFeed, *, health_interval_s: float,
                 resubscribe_every_s: float) -> None:
        self.ctx = ctx
        self.entries = entries
        self.fills = fills
        self.health = health
        self.feed = feed
        self.health_interval_s = health_interval_s
        self.resubscribe_every_s = resubscribe_every_s
        self.next_health: datetime | None = None
        self.last_bar_end: datetime | None = None  # the newest bar the trader processed
        self._last_resubscribe: datetime | None = None

    async def refresh_account(self) -> None:
        try:
            self.entries.account = await self.ctx.broker.account()
        except Exception as exc:  # keep the last known account values
            log.warning("account refresh failed: %s", exc)
        if self.entries.day_start_equity is None:
            self.entries.day_start_equity = self.starting_equity()

    def starting_equity(self) -> float | None:
        """Net liquidation at the start of today's trading: today's realised P&L (replayed from
        the DB after a restart) is added back, so a restart after a loss does not lower the
        daily loss cap's base. None while the account values are not in (a net liquidation of
        0 is no base)."""
        account = self.entries.account
        if account is None or account.net_liquidation <= 0.0:
            return None
        return account.net_liquidation - self.fills.realized_pnl

    def health_due(self, now: datetime) -> bool:
        return self.next_health is None or now >= self.next_health

    async def health_check(self, now: datetime) -> None:
        self.next_health = now + timedelta(seconds=self.health_interval_s)
        await self.refresh_account()
        session = self.ctx.session
        staleness = 0.0
        if self.last_bar_end is not None and session.open <= now < session.close:
            staleness = max(0.0, (now - self.last_bar_end).total_seconds())
        reading, verdict = await self.health.measure(now, self.ctx.state.connected, staleness)
        self.health.record(reading, verdict, self.heal(verdict.actions, now))

    def heal(self, actions: list[str], now: datetime) -> list[str]:
        state, taken = self.ctx.state, []
        for action in actions:
            if action == PAUSE_ENTRIES and state.health_pause():
                taken.append(action)
            elif action == RESUME_ENTRIES and state.health_resume():
                taken.append(action)
            elif action == RESUBSCRIBE and self._resubscribe_due(now):
                self._last_resubscribe = now
                self.ctx.jobs.run("resubscribe", self.feed.subscribe)
                taken.append(action)
            elif action == RECONNECT:
                taken.append(action)  # the connection watchdog is already reconnecting
        return taken

    def _resubscribe_due(self, now: datetime) -> bool:
        last = self._last_resubscribe
        return last is None or (now - last).total_seconds() >= self.resubscribe_every_s
