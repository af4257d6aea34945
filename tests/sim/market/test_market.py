from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest

from sim.market.bar_sources import CsvBarSource
from sim.market.clock import ReplayClock
from sim.market.replay import MarketReplay
from sim.market.sessions import NY
from sim.market.synthetic import SyntheticMarket
from tests.paths import DATA
from tests.sim.handmade_bars import DAY, ListSource, at, replay_of

HALF_DAY = date(2025, 7, 3)


# ------------------------------------------------------------------------------- ReplayClock


def test_stepping_clock_moves_only_when_advanced():
    clock = ReplayClock(at(DAY, 9, 30))
    assert clock.is_stepping
    time.sleep(0.01)
    assert clock.now() == at(DAY, 9, 30)
    clock.advance_by(90)
    assert clock.now() == at(DAY, 9, 31, 30)
    clock.advance_to(at(DAY, 10, 0))
    assert clock.now() == at(DAY, 10, 0)


def test_clock_refuses_to_move_backwards():
    clock = ReplayClock(at(DAY, 10, 0))
    with pytest.raises(ValueError, match="never moves backwards"):
        clock.advance_to(at(DAY, 9, 59))


def test_clock_refuses_naive_start():
    with pytest.raises(ValueError, match="naive"):
        ReplayClock(datetime(2024, 3, 5, 9, 30))


def test_accelerated_clock_runs_speed_times_real_time():
    clock = ReplayClock(at(DAY, 9, 30), speed=600.0)
    time.sleep(0.05)
    elapsed = (clock.now() - at(DAY, 9, 30)).total_seconds()
    assert 25 <= elapsed <= 60


def test_switching_speed_keeps_now_continuous():
    clock = ReplayClock(at(DAY, 9, 30), speed=1000.0)
    time.sleep(0.02)
    clock.speed = None
    frozen = clock.now()
    time.sleep(0.01)
    assert clock.now() == frozen
    clock.speed = 1.0
    assert abs((clock.now() - frozen).total_seconds()) < 0.05


def test_paused_clock_stands_still_until_resumed():
    clock = ReplayClock(at(DAY, 9, 30), speed=1000.0)
    clock.pause()
    frozen = clock.now()
    time.sleep(0.01)
    assert clock.now() == frozen
    clock.resume()
    time.sleep(0.01)
    assert clock.now() > frozen


# ---------------------------------------------------------------------------- price path


def test_path_visits_the_extreme_nearer_the_open_first():
    replay = replay_of([(100.0, 100.5, 98.0, 100.2)])
    assert replay.price_at("XYZ", at(DAY, 9, 30, 20)) == 100.5
    assert replay.price_at("XYZ", at(DAY, 9, 30, 40)) == 98.0


def test_equidistant_extremes_follow_the_bar_direction():
    up = replay_of([(100.0, 101.0, 99.0, 100.5)])
    down = replay_of([(100.0, 101.0, 99.0, 99.5)])
    assert up.price_at("XYZ", at(DAY, 9, 30, 20)) == 99.0
    assert down.price_at("XYZ", at(DAY, 9, 30, 20)) == 101.0


def test_up_bar_path_visits_low_then_high():
    replay = replay_of([(100.0, 102.0, 99.0, 101.0)])
    assert replay.price_at("XYZ", at(DAY, 9, 30, 0)) == 100.0
    assert replay.price_at("XYZ", at(DAY, 9, 30, 20)) == 99.0
    assert replay.price_at("XYZ", at(DAY, 9, 30, 40)) == 102.0
    assert replay.price_at("XYZ", at(DAY, 9, 30, 59)) == 101.0


def test_down_bar_path_visits_high_then_low():
    replay = replay_of([(100.0, 102.0, 97.0, 98.0)])
    assert replay.price_at("XYZ", at(DAY, 9, 30, 20)) == 102.0
    assert replay.price_at("XYZ", at(DAY, 9, 30, 40)) == 97.0


def test_path_is_linear_between_vertices():
    replay = replay_of([(100.0, 102.0, 99.0, 101.0)])
    assert replay.price_at("XYZ", at(DAY, 9, 30, 10)) == pytest.approx(99.5)


def test_price_before_the_open_is_the_previous_close():
    replay = replay_of([(105.0, 106.0, 104.0, 105.5)], prev_close=100.0)
    assert replay.price_at("XYZ", at(DAY, 9, 0)) == 100.0


def test_path_extremes_exclude_the_future():
    replay = replay_of([(100.0, 102.0, 99.0, 101.0), (101.0, 110.0, 90.0, 100.0)])
    assert replay.path_extremes("XYZ", at(DAY, 9, 30), at(DAY, 9, 30, 30)) == (99.0, 100.5)


def test_segments_start_a_new_bar_at_its_open_so_gaps_are_visible():
    replay = replay_of([(100.0, 100.0, 100.0, 100.0), (95.0, 96.0, 94.0, 95.5)])
    segments = list(replay.segments("XYZ", at(DAY, 9, 30, 30), at(DAY, 9, 31, 10)))
    assert [s[2] for s in segments] == [100.0, 95.0]


def test_completed_bars_only_include_bars_that_have_ended():
    replay = replay_of([(100.0, 101.0, 99.0, 100.5)] * 3)
    assert len(replay.completed_bars("XYZ", at(DAY, 9, 31, 59))) == 1
    assert len(replay.completed_bars("XYZ", at(DAY, 9, 32))) == 2


# ------------------------------------------------------------------------------- history


def _two_day_replay() -> MarketReplay:
    prev = [(100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i) for i in range(390)]
    today = [(200.0, 201.0, 199.0, 200.5)] * 390
    source = ListSource({"XYZ": {date(2024, 3, 4): prev, DAY: today}})
    return MarketReplay(source, ReplayClock(at(DAY, 9, 30)), DAY, ["XYZ"])


def test_one_day_history_at_the_open_is_the_previous_session():
    replay = _two_day_replay()
    bars = replay.history("XYZ", replay.clock.now(), "1 D", "1 min")
    assert len(bars) == 390
    assert bars[0].start.date() == date(2024, 3, 4)


def test_one_day_history_during_the_session_is_today_so_far():
    replay = _two_day_replay()
    replay.clock.advance_to(at(DAY, 10, 0))
    bars = replay.history("XYZ", replay.clock.now(), "1 D", "1 min")
    assert len(bars) == 30
    assert bars[-1].end == at(DAY, 10, 0)


def test_two_day_history_warms_up_on_the_previous_session():
    replay = _two_day_replay()
    replay.clock.advance_to(at(DAY, 10, 0))
    bars = replay.history("XYZ", replay.clock.now(), "2 D", "1 min")
    assert len(bars) == 390 + 30


def test_history_never_looks_past_the_clock():
    replay = _two_day_replay()
    replay.clock.advance_to(at(DAY, 10, 0))
    bars = replay.history("XYZ", at(DAY, 15, 0), "1 D", "1 min")
    assert bars[-1].end == at(DAY, 10, 0)


def test_history_can_end_in_a_previous_session():
    replay = _two_day_replay()
    replay.clock.advance_to(at(DAY, 10, 0))
    bars = replay.history("XYZ", at(date(2024, 3, 4), 12, 0), "1 D", "1 min")
    assert len(bars) == 150
    assert bars[-1].end == at(date(2024, 3, 4), 12, 0)


def test_seconds_duration_counts_back_from_end():
    replay = _two_day_replay()
    replay.clock.advance_to(at(DAY, 10, 0))
    bars = replay.history("XYZ", replay.clock.now(), "1800 S", "5 mins")
    assert [b.start for b in bars] == [at(DAY, 9, 30) + timedelta(minutes=5 * i) for i in range(6)]


def test_hourly_bars_start_at_the_open_then_on_the_hour():
    replay = _two_day_replay()
    bars = replay.history("XYZ", replay.clock.now(), "1 D", "1 hour")
    assert [(b.start.hour, b.start.minute, b.seconds) for b in bars[:2]] == [
        (9, 30, 1800), (10, 0, 3600),
    ]
    assert len(bars) == 7


def test_aggregated_bar_has_first_open_last_close_and_extremes():
    replay = _two_day_replay()
    bar = replay.history("XYZ", replay.clock.now(), "1 D", "5 mins")[0]
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (100.0, 105.0, 99.0, 104.5, 5000.0)


def test_daily_history_aggregates_sessions_without_a_daily_file():
    replay = _two_day_replay()
    bars = replay.history("XYZ", replay.clock.now(), "1 M", "1 day")
    assert len(bars) == 1
    assert bars[0].start == at(date(2024, 3, 4), 9, 30)


def test_history_rejects_an_unknown_duration_naming_the_format():
    replay = _two_day_replay()
    with pytest.raises(ValueError, match="duration"):
        replay.history("XYZ", replay.clock.now(), "3 Q", "1 min")


# ----------------------------------------------------------------------------- CSV source


def test_csv_half_day_session_ends_at_one_pm():
    source = CsvBarSource(DATA)
    replay = MarketReplay(source, ReplayClock(at(HALF_DAY, 9, 30)), HALF_DAY, ["SPY"])
    assert replay.session_close == at(HALF_DAY, 13, 0)
    assert replay.bars("SPY")[-1].start == at(HALF_DAY, 12, 59)


def test_csv_daily_history_comes_from_the_daily_file():
    day = date(2019, 2, 12)
    replay = MarketReplay(CsvBarSource(DATA), ReplayClock(at(day, 9, 30)), day, ["SPY"])
    bars = replay.history("SPY", replay.clock.now(), "1 Y", "1 day")
    assert 240 <= len(bars) <= 260
    assert bars[-1].start == at(date(2019, 2, 11), 9, 30)


def test_csv_source_limits_symbols_when_asked():
    source = CsvBarSource(DATA, symbols=["SPY"])
    assert source.symbols() == ["SPY"]
    assert source.sessions("AAPL") == []


# ------------------------------------------------------------------------ synthetic market


def _synthetic(seed: int = 7) -> SyntheticMarket:
    return SyntheticMarket(seed, ["AAA", "BBB"], [date(2025, 7, 2), HALF_DAY])


def test_synthetic_market_is_reproducible_from_its_seed():
    assert _synthetic(7).session_bars("AAA", HALF_DAY) == _synthetic(7).session_bars("AAA", HALF_DAY)
    assert _synthetic(7).session_bars("AAA", HALF_DAY) != _synthetic(8).session_bars("AAA", HALF_DAY)


def test_synthetic_half_day_ends_at_one_pm():
    bars = _synthetic().session_bars("AAA", HALF_DAY)
    assert len(bars) == 210
    assert bars[-1].end == at(HALF_DAY, 13, 0)


def test_synthetic_volume_is_u_shaped():
    for symbol in ("AAA", "BBB"):
        bars = _synthetic().session_bars(symbol, date(2025, 7, 2))
        edges = sum(b.volume for b in bars[:30] + bars[-30:]) / 60
        middle = sum(b.volume for b in bars[150:240]) / 90
        assert edges > 2 * middle


def test_synthetic_volatility_is_highest_at_the_open():
    bars = _synthetic().session_bars("AAA", date(2025, 7, 2))
    opening = sum((b.high - b.low) / b.open for b in bars[:20]) / 20
    midday = sum((b.high - b.low) / b.open for b in bars[150:250]) / 100
    assert opening > 1.5 * midday


def test_synthetic_bars_are_consistent_ohlc():
    for bar in _synthetic().session_bars("BBB", date(2025, 7, 2)):
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high


def test_synthetic_daily_history_covers_a_year_before_the_first_day():
    daily = _synthetic().daily_bars("AAA")
    assert daily[0].start.date() < date(2024, 7, 5)
    assert daily[-1].start == at(HALF_DAY, 9, 30)
    assert daily[-3].close == pytest.approx(_synthetic().session_bars("AAA", date(2025, 7, 2))[0].open,
                                            rel=0.2)


def test_synthetic_source_drives_a_replay():
    market = _synthetic()
    replay = MarketReplay(market, ReplayClock(at(HALF_DAY, 9, 30)), HALF_DAY, ["AAA"])
    replay.clock.advance_to(at(HALF_DAY, 10, 0))
    assert len(replay.history("AAA", replay.clock.now(), "2 D", "1 min")) == 390 + 30
    assert replay.price_at("AAA", replay.clock.now()) is not None
    assert replay.known_symbols() == {"AAA"}


def test_timezone_is_new_york():
    assert str(NY) == "America/New_York"


def test_csv_with_a_wrong_header_names_the_file_and_the_expected_header(tmp_path):
    folder = tmp_path / "intraday" / "XYZ"
    folder.mkdir(parents=True)
    (folder / "2024-03-05.csv").write_text("time,o,h,l,c,v\n")
    with pytest.raises(ValueError, match="2024-03-05.csv: header must be timestamp,open"):
        CsvBarSource(tmp_path).session_bars("XYZ", DAY)


def test_csv_source_refuses_a_directory_without_data(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"neither intraday/ nor daily/: point it at the market data directory \(MARKET_DATA_DIR\)"):
        CsvBarSource(tmp_path)


def test_csv_bars_are_new_york_time_bar_starts():
    bars = CsvBarSource(DATA).session_bars("SPY", HALF_DAY)
    assert bars[0].start == at(HALF_DAY, 9, 30)
    assert bars[0].start.tzinfo == NY
