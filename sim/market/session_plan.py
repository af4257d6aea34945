"""The consecutive sessions one simulator process replays, and which one is current at a time.

A real Gateway runs across nights and weekends: after the close, history and prices are the
finished session's; from midnight of the next session day on, that session is "today" (its
previous close is the last price until its open). The plan answers "which session's replay is
current at time t" for the gateway and the engine, and where the next open is (for a clock that
skips the idle night, see `GatewaySimulator`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime, time

from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import NY, is_session, session_bounds


class SessionPlanError(ValueError):
    """The days asked for cannot be replayed; the message names the day and the fix."""


def day_start(day: date) -> datetime:
    """Midnight of `day` in New York: from then on `day` is the current session."""
    return datetime.combine(day, time(0, 0), tzinfo=NY)


class SessionPlan:
    """`days` (NYSE sessions, ascending) of `symbols` from `source`, on one `clock`."""

    def __init__(
        self, source: BarSource, clock: ReplayClock, days: Sequence[date], symbols: Sequence[str]
    ) -> None:
        if not days:
            raise SessionPlanError("no session to replay: give at least one date")
        ordered = sorted(set(days))
        for day in ordered:
            if not is_session(day):
                raise SessionPlanError(f"{day} is not an NYSE session (weekend or holiday): pick a trading day")
        self.source = source
        self.clock = clock
        self.days = ordered
        self.symbols = [s.upper() for s in symbols]
        self._starts = [day_start(d).timestamp() for d in ordered]
        self._replays: dict[date, MarketReplay] = {}

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]

    def day_at(self, t: datetime) -> date:
        """The current session at `t`: the last planned day whose midnight has passed."""
        i = bisect_right(self._starts, t.timestamp()) - 1
        return self.days[max(0, i)]

    def replay(self, day: date) -> MarketReplay:
        replay = self._replays.get(day)
        if replay is None:
            if day not in self.days:
                raise SessionPlanError(f"{day} is not in the replayed days {self.first}..{self.last}")
            replay = MarketReplay(self.source, self.clock, day, self.symbols)
            self.source = replay.source  # the grid-wrapped source, shared by later days' replays
            self._replays = {d: r for d, r in self._replays.items() if d >= day}  # keep memory flat
            self._replays[day] = replay
        return replay

    def replay_at(self, t: datetime) -> MarketReplay:
        return self.replay(self.day_at(t))

    def next_day(self, day: date) -> date | None:
        i = self.days.index(day)
        return self.days[i + 1] if i + 1 < len(self.days) else None

    def next_open_after(self, t: datetime) -> datetime | None:
        """The first planned session open after `t`, or None after the last one."""
        for day in self.days:
            opened = session_bounds(day)[0]
            if opened > t:
                return opened
        return None
