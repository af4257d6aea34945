"""The day's 1-minute bars in the history DB: what the daily report draws its price charts from."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from observability.history import HistoryDB
from observability.migrations import migrate
from observability.schema import SchemaValueError

NY = ZoneInfo("America/New_York")
DAY = date(2025, 7, 3)


@dataclass(frozen=True)
class _Bar:
    """A bar as the trader hands it over (the shape of trade.models.Bar)."""

    symbol: str
    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


def _bars(symbol: str, minutes: int, first: int = 0, price: float = 100.0) -> list[_Bar]:
    opening = datetime(2025, 7, 3, 9, 30, tzinfo=NY)
    return [
        _Bar(symbol, opening + timedelta(minutes=m), price + m, price + m + 0.5, price + m - 0.5,
             price + m + 0.25, 1000.0 + m)
        for m in range(first, first + minutes)
    ]


def test_bars_come_back_in_start_order_with_new_york_times(db: HistoryDB) -> None:
    bars = _bars("SPY", 5)
    db.record_minute_bars(DAY, list(reversed(bars)))
    stored = db.minute_bars(DAY, "SPY")
    assert [b.start for b in stored] == [b.start for b in bars]
    assert stored[0].start.utcoffset() == timedelta(hours=-4)  # EDT, not UTC
    assert stored[0].start.hour == 9 and stored[0].start.minute == 30
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in stored] == [
        (b.open, b.high, b.low, b.close, b.volume) for b in bars
    ]


def test_recording_the_same_minute_again_replaces_it(db: HistoryDB) -> None:
    db.record_minute_bars(DAY, _bars("SPY", 3))
    revised = _bars("SPY", 2, first=2, price=200.0)  # minute 2 revised, minute 3 new
    db.record_minute_bars(DAY, revised)
    db.record_minute_bars(DAY, revised)
    stored = db.minute_bars(DAY, "SPY")
    assert len(stored) == 4
    assert stored[2].close == revised[0].close


def test_bars_are_kept_per_symbol_and_per_day(db: HistoryDB) -> None:
    db.record_minute_bars(DAY, _bars("SPY", 3) + _bars("QQQ", 2))
    other_day = [_Bar(b.symbol, b.start + timedelta(days=1), b.open, b.high, b.low, b.close,
                      b.volume) for b in _bars("SPY", 4)]
    db.record_minute_bars(date(2025, 7, 7), other_day)
    assert len(db.minute_bars(DAY, "SPY")) == 3
    assert len(db.minute_bars(DAY, "QQQ")) == 2
    assert len(db.minute_bars(date(2025, 7, 7), "SPY")) == 4
    assert db.minute_bars(DAY, "AAPL") == []


def test_times_are_stored_as_utc_text(db: HistoryDB, db_path: Path) -> None:
    db.record_minute_bars(DAY, _bars("SPY", 1))
    with sqlite3.connect(db_path) as conn:
        [(start,)] = conn.execute("SELECT start FROM minute_bars").fetchall()
    assert start == "2025-07-03T13:30:00.000000+00:00"
    assert datetime.fromisoformat(start) == datetime(2025, 7, 3, 13, 30, tzinfo=UTC)


def test_a_naive_bar_time_is_refused_and_nothing_is_stored(db: HistoryDB) -> None:
    good = _bars("SPY", 1)[0]
    naive = _Bar("SPY", datetime(2025, 7, 3, 9, 31), 1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(SchemaValueError, match="bar start"):
        db.record_minute_bars(DAY, [good, naive])
    assert db.minute_bars(DAY, "SPY") == []


def test_a_failed_batch_leaves_no_partial_rows(db: HistoryDB, db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TRIGGER no_qqq BEFORE INSERT ON minute_bars WHEN NEW.symbol = 'QQQ' "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(Exception, match="refused"):
        db.record_minute_bars(DAY, _bars("SPY", 2) + _bars("QQQ", 1))
    assert db.minute_bars(DAY, "SPY") == []
    db.record_minute_bars(DAY, _bars("SPY", 2))  # the connection is usable afterwards
    assert len(db.minute_bars(DAY, "SPY")) == 2


def test_an_older_file_gains_the_table_and_keeps_its_trades(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, target=2)
    conn.close()
    with HistoryDB.open(db_path) as history:
        history.record_minute_bars(DAY, _bars("SPY", 2))
        assert len(history.minute_bars(DAY, "SPY")) == 2
