"""MinuteBarBuilder: 5-second bars -> completed 1-minute bars, on time, once, in order."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from trade.ib.minute_bars import MinuteBarBuilder
from trade.models import Bar

NY = ZoneInfo("America/New_York")
T = datetime(2025, 7, 3, 10, 0, tzinfo=NY)


def feed(builder: MinuteBarBuilder, start: datetime, price: float = 100.0, volume: float = 10.0,
         high: float | None = None, low: float | None = None) -> list[Bar]:
    return builder.add(start, price, high if high is not None else price,
                       low if low is not None else price, price, volume)


def test_minute_is_completed_by_its_55_second_bar():
    builder = MinuteBarBuilder("SPY")
    for second in range(0, 55, 5):
        assert feed(builder, T + timedelta(seconds=second)) == []
    completed = feed(builder, T + timedelta(seconds=55))
    assert [b.start for b in completed] == [T]
    assert completed[0].end == T + timedelta(minutes=1)


def test_completed_minute_aggregates_open_high_low_close_volume():
    builder = MinuteBarBuilder("SPY")
    prices = [100.0, 101.0, 99.0, 100.5, 100.2, 100.1, 100.0, 100.3, 100.4, 100.6, 100.7, 100.8]
    out: list[Bar] = []
    for i, price in enumerate(prices):
        out += builder.add(T + timedelta(seconds=5 * i), price, price + 0.1, price - 0.1, price, i + 1)
    (bar,) = out
    assert (bar.symbol, bar.open, bar.high, bar.low, bar.close) == ("SPY", 100.0, 101.1, 98.9, 100.8)
    assert bar.volume == sum(range(1, 13))
    assert bar.seconds == 60


def test_missing_55_bar_is_completed_by_the_next_minutes_first_bar():
    builder = MinuteBarBuilder("SPY")
    feed(builder, T, 100.0)
    feed(builder, T + timedelta(seconds=30), 101.0)
    completed = feed(builder, T + timedelta(minutes=1), 102.0)
    assert [(b.start, b.close) for b in completed] == [(T, 101.0)]


def test_gap_of_several_minutes_emits_only_minutes_that_had_data():
    builder = MinuteBarBuilder("SPY")
    feed(builder, T)
    feed(builder, T + timedelta(seconds=10))
    completed = feed(builder, T + timedelta(minutes=4))
    assert [b.start for b in completed] == [T]


def test_gap_bar_that_is_itself_a_55_bar_completes_both_minutes():
    builder = MinuteBarBuilder("SPY")
    feed(builder, T, 100.0)
    completed = feed(builder, T + timedelta(minutes=2, seconds=55), 105.0)
    assert [(b.start, b.close) for b in completed] == [(T, 100.0), (T + timedelta(minutes=2), 105.0)]


def test_next_minute_starts_fresh_after_a_completed_minute():
    builder = MinuteBarBuilder("SPY")
    feed(builder, T, 100.0, volume=5, high=110.0)
    assert feed(builder, T + timedelta(seconds=55), 100.0, volume=5, high=110.0)
    feed(builder, T + timedelta(minutes=1), 101.0, volume=7)
    (bar,) = feed(builder, T + timedelta(minutes=1, seconds=55), 102.0, volume=3)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (101.0, 102.0, 101.0, 102.0, 10)


def test_replayed_bars_after_a_reconnect_never_reemit_a_minute():
    builder = MinuteBarBuilder("SPY")
    emitted: list[Bar] = []
    for second in range(0, 60, 5):
        emitted += feed(builder, T + timedelta(seconds=second))
    for second in range(0, 60, 5):  # IB replays the last bars after a reconnect
        emitted += feed(builder, T + timedelta(seconds=second))
    emitted += feed(builder, T + timedelta(minutes=1, seconds=55))
    assert [b.start for b in emitted] == [T, T + timedelta(minutes=1)]


def test_replayed_bars_do_not_leak_into_the_next_minute():
    builder = MinuteBarBuilder("SPY")
    feed(builder, T, 100.0)
    assert feed(builder, T + timedelta(seconds=55), 100.0)
    assert feed(builder, T + timedelta(seconds=50), 500.0, volume=1000) == []  # replay of it
    (bar,) = feed(builder, T + timedelta(minutes=1, seconds=55), 101.0)
    assert bar.high == 101.0 and bar.volume == 10.0


def test_emitted_minutes_are_strictly_increasing_over_a_long_feed():
    builder = MinuteBarBuilder("SPY")
    starts = []
    for i in range(12 * 30):
        if i % 37 == 5:
            continue  # a dropped bar now and then
        starts += [b.start for b in feed(builder, T + timedelta(seconds=5 * i))]
    assert starts == sorted(set(starts))
    assert len(starts) == 30


def test_minute_the_stream_joined_midway_is_never_emitted():
    """Its earlier seconds were never seen: the consumer backfills that minute from history."""
    builder = MinuteBarBuilder("SPY")
    emitted: list[Bar] = []
    for second in range(20, 60, 5):
        emitted += feed(builder, T + timedelta(seconds=second))
    assert emitted == []
    for second in range(0, 60, 5):
        emitted += feed(builder, T + timedelta(minutes=1, seconds=second))
    assert [b.start for b in emitted] == [T + timedelta(minutes=1)]


def test_restart_drops_the_unfinished_minute():
    builder = MinuteBarBuilder("SPY")
    for second in range(0, 35, 5):
        feed(builder, T + timedelta(seconds=second), 100.0)
    builder.restart()  # re-subscribed after a reconnect: the stream resumes mid-minute
    emitted: list[Bar] = []
    for second in range(40, 60, 5):
        emitted += feed(builder, T + timedelta(seconds=second), 200.0)
    assert emitted == []
    for second in range(0, 60, 5):
        emitted += feed(builder, T + timedelta(minutes=1, seconds=second), 101.0)
    assert [(b.start, b.open) for b in emitted] == [(T + timedelta(minutes=1), 101.0)]


def test_restart_on_a_whole_minute_emits_that_minute_from_its_first_bar():
    builder = MinuteBarBuilder("SPY")
    feed(builder, T, 100.0)
    feed(builder, T + timedelta(seconds=5), 100.0)
    builder.restart()
    emitted: list[Bar] = []
    for second in range(0, 60, 5):
        emitted += feed(builder, T + timedelta(minutes=1, seconds=second), 101.0, volume=1)
    assert [(b.start, b.open, b.volume) for b in emitted] == [(T + timedelta(minutes=1), 101.0, 12.0)]


def test_restart_still_refuses_minutes_already_emitted():
    builder = MinuteBarBuilder("SPY")
    for second in range(0, 60, 5):
        feed(builder, T + timedelta(seconds=second))
    builder.restart()
    assert feed(builder, T + timedelta(seconds=55)) == []
    assert feed(builder, T + timedelta(minutes=1)) == []  # nothing to complete yet
    (bar,) = feed(builder, T + timedelta(minutes=1, seconds=55))
    assert bar.start == T + timedelta(minutes=1)
