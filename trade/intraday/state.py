"""The day trader's state in one place: the day's phase and why entries are paused.

Everything else in the trader *reads* this state; only the methods below change it, each named
for the event that causes the change. Drawn as a machine (docs/architecture.md has the picture):

    phase:  STARTING --started--> TRADING --flatten time / a person's flatten--> FLATTENING
            FLATTENING --flat before the flatten time (a person's flatten)--> TRADING
            FLATTENING --flat at or after the flatten time--> FLAT      (the run ends)
            any --stop (SIGINT/SIGTERM)--> STOPPED                       (the run ends)

    connection: CONNECTED --lost--> LOST --reconnected--> RESTORED (counted)

    pauses (entries are allowed only while none is active; several may be active at once):
      STARTING    set at construction               cleared by `started`
      CONNECTION  set by `connection_lost`          cleared by `resynchronised`
                                                     (after the reconnect's reconcile)
      HEALTH      set by `health_pause`             cleared by `health_resume`
      PERSON      set by `person_pause(by)`         cleared by `person_resume`
      FLATTEN     set by `flatten_started`          never cleared when the flatten time started
                                                     it; after a person's flatten, cleared by
                                                     `person_resume` (the person resumes)
      STOPPED     set by `stop`                     never cleared

Who may resume what is the point of keeping reasons apart: a health check that recovers must not
lift a person's pause, a reconnect must not lift a health pause, and nobody lifts the flatten
time's. A person's flatten leaves entries paused until that person resumes; the flatten time
still flattens whatever is held by then (a person's flatten never stands in for it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from trade.broker import ConnectionState

log = logging.getLogger(__name__)


class Phase(StrEnum):
    STARTING = "starting"  # syncing with the broker and warming up: no entries, no guard
    TRADING = "trading"
    FLATTENING = "flattening"  # closing the bot's own positions
    FLAT = "flat"  # flat confirmed at or after the flatten time: the run ends
    STOPPED = "stopped"  # a signal: the run ends, exits stay at the broker


class Pause(StrEnum):
    STARTING = "starting"
    CONNECTION = "connection lost"
    HEALTH = "health"
    PERSON = "person"
    FLATTEN = "flatten"
    STOPPED = "stopped"


# the reason shown when several are active: the one that will last longest first
_SHOWN_FIRST = (Pause.STOPPED, Pause.FLATTEN, Pause.PERSON, Pause.CONNECTION, Pause.HEALTH,
                Pause.STARTING)


@dataclass(frozen=True, slots=True)
class ActivePause:
    reason: Pause
    by: str  # who set it: "trader", "health", a person ("status page"), a signal


class TraderState:
    """The only writer of the trader's phase and pauses (see the module docstring)."""

    def __init__(self) -> None:
        self._phase = Phase.STARTING
        self._pauses: dict[Pause, ActivePause] = {Pause.STARTING: ActivePause(Pause.STARTING, "trader")}
        self._flatten_requested_by: str | None = None
        self._flatten_by_person: str | None = None  # the running/last flatten was a person's
        self._flat = asyncio.Event()
        self.flat_at: datetime | None = None
        self.connection = ConnectionState.CONNECTED
        self.reconnects = 0

    # -- reads -----------------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def may_enter(self) -> bool:
        return not self._pauses and self._phase is Phase.TRADING

    @property
    def flattening(self) -> bool:
        return self._phase is Phase.FLATTENING

    @property
    def stopped(self) -> bool:
        return self._phase is Phase.STOPPED

    @property
    def connected(self) -> bool:
        return self.connection is not ConnectionState.LOST

    @property
    def flatten_requested_by(self) -> str | None:
        """A person's flatten waiting to run (the status page's "Flatten now")."""
        return self._flatten_requested_by

    def paused(self, reason: Pause) -> bool:
        return reason in self._pauses

    @property
    def pause_shown(self) -> str | None:
        """Why entries are paused, as the status page and the run log say it (or None)."""
        for reason in _SHOWN_FIRST:
            active = self._pauses.get(reason)
            if active is not None:
                return active.by if reason in (Pause.PERSON, Pause.STOPPED) else reason.value
        return None

    def flatten_due(self, now: datetime, flatten_at: datetime) -> bool:
        """Whether the loop must run the flatten now: the flatten time, or a person's request."""
        if self._phase in (Phase.STOPPED, Phase.FLAT):
            return False
        return now >= flatten_at or self._flatten_requested_by is not None

    async def wait_flat(self) -> None:
        await self._flat.wait()

    # -- transitions -----------------------------------------------------------------------------
    def started(self) -> None:
        """The start's sync and warm-up are done: trading (entries allowed unless paused)."""
        self._pauses.pop(Pause.STARTING, None)
        if self._phase is Phase.STARTING:
            self._phase = Phase.TRADING

    def connection_lost(self) -> None:
        self.connection = ConnectionState.LOST
        self._set(Pause.CONNECTION, "connection")

    def reconnected(self) -> None:
        """The socket is back (entries stay paused until the reconcile has run)."""
        self.connection = ConnectionState.RESTORED
        self.reconnects += 1

    def resynchronised(self) -> None:
        """After the reconnect's reconcile: the bot's view of the broker is fresh again (unless
        the connection dropped once more meanwhile: then the next reconcile decides)."""
        if self.connection is not ConnectionState.LOST:
            self._pauses.pop(Pause.CONNECTION, None)

    def health_pause(self) -> bool:
        """A health verdict paused entries; False when it was already paused for health."""
        if Pause.HEALTH in self._pauses:
            return False
        self._set(Pause.HEALTH, "health")
        return True

    def health_resume(self) -> bool:
        """A healthy verdict lifts the health pause only (True when there was one)."""
        return self._pauses.pop(Pause.HEALTH, None) is not None

    def person_pause(self, by: str) -> None:
        if Pause.PERSON not in self._pauses:
            self._set(Pause.PERSON, by)
        log.warning("entries paused by %s", by)

    def person_resume(self, by: str) -> bool:
        """A person allows entries again: lifts a person's pause and the pause left by a
        person's flatten, never a pause for another reason (those stay, and it says so)."""
        lifted = self._pauses.pop(Pause.PERSON, None) is not None
        flatten = self._pauses.get(Pause.FLATTEN)
        if flatten is not None and self._flatten_by_person is not None \
                and self._phase is Phase.TRADING:
            del self._pauses[Pause.FLATTEN]
            self._flatten_by_person = None
            self._flat.clear()
            lifted = True
        if not lifted:
            log.warning("resume by %s: entries stay paused (%s)", by, self.pause_shown)
        elif self._pauses:
            log.warning("entries resumed by %s, still paused (%s)", by, self.pause_shown)
        else:
            log.warning("entries resumed by %s", by)
        return lifted

    def request_flatten(self, by: str) -> None:
        """A person asks to flatten now (the loop runs it at its next step)."""
        self._flatten_requested_by = by
        self._flat.clear()

    def flatten_started(self, now: datetime, flatten_at: datetime) -> str | None:
        """The loop starts (or retries) the flatten; the line to log the first time, else None."""
        first = self._phase is not Phase.FLATTENING
        by_person = now < flatten_at and self._flatten_requested_by is not None
        self._phase = Phase.FLATTENING
        self._flatten_by_person = self._flatten_requested_by if by_person else None
        self._set(Pause.FLATTEN, self._flatten_by_person or "flatten time")
        if not first:
            return None
        if by_person:
            return f"flatten requested ({self._flatten_requested_by})"
        return f"flatten time {flatten_at:%H:%M}"

    def flat_confirmed(self, at: datetime, now: datetime, flatten_at: datetime) -> None:
        """The broker reports the bot flat. Before the flatten time (a person's flatten) the day
        goes on with entries paused until that person resumes; otherwise the run is done."""
        self.flat_at = at
        self._flatten_requested_by = None
        self._flat.set()
        if now < flatten_at and self._flatten_by_person is not None:
            self._phase = Phase.TRADING
        else:
            self._flatten_by_person = None
            self._phase = Phase.FLAT

    def stop(self, reason: str) -> None:
        """SIGINT/SIGTERM: final; the run returns, exits stay at the broker."""
        self._set(Pause.STOPPED, reason)
        self._phase = Phase.STOPPED

    @property
    def stop_reason(self) -> str | None:
        active = self._pauses.get(Pause.STOPPED)
        return active.by if active is not None else None

    def _set(self, reason: Pause, by: str) -> None:
        self._pauses[reason] = ActivePause(reason, by)
