"""Which shares are the bot's (trade/intraday/ownership.py): the foreign baseline, a sale the bot
did not make confirmed only when it persists and no execution of the bot's is recent."""

from __future__ import annotations

from trade.intraday.ownership import CONFIRM_AFTER_S, QUIET_AFTER_OWN_EXECUTION_S, Ownership


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_owners_holdings_are_the_baseline_and_never_sellable():
    clock = Clock()
    own = Ownership(clock=clock)
    look = own.look("SPY", broker_qty=130, lot=30, other_books={})
    assert (look.sellable, look.foreign, look.reduced_to) == (30, 100, None)
    assert own.baseline["SPY"] == 100
    assert own.sellable("SPY", broker_qty=120, lot=30) == 20, "never into the owner's 100"


def test_other_books_recorded_shares_are_not_the_owners_baseline():
    own = Ownership(clock=Clock())
    own.look("SPY", broker_qty=80, lot=30, other_books={"SPY": 50})
    assert own.baseline["SPY"] == 0


def test_an_unreadable_db_counts_every_share_beyond_the_lot_as_foreign():
    own = Ownership(clock=Clock())
    own.look("SPY", broker_qty=80, lot=30, other_books=None)
    assert own.baseline["SPY"] == 50


def test_a_person_selling_the_bots_shares_is_confirmed_after_a_second_look():
    """Issue 20 defect 11 (before: never noticed intraday; the exits outlived the shares)."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("SPY", broker_qty=130, lot=30, other_books={})
    first = own.look("SPY", broker_qty=110, lot=30, other_books={})  # someone sold 20
    assert first.reduced_to is None, "one look is not enough: a position may lag"
    clock.t += CONFIRM_AFTER_S
    second = own.look("SPY", broker_qty=110, lot=30, other_books={})
    assert second.reduced_to == 10, "the owner's 100 are never put at risk: the bot's lot shrinks"


def test_a_position_lagging_the_bots_own_execution_is_never_a_reduction():
    """Issue 20 defect 6: positions lag executions at IB."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("SPY", broker_qty=0, lot=0, other_books={})
    own.own_execution("SPY", 30)  # the bot bought 30: its lot is 30, the broker still shows 0
    for _ in range(3):
        clock.t += CONFIRM_AFTER_S
        assert own.look("SPY", broker_qty=0, lot=30, other_books={}).reduced_to is None
    clock.t += QUIET_AFTER_OWN_EXECUTION_S
    assert own.look("SPY", broker_qty=30, lot=30, other_books={}).reduced_to is None


def test_a_baseline_is_not_taken_from_a_position_that_may_lag():
    clock = Clock()
    own = Ownership(clock=clock)
    own.own_execution("SPY")  # the bot just sold 30 of its 30: the broker still shows them
    own.look("SPY", broker_qty=30, lot=0, other_books={})
    assert "SPY" not in own.baseline
    clock.t += QUIET_AFTER_OWN_EXECUTION_S
    own.look("SPY", broker_qty=0, lot=0, other_books={})
    assert own.baseline["SPY"] == 0


def test_foreign_shares_are_told_once_per_size():
    own = Ownership(clock=Clock())
    assert own.tell_foreign("SPY", 100) is not None
    assert own.tell_foreign("SPY", 100) is None
    assert own.tell_foreign("SPY", 150) is not None


def test_a_leftover_the_broker_no_longer_holds_is_gone_at_once_when_nothing_can_lag():
    """At a start, a recorded leftover the broker does not hold and no execution of today could
    hide: one look decides (the intents are closed, nothing is 'resumed')."""
    own = Ownership(clock=Clock())
    look = own.look("SPY", broker_qty=0, lot=20, other_books={}, settled=True)
    assert look.reduced_to == 0


def test_a_person_selling_right_after_the_bots_buy_is_seen_beyond_the_buy_in_flight():
    """Issue 20 campaign (seed 8): a person sold half of a position seconds after the bot bought
    it; the quiet window after the bot's own execution hid the sale until a stop oversold."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("MRNA", broker_qty=0, lot=0, other_books={})
    own.own_execution("MRNA", 161)
    # the broker's position already shows the buy and the person's sale of 80
    assert own.look("MRNA", broker_qty=81, lot=161, other_books={}).reduced_to is None
    clock.t += CONFIRM_AFTER_S
    assert own.look("MRNA", broker_qty=81, lot=161, other_books={}).reduced_to is None, \
        "the 161 may not show yet: 81 + 161 in flight covers the lot"
    clock.t += QUIET_AFTER_OWN_EXECUTION_S  # the buy can lag no longer: the sale shows
    assert own.look("MRNA", broker_qty=81, lot=161, other_books={}).reduced_to is None
    clock.t += CONFIRM_AFTER_S
    assert own.look("MRNA", broker_qty=81, lot=161, other_books={}).reduced_to == 81
    # ... or the position still lags the buy and shows only the sale: -80
    own2 = Ownership(clock=clock)
    own2.look("MRNA", broker_qty=0, lot=0, other_books={})
    own2.own_execution("MRNA", 161)
    assert own2.look("MRNA", broker_qty=-80, lot=161, other_books={}).reduced_to is None
    clock.t += CONFIRM_AFTER_S
    assert own2.look("MRNA", broker_qty=-80, lot=161, other_books={}).reduced_to == 81
