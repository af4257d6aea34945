"""The preflight's settings: what it trades, how long each step may take, how far its prices lie.

Every wait is in real seconds (IB's timings are wall-clock). The distances are chosen so that a
liquid ETF cannot reach an exit by itself within the minute the preflight takes (5%), while the
prices meant to execute cross the market by enough to execute at once (a buy limit 0.5% above the
last price, a take-profit moved 1% below it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from trade.intraday.ownership import QUIET_AFTER_OWN_EXECUTION_S

DEFAULT_SYMBOL = "SPY"
DEFAULT_CLIENT_ID = 9  # its own id: the bots' are 1 (weekly) and 2 (day trader)
# The flatten waits this long for a released backstop to sell before it cancels it and sells at
# market itself (trade/intraday/flatten.py: `confirm_timeout`): a release slower than this is not
# "at once" for the bot.
RELEASE_AT_ONCE_S = 5.0
# Positions may lag the bot's own execution this long before it believes a shortfall
# (trade/intraday/ownership.py): a lag beyond it would make the bot misjudge its own sale.
POSITION_LAG_TOLERATED_S = QUIET_AFTER_OWN_EXECUTION_S


@dataclass(frozen=True, slots=True)
class PreflightOptions:
    symbol: str = DEFAULT_SYMBOL
    step_deadline_s: float = 30.0  # each step, whatever it waits for
    step_deadlines: Mapping[int, float] = field(default_factory=dict)  # per step, overriding
    cleanup_deadline_s: float = 60.0  # undoing a step's orders and shares
    hold_s: float = 2.0  # step 1 watches the held order stay held this long
    release_wait_s: float = 10.0  # step 2 waits this long for the release to execute or be refused
    settle_s: float = 5.0  # siblings and children may take this long to show their new status
    quiet_s: float = 0.5  # no news of a bracket's orders this long: their statuses have settled
    lag_round_trips: int = 3  # step 5: buy-then-sell round trips of one share
    poll_s: float = 0.05  # between two reads of positions or open orders while waiting
    exit_distance: float = 0.05  # take-profit and stop this far from the last price
    cross: float = 0.01  # step 3 moves the take-profit this far below the last price
    entry_offset: float = 0.005  # step 4's parent: a buy limit this far above the last price
    backstop_ahead: timedelta = timedelta(minutes=10)  # the held order's goodAfterTime, from now
    close_margin: timedelta = timedelta(minutes=15)  # starts no later than this before the close

    def deadline(self, step: int) -> float:
        return self.step_deadlines.get(step, self.step_deadline_s)
