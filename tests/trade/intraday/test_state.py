"""The trader's state machine (trade/intraday/state.py): one test per transition, and the rule of
who may lift which pause."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from trade.broker import ConnectionState
from trade.intraday.state import Pause, Phase, TraderState

NY = ZoneInfo("America/New_York")
FLATTEN_AT = datetime(2024, 3, 5, 15, 55, tzinfo=NY)
MORNING = datetime(2024, 3, 5, 10, 0, tzinfo=NY)


def trading() -> TraderState:
    state = TraderState()
    state.started()
    return state


def test_a_new_trader_is_starting_with_entries_paused():
    state = TraderState()
    assert state.phase is Phase.STARTING and not state.may_enter
    assert state.pause_shown == "starting"


def test_started_moves_to_trading_and_allows_entries():
    state = trading()
    assert state.phase is Phase.TRADING and state.may_enter and state.pause_shown is None


def test_a_lost_connection_pauses_until_the_reconcile_after_the_reconnect():
    state = trading()
    state.connection_lost()
    assert not state.may_enter and state.pause_shown == "connection lost" and not state.connected
    state.reconnected()
    assert state.connection is ConnectionState.RESTORED and state.reconnects == 1
    assert not state.may_enter, "the socket is back but the view of the broker is not fresh yet"
    state.resynchronised()
    assert state.may_enter


def test_a_reconcile_finishing_after_a_second_drop_does_not_lift_the_pause():
    state = trading()
    state.connection_lost()
    state.reconnected()
    state.connection_lost()
    state.resynchronised()
    assert state.paused(Pause.CONNECTION) and not state.may_enter


def test_health_pause_and_resume_touch_only_the_health_pause():
    state = trading()
    assert state.health_pause() and not state.may_enter and state.pause_shown == "health"
    assert not state.health_pause(), "already paused for health"
    state.connection_lost()
    assert state.health_resume()
    assert not state.may_enter and state.pause_shown == "connection lost"
    assert not state.health_resume()


def test_a_recovered_connection_does_not_lift_a_health_pause():
    state = trading()
    state.connection_lost()
    state.health_pause()
    state.reconnected()
    state.resynchronised()
    assert state.paused(Pause.HEALTH) and not state.may_enter


def test_a_persons_pause_shows_who_and_only_a_persons_resume_lifts_it():
    state = trading()
    state.person_pause("status page")
    assert state.pause_shown == "status page" and not state.may_enter
    assert not state.health_resume()
    state.health_pause()
    state.health_resume()
    assert state.paused(Pause.PERSON)
    assert state.person_resume("status page") and state.may_enter


def test_a_persons_resume_leaves_other_pauses_in_place():
    state = trading()
    state.person_pause("status page")
    state.health_pause()
    assert state.person_resume("status page")
    assert not state.may_enter and state.pause_shown == "health"
    assert not state.person_resume("status page"), "nothing of a person's left to lift"


def test_the_flatten_time_starts_the_flatten_and_nobody_resumes_after_it():
    state = trading()
    assert not state.flatten_due(MORNING, FLATTEN_AT)
    assert state.flatten_due(FLATTEN_AT, FLATTEN_AT)
    line = state.flatten_started(FLATTEN_AT, FLATTEN_AT)
    assert line == "flatten time 15:55" and state.flattening and not state.may_enter
    assert state.flatten_started(FLATTEN_AT, FLATTEN_AT) is None, "a retry says nothing again"
    assert not state.person_resume("status page")
    state.flat_confirmed(FLATTEN_AT, FLATTEN_AT, FLATTEN_AT)
    assert state.phase is Phase.FLAT and state.flat_at == FLATTEN_AT
    assert not state.flatten_due(FLATTEN_AT, FLATTEN_AT), "flat: the run ends"


async def test_a_persons_flatten_leaves_entries_paused_until_that_person_resumes():
    state = trading()
    state.request_flatten("status page")
    assert state.flatten_due(MORNING, FLATTEN_AT) and state.flatten_requested_by == "status page"
    assert state.flatten_started(MORNING, FLATTEN_AT) == "flatten requested (status page)"
    state.flat_confirmed(MORNING, MORNING, FLATTEN_AT)
    await state.wait_flat()
    assert state.phase is Phase.TRADING and not state.may_enter
    assert state.pause_shown == "flatten"
    assert not state.flatten_due(MORNING, FLATTEN_AT)
    assert state.person_resume("status page") and state.may_enter


def test_the_flatten_time_still_flattens_after_a_persons_flatten():
    state = trading()
    state.request_flatten("status page")
    state.flatten_started(MORNING, FLATTEN_AT)
    state.flat_confirmed(MORNING, MORNING, FLATTEN_AT)
    assert state.flatten_due(FLATTEN_AT, FLATTEN_AT), "what was bought or adopted since is sold"
    assert state.flatten_started(FLATTEN_AT, FLATTEN_AT) == "flatten time 15:55"
    assert not state.person_resume("status page"), "the flatten time's pause is nobody's to lift"
    state.flat_confirmed(FLATTEN_AT, FLATTEN_AT, FLATTEN_AT)
    assert state.phase is Phase.FLAT


def test_a_person_asking_to_flatten_again_waits_for_a_new_confirmation():
    state = trading()
    state.request_flatten("status page")
    state.flatten_started(MORNING, FLATTEN_AT)
    state.flat_confirmed(MORNING, MORNING, FLATTEN_AT)
    state.request_flatten("status page")
    assert not state._flat.is_set()


def test_stop_is_final_and_says_why():
    state = trading()
    state.stop("signal")
    assert state.phase is Phase.STOPPED and state.stopped and state.stop_reason == "signal"
    assert state.pause_shown == "signal" and not state.may_enter
    assert not state.person_resume("status page")
    assert not state.flatten_due(FLATTEN_AT, FLATTEN_AT), "a stopped run leaves exits to the broker"


def test_the_reason_shown_is_the_one_that_lasts_longest():
    state = trading()
    state.health_pause()
    state.person_pause("status page")
    state.connection_lost()
    assert state.pause_shown == "status page"
    state.flatten_started(FLATTEN_AT, FLATTEN_AT)
    assert state.pause_shown == "flatten"
