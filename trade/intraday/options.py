"""The day trader's knobs: what a run may tune, with why each default is what it is.

Real seconds where the knob is about waiting on a person or on IB (grace periods, deadlines,
polls); market seconds where it is about the market (health checks, progress lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from evaluation.health import HealthThresholds
from trade.calendar import Session
from trade.intraday.ownership import CONFIRM_AFTER_S, QUIET_AFTER_OWN_EXECUTION_S


@dataclass(slots=True)
class TraderOptions:
    allocation: float
    variant: str = ""
    exit_grace_s: float = 2.0  # real seconds a held position may lack its correct exits
    entry_grace_s: float = 10.0  # real seconds an entry may stay working before it is settled
    health_interval_s: float = 60.0  # market seconds between health checks
    resubscribe_every_s: float = 300.0  # market seconds between forced data re-subscriptions
    tick_s: float = 0.02  # real seconds between clock checks
    guard_interval_s: float = 0.25  # real seconds between two looks at every position's exits
    positions_check_s: float = 2.0  # real seconds between two looks at the broker's positions
    # a sale the bot did not make is believed when seen twice this far apart, and never within
    # `ownership_quiet_s` of the bot's own execution in the symbol (positions lag executions)
    ownership_confirm_s: float = CONFIRM_AFTER_S
    ownership_quiet_s: float = QUIET_AFTER_OWN_EXECUTION_S
    flush_interval_s: float = 1.0  # real seconds between retries of DB writes that had to wait
    shutdown_flush_s: float = 30.0  # at the end of the day, how long to wait for a locked DB
    settle_after_close_s: float = 120.0  # real seconds to wait for the backstop's executions
    settle_poll_s: float = 1.0  # real seconds between two reconciles while settling
    progress_every_s: float = 1800.0  # market seconds between two progress lines (0: none)
    warmup_duration: str = "2 D"
    broker_backstop: bool = True  # attach the broker-held backstop flatten to every exit group
    release_backstop: bool = True  # the flatten sells by releasing it (else cancel-confirm-sell)
    backstop_delay: timedelta = timedelta(minutes=2)  # after the flatten time (15:57 / 12:57)
    thresholds: HealthThresholds = field(default_factory=HealthThresholds)
    adopt: dict[str, int | None] = field(default_factory=dict)  # --adopt SYMBOL[:QTY] (None: all)
    unreachable_alert_s: float = 120.0  # real seconds without IB while holding before an alert
    unprotected_alert_s: float = 30.0  # real seconds a position's exits stay wrong before an alert


def backstop_time(session: Session, options: TraderOptions) -> datetime:
    """When the broker-held backstop sells: `backstop_delay` after the flatten time, and always
    a minute before the close at the latest (a later one would never execute: no net at all)."""
    return min(session.flatten_at + options.backstop_delay, session.close - timedelta(minutes=1))
