"""sim/market/daily_path.py: a session's minutes modelled from its daily bar (shared data), or
the real minutes where they exist and agree with the daily bar."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sim.market.clock import ReplayClock
from sim.market.daily_path import DailyPathSource, minute_path
from sim.market.history import session_to_daily
from sim.market.replay import MarketReplay
from sim.market.sessions import NY, session_bounds
from tests.paths import DATA
from trade.models import Bar

DAY = date(2019, 2, 13)


def _daily(o: float, h: float, lo: float, c: float, v: float = 1_000_000, day: date = DAY) -> Bar:
    opened, closed = session_bounds(day)
    return Bar("XYZ", opened, o, h, lo, c, v, int((closed - opened).total_seconds()))


def test_the_minutes_aggregate_back_to_the_daily_bar():
    daily = _daily(100.0, 103.0, 99.0, 102.5, 1_234_567)
    opened, closed = session_bounds(DAY)
    bars = minute_path(daily, opened, closed)
    assert len(bars) == 390
    assert bars[0].start == opened and bars[-1].end == closed
    back = session_to_daily(bars, opened, closed)
    assert (back.open, back.high, back.low, back.close, back.volume) == (
        100.0, 103.0, 99.0, 102.5, 1_234_567)


def test_the_nearer_extreme_comes_first_at_a_third_of_the_session():
    opened, closed = session_bounds(DAY)
    down_first = minute_path(_daily(100.0, 103.0, 99.5, 101.0), opened, closed)
    lows = [b.low for b in down_first]
    highs = [b.high for b in down_first]
    assert lows.index(99.5) < highs.index(103.0)
    assert down_first[129].close == 99.5  # 09:30 + 130 min = 11:40, a third of 390
    up_first = minute_path(_daily(100.0, 100.5, 97.0, 98.0), opened, closed)
    assert [b.high for b in up_first].index(100.5) < [b.low for b in up_first].index(97.0)


def test_a_tie_is_decided_by_the_day_direction():
    opened, closed = session_bounds(DAY)
    up_day = minute_path(_daily(100.0, 102.0, 98.0, 101.0), opened, closed)
    assert [b.low for b in up_day].index(98.0) < [b.high for b in up_day].index(102.0)
    down_day = minute_path(_daily(100.0, 102.0, 98.0, 99.0), opened, closed)
    assert [b.high for b in down_day].index(102.0) < [b.low for b in down_day].index(98.0)


def test_prices_stay_inside_the_day_on_the_tick_grid_and_volume_is_u_shaped():
    daily = _daily(42.83, 43.12, 42.48, 42.545, 85_335_764)
    opened, closed = session_bounds(DAY)
    bars = minute_path(daily, opened, closed)
    anchors = {42.83, 43.12, 42.48, 42.545}
    for bar in bars:
        assert 42.48 <= bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high <= 43.12
        for price in (bar.open, bar.close):
            assert price in anchors or round(price, 2) == price
    volumes = [b.volume for b in bars]
    assert sum(volumes) == 85_335_764
    assert volumes[0] > volumes[195] < volumes[-1] and volumes[-1] > volumes[195] * 2


def test_half_days_have_210_minutes_and_the_same_bar_gives_the_same_minutes():
    half = date(2019, 11, 29)
    opened, closed = session_bounds(half)
    daily = _daily(10.0, 10.5, 9.5, 10.2, day=half)
    first, again = minute_path(daily, opened, closed), minute_path(daily, opened, closed)
    assert len(first) == 210 and first[-1].end == closed
    assert first == again


def test_a_day_without_real_minutes_is_modelled_from_the_daily_file():
    source = DailyPathSource(DATA, ["KO"])
    bars = source.session_bars("KO", DAY)
    daily = next(b for b in source.daily_bars("KO") if b.start.date() == DAY)
    assert source.is_modelled("KO", DAY)
    opened, closed = session_bounds(DAY)
    back = session_to_daily(bars, opened, closed)
    assert (back.open, back.high, back.low, back.close) == (
        daily.open, daily.high, daily.low, daily.close)
    assert DAY in source.sessions("KO") and date(2016, 6, 1) in source.sessions("KO")


def test_real_minutes_win_when_they_agree_with_the_daily_bar():
    source = DailyPathSource(DATA, ["SPY"])
    assert not source.is_modelled("SPY", DAY)
    real = source.csv.session_bars("SPY", DAY)
    assert source.session_bars("SPY", DAY) == real


def test_raw_minutes_that_disagree_with_the_split_adjusted_daily_bar_are_replaced():
    source = DailyPathSource(DATA, ["AAPL"])
    assert source.is_modelled("AAPL", DAY)  # raw ~$171 vs split-adjusted ~$42.8
    bars = source.session_bars("AAPL", DAY)
    assert bars[0].open == 42.83 and bars[-1].close == 42.545


def test_with_a_replay_day_minutes_reach_back_a_few_sessions_only():
    source = DailyPathSource(DATA, ["KO", "SPY"], day=DAY)
    ko = source.sessions("KO")
    assert ko[-1] == DAY and len(ko) == 11 and ko[0] == date(2019, 1, 30)
    spy = source.sessions("SPY")  # plus every day with real minutes in the shared data
    assert set(ko) < set(spy) and date(2011, 1, 3) in spy
    assert len(source.daily_bars("KO")) > 1000  # daily history is untouched


def test_the_replay_fills_along_the_model_and_serves_daily_history():
    source = DailyPathSource(DATA, ["KO"], day=DAY)
    opened, _ = session_bounds(DAY)
    clock = ReplayClock(opened + timedelta(minutes=30))
    replay = MarketReplay(source, clock, DAY, ["KO"])
    daily = next(b for b in source.daily_bars("KO") if b.start.date() == DAY)
    price = replay.price_at("KO", clock.now())
    assert price is not None and daily.low <= price <= daily.high
    history = replay.history("KO", clock.now(), "1 Y", "1 day")
    assert 240 <= len(history) <= 260
    assert history[-1].start.date() < DAY  # today's daily bar is not complete at 10:00
    assert history[-1].start.tzinfo is not None and history[-1].start.astimezone(NY).hour == 9
    minutes = replay.history("KO", clock.now(), "1800 S", "1 min")
    assert [b.start for b in minutes][-1] == datetime(2019, 2, 13, 9, 59, tzinfo=NY)
