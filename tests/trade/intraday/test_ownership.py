"""Which shares are the bot's (trade/intraday/ownership.py): the foreign baseline, a sale the bot
did not make confirmed only when it persists and no execution of the bot's is recent."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from observability.history import HistoryDB
from trade.intraday.lots import Lots
from trade.intraday.ownership import CONFIRM_AFTER_S, QUIET_AFTER_OWN_EXECUTION_S, Ownership
from trade.intraday.records import SafeRecords


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


def test_other_books_shares_at_the_broker_are_in_the_baseline_like_the_owners():
    """Campaign seed 128 (before: U left the weekly book's shares out, so a person's sale of 37
    of the bot's 148 AFRM was absorbed by the weekly book's 40 and the take-profit sold them)."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("AFRM", broker_qty=188, lot=148, other_books={"AFRM": 40})
    assert own.baseline["AFRM"] == 40
    own.look("AFRM", broker_qty=151, lot=148, other_books={"AFRM": 40})  # a person sold 37
    clock.t += CONFIRM_AFTER_S
    assert own.look("AFRM", broker_qty=151, lot=148, other_books={"AFRM": 40}).reduced_to == 111


def test_a_claim_alone_never_enlarges_the_baseline():
    """Issue 20 defect 7: a weekly book that overstates never takes the bot's own shares."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("SPY", broker_qty=100, lot=100, other_books={})
    clock.t += 10
    look = own.look("SPY", broker_qty=100, lot=100, other_books={"SPY": 50})
    assert (own.baseline["SPY"], look.sellable, look.reduced_to) == (0, 100, None)


def test_a_sale_the_other_books_record_lowers_the_baseline():
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("SPY", broker_qty=140, lot=100, other_books={"SPY": 40})
    for _ in range(3):  # the weekly bot sold its 40 and recorded it
        clock.t += CONFIRM_AFTER_S
        look = own.look("SPY", broker_qty=100, lot=100, other_books={})
        assert look.reduced_to is None and look.sellable == 100
    assert own.baseline["SPY"] == 0


def test_shares_that_appear_and_stay_become_foreign():
    """A weekly fill not yet in its book (or a buy by hand) must not absorb a later sale of the
    bot's shares."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("SPY", broker_qty=100, lot=100, other_books={})
    own.look("SPY", broker_qty=125, lot=100, other_books={})  # 25 bought by someone else
    clock.t += QUIET_AFTER_OWN_EXECUTION_S
    own.look("SPY", broker_qty=125, lot=100, other_books={})
    assert own.baseline["SPY"] == 25
    own.look("SPY", broker_qty=105, lot=100, other_books={})  # a person sells 20
    clock.t += CONFIRM_AFTER_S
    assert own.look("SPY", broker_qty=105, lot=100, other_books={}).reduced_to == 80


def test_a_baseline_outlives_a_restart_and_is_kept_for_the_day():
    """Campaign seed 212 (before: the bot restarted after a person sold 27 of its 36 COIN and
    computed the owner's 30 as 3: its exits for 36 rested on the owner's shares)."""
    noted: list[tuple[str, int]] = []
    first = Ownership(clock=Clock(), on_baseline=lambda s, q: noted.append((s, q)))
    first.look("COIN", broker_qty=66, lot=36, other_books={})
    assert noted == [("COIN", 30)]
    restarted = Ownership(clock=Clock(), recorded=dict(noted))
    look = restarted.look("COIN", broker_qty=39, lot=36, other_books={}, settled=True)
    assert (restarted.baseline["COIN"], look.reduced_to) == (30, 9)


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
    assert own.next_look_in("MRNA") == QUIET_AFTER_OWN_EXECUTION_S - CONFIRM_AFTER_S
    clock.t += QUIET_AFTER_OWN_EXECUTION_S  # the buy can lag no longer: the sale shows, and
    # the same shortfall seen since before decides at once (seed 372: a second look after the
    # quiet window took the exits past 5 s)
    assert own.look("MRNA", broker_qty=81, lot=161, other_books={}).reduced_to == 81
    assert own.next_look_in("MRNA") is None
    # ... or the position still lags the buy and shows only the sale: -80
    own2 = Ownership(clock=clock)
    own2.look("MRNA", broker_qty=0, lot=0, other_books={})
    own2.own_execution("MRNA", 161)
    assert own2.look("MRNA", broker_qty=-80, lot=161, other_books={}).reduced_to is None
    clock.t += CONFIRM_AFTER_S
    assert own2.look("MRNA", broker_qty=-80, lot=161, other_books={}).reduced_to == 81


def test_a_sale_after_the_position_showed_the_bots_buy_is_seen_without_the_quiet_window():
    """Campaign seeds 372, 376, 399: the broker's position showed the bot's buy, then a person
    sold part of it; the bot still counted its buy as possibly in flight for 2.5 s and the exits
    for the whole lot rested on shares that were gone for more than 5 s."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("IONQ", broker_qty=30, lot=0, other_books={})  # the owner's 30
    own.own_execution("IONQ", 266)
    clock.t += 0.3
    own.look("IONQ", broker_qty=296, lot=266, other_books={})  # the position shows the buy
    clock.t += 0.2
    assert own.look("IONQ", broker_qty=96, lot=266, other_books={}).reduced_to is None
    clock.t += CONFIRM_AFTER_S  # well inside the quiet window after the buy
    assert own.look("IONQ", broker_qty=96, lot=266, other_books={}).reduced_to == 66


def test_a_position_that_never_showed_the_buy_still_waits_out_the_quiet_window():
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("IONQ", broker_qty=30, lot=0, other_books={})
    own.own_execution("IONQ", 266)
    for _ in range(4):  # the position lags: 30 then the buy, never a sale
        clock.t += CONFIRM_AFTER_S
        assert own.look("IONQ", broker_qty=30, lot=266, other_books={}).reduced_to is None
    assert own.baseline["IONQ"] == 30


def test_a_pushed_position_showing_the_buy_ends_the_wait_for_it():
    """The push of the position after the buy came before the person's sale, but no look read
    it: the next look must not wait out the quiet window."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("IONQ", broker_qty=30, lot=0, other_books={})
    own.own_execution("IONQ", 266)
    clock.t += 0.25
    own.position_pushed("IONQ", 296, 266)
    clock.t += 0.25
    assert own.look("IONQ", broker_qty=96, lot=266, other_books={}).reduced_to is None
    clock.t += CONFIRM_AFTER_S
    assert own.look("IONQ", broker_qty=96, lot=266, other_books={}).reduced_to == 66


def test_after_a_recent_sale_an_old_position_does_not_end_the_wait_for_a_new_buy():
    """Sold 266 then bought 266 again within the quiet window: a push of the position from
    before the sale (296) says nothing of the new buy, which may still be in flight."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("IONQ", broker_qty=296, lot=266, other_books={})
    own.own_execution("IONQ")  # the stop sold 266
    own.own_execution("IONQ", 266)  # and a new entry bought 266
    own.position_pushed("IONQ", 296, 266)  # the state before the sale
    for _ in range(3):  # the sale shows, the new buy not yet: never a reduction
        clock.t += CONFIRM_AFTER_S
        assert own.look("IONQ", broker_qty=30, lot=266, other_books={}).reduced_to is None


def test_shares_that_appeared_just_before_a_persons_sale_stay_foreign():
    """Campaign seed 376: a weekly fill of 15 (not yet in its book) appeared 2 s before a person
    sold 185 of the bot's 247; the bot took the 15 for its own (lot 77 instead of 62) and its
    exits rested on them, then a stop sold them."""
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("IONQ", broker_qty=30, lot=0, other_books={})  # the owner's 30
    own.own_execution("IONQ", 247)
    clock.t += QUIET_AFTER_OWN_EXECUTION_S + 0.1
    assert own.look("IONQ", broker_qty=277, lot=247, other_books={}).reduced_to is None
    assert own.look("IONQ", broker_qty=292, lot=247, other_books={}).foreign == 45  # +15
    clock.t += 1.0  # not yet quiet long enough to be called foreign ...
    assert own.look("IONQ", broker_qty=107, lot=247, other_books={}).reduced_to is None
    clock.t += CONFIRM_AFTER_S  # ... when the person's sale of 185 is confirmed
    assert own.look("IONQ", broker_qty=107, lot=247, other_books={}).reduced_to == 62
    assert own.baseline["IONQ"] == 45


def _lots(own: Ownership, tmp_path: Any, qty: int) -> Lots:
    db = HistoryDB.open(tmp_path / "history.db")
    lots = Lots({}, SafeRecords(db), "intraday",
                lambda: datetime(2026, 2, 17, 15, 0, tzinfo=ZoneInfo("America/New_York")), own)
    lots.restore("MRNA", qty, 0.0)
    return lots


def test_an_oversale_into_the_owners_shares_is_bought_back_in_full(tmp_path):
    """The owner's 50 shares (the baseline), the bot's lot oversold by 20: the account misses
    20 below the baseline, and the bot buys back all 20."""
    own = Ownership(clock=Clock())
    own.look("MRNA", broker_qty=50, lot=0, other_books={})
    lots = _lots(own, tmp_path, -20)
    assert lots.coverable("MRNA", broker_qty=30) == 20 and lots.book("MRNA").qty == -20


def test_a_short_at_the_broker_is_bought_back_before_any_look(tmp_path):
    lots = _lots(Ownership(clock=Clock()), tmp_path, -7)
    assert lots.coverable("MRNA", broker_qty=-7) == 7


def test_a_short_the_account_does_not_show_is_a_records_gap_never_bought(tmp_path):
    """Campaign seed 232: today's sale of a leftover the lost DB knew, replayed onto an empty
    book (-20), while the account misses nothing: nothing is bought, and once no execution of
    the bot's is recent (the position may lag it) the lot is set to what the account misses."""
    clock = Clock()
    own = Ownership(clock=clock)
    lots = _lots(own, tmp_path, -20)
    own.own_execution("MRNA")  # the sale, just applied: the position may not show it yet
    assert lots.coverable("MRNA", broker_qty=0) == 0 and lots.book("MRNA").qty == -20
    clock.t += QUIET_AFTER_OWN_EXECUTION_S + 0.1
    assert lots.coverable("MRNA", broker_qty=0) == 0 and lots.book("MRNA").qty == 0


def test_exits_are_sized_from_the_position_unless_it_lags_exactly_the_latest_buys():
    clock = Clock()
    own = Ownership(clock=clock)
    own.look("IONQ", broker_qty=30, lot=0, other_books={})  # the owner's 30
    own.own_execution("IONQ", 200)
    own.own_execution("IONQ", 46)
    assert own.exit_size("IONQ", broker_qty=276, lot=246) == 246  # all shown
    assert own.exit_size("IONQ", broker_qty=230, lot=246) == 246  # lags the last buy (46)
    assert own.exit_size("IONQ", broker_qty=30, lot=246) == 246  # lags both
    assert own.exit_size("IONQ", broker_qty=214, lot=246) == 184  # seed 237: a person sold 62
    clock.t += QUIET_AFTER_OWN_EXECUTION_S + 0.1
    assert own.exit_size("IONQ", broker_qty=230, lot=246) == 200  # no buy in flight any more
    assert own.exit_size("IONQ", broker_qty=20, lot=246) == 0  # never into the owner's 30


def test_shares_that_show_while_the_bots_entry_is_in_flight_are_no_baseline():
    """Campaign seed 327: the first look at SOXL saw the bot's own 95 (the entry filled, its
    execution not yet in): they became the owner's baseline, and a later look read the lot as
    sold by a person and dropped its exits."""
    clock = Clock()
    own = Ownership(clock=clock)
    assert own.look("SOXL", broker_qty=95, lot=0, other_books={}, buying=True).reduced_to is None
    assert "SOXL" not in own.baseline
    clock.t += QUIET_AFTER_OWN_EXECUTION_S + 0.1  # the surplus never turns foreign meanwhile
    own.look("SOXL", broker_qty=95, lot=0, other_books={}, buying=True)
    assert "SOXL" not in own.baseline
    own.own_execution("SOXL", 95)  # the execution comes: the lot is 95
    clock.t += QUIET_AFTER_OWN_EXECUTION_S + 0.1
    for _ in range(3):
        clock.t += CONFIRM_AFTER_S
        look = own.look("SOXL", broker_qty=95, lot=95, other_books={})
        assert look.reduced_to is None and look.sellable == 95
    assert own.baseline["SOXL"] == 0


def test_a_shortfall_at_the_first_look_of_the_day_keeps_the_other_books_shares_foreign():
    """Campaign seed 410: the weekly book's 40 IONQ; the bot bought 135 and a person sold 101 of
    them; the bot restarted on an empty DB (no baseline of the day) and read 74 as its own lot,
    so its exits, and then its stop, sold the weekly book's 40."""
    own = Ownership(clock=Clock())
    look = own.look("IONQ", broker_qty=74, lot=135, other_books={"IONQ": 40}, settled=True)
    assert look.reduced_to == 34 and own.baseline["IONQ"] == 40


def test_without_a_shortfall_the_other_books_claims_enlarge_nothing():
    """Defect 7 stays fixed: a weekly claim of 50 that its sale made untrue, first looked at
    after the bot's own buy of 100 (the broker holds exactly those 100)."""
    own = Ownership(clock=Clock())
    look = own.look("IONQ", broker_qty=100, lot=100, other_books={"IONQ": 50})
    assert look.reduced_to is None and look.sellable == 100 and own.baseline["IONQ"] == 0
