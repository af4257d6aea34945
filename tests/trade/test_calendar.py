"""NYSE sessions: half days, holidays, DST, windows far from the install date, cut-off times."""

from datetime import UTC, date, datetime, time

import pytest

from trade.calendar import NEW_YORK, MarketCalendar, NoSessionError


@pytest.fixture(scope="module")
def calendar() -> MarketCalendar:
    return MarketCalendar()


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NEW_YORK)


@pytest.mark.parametrize("day", [date(2025, 11, 28), date(2025, 12, 24), date(2025, 7, 3)])
def test_half_day_closes_at_13_and_flattens_at_12_55(calendar: MarketCalendar, day: date) -> None:
    session = calendar.session(day)
    assert session.is_half_day
    assert session.close == ny(day, 13)
    assert session.flatten_at == ny(day, 12, 55)
    assert session.entry_cutoff == ny(day, 12, 30)
    assert session.minutes == 210


def test_regular_day_flattens_at_15_55_and_stops_entries_at_15_30(calendar: MarketCalendar) -> None:
    day = date(2025, 7, 2)
    session = calendar.session(day)
    assert not session.is_half_day
    assert (session.open, session.close) == (ny(day, 9, 30), ny(day, 16))
    assert session.flatten_at == ny(day, 15, 55)
    assert session.entry_cutoff == ny(day, 15, 30)
    assert session.minutes == 390


@pytest.mark.parametrize("day", [date(2025, 12, 25), date(2026, 1, 1), date(2026, 4, 3)])
def test_holidays_have_no_session(calendar: MarketCalendar, day: date) -> None:
    assert not calendar.is_trading_day(day)
    with pytest.raises(NoSessionError, match=day.isoformat()):
        calendar.session(day)


def test_weekend_is_not_a_trading_day(calendar: MarketCalendar) -> None:
    assert not calendar.is_trading_day(date(2025, 7, 5))
    assert calendar.is_trading_day(date(2025, 7, 7))


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        (date(2025, 3, 7), 14),
        (date(2025, 3, 10), 13),
        (date(2025, 10, 31), 13),
        (date(2025, 11, 3), 14),
    ],
)
def test_open_is_09_30_new_york_on_both_sides_of_dst(
    calendar: MarketCalendar, day: date, utc_hour: int
) -> None:
    session = calendar.session(day)
    assert session.open.astimezone(NEW_YORK).time() == time(9, 30)
    assert session.open.astimezone(UTC) == datetime.combine(day, time(utc_hour, 30), tzinfo=UTC)


def test_session_times_are_aware_new_york_datetimes(calendar: MarketCalendar) -> None:
    session = calendar.session(date(2025, 3, 10))
    for moment in (session.open, session.close, session.flatten_at, session.entry_cutoff):
        assert moment.tzinfo is NEW_YORK


@pytest.mark.parametrize(
    ("day", "close_hour"),
    [(date(2029, 7, 3), 13), (date(2029, 7, 5), 16), (date(2005, 11, 25), 13)],
)
def test_dates_far_outside_the_default_window_work(day: date, close_hour: int) -> None:
    calendar = MarketCalendar()
    assert calendar.session(day).close == ny(day, close_hour)


def test_a_fresh_calendar_answers_for_2035_and_1995() -> None:
    calendar = MarketCalendar()
    assert not calendar.is_trading_day(date(2035, 12, 25))
    assert calendar.is_trading_day(date(1995, 6, 1))


def test_aware_datetime_is_judged_by_its_new_york_date(calendar: MarketCalendar) -> None:
    # 2030-01-01 02:00 UTC is 2029-12-31 21:00 in New York: a trading day in another window.
    moment = datetime(2030, 1, 1, 2, 0, tzinfo=UTC)
    assert calendar.is_trading_day(moment)
    assert calendar.session(moment).date == date(2029, 12, 31)


def test_next_sessions_skip_weekends_and_holidays(calendar: MarketCalendar) -> None:
    days = [s.date for s in calendar.next_sessions(date(2025, 12, 23), 6)]
    assert days == [
        date(2025, 12, 24),
        date(2025, 12, 26),
        date(2025, 12, 29),
        date(2025, 12, 30),
        date(2025, 12, 31),
        date(2026, 1, 2),
    ]


def test_next_sessions_cross_a_window_boundary(calendar: MarketCalendar) -> None:
    days = [s.date for s in calendar.next_sessions(date(2029, 12, 28), 3)]
    assert days == [date(2029, 12, 31), date(2030, 1, 2), date(2030, 1, 3)]


def test_next_sessions_of_zero_is_empty(calendar: MarketCalendar) -> None:
    assert calendar.next_sessions(date(2025, 7, 3), 0) == []


def test_previous_session_skips_good_friday_and_the_weekend(calendar: MarketCalendar) -> None:
    assert calendar.previous_session(date(2026, 4, 6)).date == date(2026, 4, 2)


def test_previous_session_crosses_a_window_boundary(calendar: MarketCalendar) -> None:
    assert calendar.previous_session(date(2030, 1, 2)).date == date(2029, 12, 31)


def test_sessions_between_includes_both_ends(calendar: MarketCalendar) -> None:
    days = [s.date for s in calendar.sessions_between(date(2025, 7, 3), date(2025, 7, 7))]
    assert days == [date(2025, 7, 3), date(2025, 7, 7)]


def test_session_at_or_after_during_hours_is_today(calendar: MarketCalendar) -> None:
    assert calendar.session_at_or_after(ny(date(2025, 7, 3), 12, 59)).date == date(2025, 7, 3)


def test_session_at_or_after_before_the_open_is_today(calendar: MarketCalendar) -> None:
    assert calendar.session_at_or_after(ny(date(2025, 7, 3), 6)).date == date(2025, 7, 3)


def test_session_at_or_after_the_half_day_close_is_the_next_session(
    calendar: MarketCalendar,
) -> None:
    assert calendar.session_at_or_after(ny(date(2025, 7, 3), 13)).date == date(2025, 7, 7)


def test_session_at_or_after_accepts_utc(calendar: MarketCalendar) -> None:
    # 2025-07-04 01:00 UTC is still 2025-07-03 21:00 in New York: after the close.
    moment = datetime(2025, 7, 4, 1, 0, tzinfo=UTC)
    assert calendar.session_at_or_after(moment).date == date(2025, 7, 7)


def test_session_containing_is_none_outside_hours(calendar: MarketCalendar) -> None:
    assert calendar.session_containing(ny(date(2025, 12, 25), 11)) is None
    assert calendar.session_containing(ny(date(2025, 12, 24), 9, 29)) is None
    session = calendar.session_containing(ny(date(2025, 12, 24), 9, 30))
    assert session is not None and session.date == date(2025, 12, 24)


def test_entry_and_flatten_predicates_follow_the_cutoffs(calendar: MarketCalendar) -> None:
    session = calendar.session(date(2025, 11, 28))
    assert session.accepts_entries(ny(session.date, 12, 29))
    assert not session.accepts_entries(ny(session.date, 12, 30))
    assert not session.must_flatten(ny(session.date, 12, 54))
    assert session.must_flatten(ny(session.date, 12, 55))


def test_cutoff_minutes_are_configurable() -> None:
    calendar = MarketCalendar(flatten_minutes=10, entry_cutoff_minutes=60)
    session = calendar.session(date(2025, 12, 24))
    assert session.flatten_at == ny(session.date, 12, 50)
    assert session.entry_cutoff == ny(session.date, 12)


def test_entry_cutoff_earlier_than_flatten_is_rejected() -> None:
    with pytest.raises(ValueError, match="flatten_minutes=10"):
        MarketCalendar(flatten_minutes=10, entry_cutoff_minutes=5)


def test_naive_datetime_is_rejected_with_the_fix(calendar: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="naive: pass a timezone-aware datetime"):
        calendar.session_at_or_after(datetime(2025, 7, 3, 10, 0))


def test_year_outside_the_supported_range_names_the_range(calendar: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="between 1900 and 2200"):
        calendar.is_trading_day(date(2300, 1, 2))
