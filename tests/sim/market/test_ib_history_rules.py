"""IB's history rules at the replay level: "N D" is the last N trading days (a day the data lacks
is a gap, never an older session), the price before the open is the previous trading day's close
or nothing, useRTH=0 labels bars on the clock, and the day's statistics (sim/market/day_stats.py)
are read from the data or not given."""

from __future__ import annotations

from datetime import date, timedelta

from sim.market.clock import ReplayClock
from sim.market.day_stats import DayStats
from sim.market.replay import MarketReplay
from tests.sim.handmade_bars import DAY, PREV, ListSource, at

OLD = date(2024, 1, 9)  # a session weeks before DAY (2024-03-05)
BAR = (100.0, 101.0, 99.0, 100.5)


def replay_with(days: dict[date, list[tuple[float, float, float, float]]], start=None) -> MarketReplay:
    return MarketReplay(ListSource({"XYZ": days}), ReplayClock(start or at(DAY, 10, 0)), DAY, ["XYZ"])


def test_n_days_never_reach_back_past_the_last_n_trading_days():
    replay = replay_with({OLD: [BAR] * 390, PREV: [BAR] * 390, DAY: [BAR] * 390})
    days = {b.start.date() for b in replay.history("XYZ", replay.clock.now(), "5 D", "1 min")}
    assert days == {PREV, DAY}  # OLD is not one of the last 5 trading days


def test_a_window_without_data_is_empty_not_filled_from_older_sessions():
    replay = replay_with({OLD: [BAR] * 390, DAY: [BAR] * 390})
    assert replay.history("XYZ", at(DAY, 9, 0), "1 D", "1 min") == []
    assert replay.history("XYZ", at(DAY, 9, 0), "1 D", "1 day") == []


def test_the_price_before_the_open_is_the_previous_trading_days_close_or_the_open():
    fresh = replay_with({PREV: [(99.0, 99.5, 98.5, 99.2)], DAY: [BAR] * 3}, start=at(DAY, 9, 0))
    stale = replay_with({OLD: [(50.0, 50.0, 50.0, 50.0)], DAY: [BAR] * 3}, start=at(DAY, 9, 0))
    assert fresh.price_at("XYZ", at(DAY, 9, 0)) == 99.2
    assert stale.price_at("XYZ", at(DAY, 9, 0)) == 100.0  # not the stale 50.0 of January


def test_use_rth_0_keeps_the_clock_bucket_of_each_bar():
    replay = replay_with({DAY: [BAR] * 390}, start=at(DAY, 12, 0))
    regular = replay.history("XYZ", replay.clock.now(), "1 D", "1 hour")
    extended = replay.history("XYZ", replay.clock.now(), "1 D", "1 hour", use_rth=False)
    assert [(b.start.hour, b.start.minute, b.seconds) for b in regular][:2] == [(9, 30, 1800), (10, 0, 3600)]
    assert [(b.start.hour, b.start.minute, b.seconds) for b in extended][:2] == [(9, 0, 3600), (10, 0, 3600)]
    assert [b.volume for b in regular] == [b.volume for b in extended]


def test_day_stats_run_along_the_path_and_know_the_prior_day():
    rows = [(100.0, 100.5, 99.5, 100.2), (100.2, 103.0, 100.1, 102.0), (102.0, 102.5, 98.0, 98.5)]
    replay = replay_with({PREV: [(97.0, 99.0, 96.0, 98.7)], DAY: rows}, start=at(DAY, 9, 30))
    stats = DayStats(replay)
    assert stats.running("XYZ", at(DAY, 9, 29)) is None
    prior = stats.prior_bar("XYZ")
    assert prior is not None and prior.close == 98.7 and prior.open == 97.0
    mid = stats.running("XYZ", at(DAY, 9, 31, 45))  # inside the second bar: past its high (at +40 s)
    assert mid is not None
    assert (mid.open, mid.low) == (100.0, 99.5) and mid.high == 103.0 and mid.volume > 1000
    end = stats.running("XYZ", at(DAY, 9, 33))
    assert end is not None
    assert (end.high, end.low, end.volume) == (103.0, 98.0, 3000.0)
    assert end.vwap is not None and min(r[2] for r in rows) <= end.vwap <= max(r[1] for r in rows)


def test_week_ranges_and_average_volume_need_the_data_to_cover_their_window():
    sparse = replay_with({PREV: [BAR] * 390, DAY: [BAR] * 390})
    stats = DayStats(sparse)
    assert stats.week_ranges("XYZ", None) == {} and stats.average_volume("XYZ") is None


def test_csv_spy_has_a_full_year_of_daily_bars_in_2019():
    from sim.market.bar_sources import CsvBarSource
    from tests.paths import DATA

    day = date(2019, 2, 13)
    replay = MarketReplay(CsvBarSource(DATA, ["SPY"]), ReplayClock(at(day, 9, 30)), day, ["SPY"])
    stats = DayStats(replay)
    ranges = stats.week_ranges("SPY", None)
    daily = [b for b in replay.source.daily_bars("SPY") if day - timedelta(weeks=52) <= b.start.date() < day]
    assert set(ranges) == {13, 26, 52} and ranges[52] == (min(b.low for b in daily), max(b.high for b in daily))
    assert stats.average_volume("SPY") is not None
