"""RunLog: the end-of-day JSON a person can read without the DB."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from trade.intraday.ledger import TripLedger
from trade.intraday.run_log import RunLog, trade_entry
from trade.models import Fill, Side

NY = ZoneInfo("America/New_York")
DAY = date(2025, 7, 3)
KEYS = {"date", "allocation", "params", "watchlist", "trades", "realized_pnl", "flat_at",
        "reconnects", "health_events", "rejections", "warnings", "started_at", "ended_at", "stopped_by"}


def closed_trip():
    ledger = TripLedger("DT")
    ledger.apply(Fill("e1", 1, "DT-20250703-SPY-1-ENTRY", "SPY", Side.BUY, 10, 620.0,
                      datetime(2025, 7, 3, 10, 1, tzinfo=NY), 1.0))
    trip = ledger.apply(Fill("e2", 3, "DT-20250703-SPY-1-SL", "SPY", Side.SELL, 10, 615.04,
                             datetime(2025, 7, 3, 11, 7, tzinfo=NY), 1.0))
    assert trip is not None
    return trip


def test_trade_entry_reports_a_round_trip_with_net_pnl():
    entry = trade_entry(closed_trip())
    assert entry == {
        "symbol": "SPY", "qty": 10,
        "entry_time": "2025-07-03T10:01:00-04:00", "entry_price": 620.0,
        "exit_time": "2025-07-03T11:07:00-04:00", "exit_price": 615.04,
        "exit_reason": "stop", "pnl": pytest.approx(-51.6), "commission": 2.0,
    }


def test_as_dict_has_every_key_and_iso_times_with_offset():
    log = RunLog(DAY, 25_000.0, {"profit_target": 0.014})
    log.trades.append(trade_entry(closed_trip()))
    log.flat_at = datetime(2025, 7, 3, 12, 55, tzinfo=NY)
    log.started_at = datetime(2025, 7, 3, 9, 25, tzinfo=NY)
    log.ended_at = datetime(2025, 7, 3, 12, 55, 3, tzinfo=NY)
    data = log.as_dict()
    assert KEYS <= set(data)
    assert data["date"] == "2025-07-03"
    assert data["flat_at"] == "2025-07-03T12:55:00-04:00"
    assert data["started_at"].endswith("-04:00") and data["ended_at"].endswith("-04:00")
    assert data["realized_pnl"] == pytest.approx(-51.6)


def test_unset_times_are_null():
    data = RunLog(DAY, 1.0, {}).as_dict()
    assert data["flat_at"] is None and data["started_at"] is None and data["ended_at"] is None
    assert data["stopped_by"] == "close" and data["trades"] == []


def test_realized_pnl_sums_the_trades():
    log = RunLog(DAY, 1.0, {})
    log.trades += [{"pnl": 10.25}, {"pnl": -3.1}]
    assert log.realized_pnl == pytest.approx(7.15)


def test_extra_keys_are_merged_into_the_document():
    log = RunLog(DAY, 1.0, {}, extra={"variant": "B"})
    assert log.as_dict()["variant"] == "B"


def test_write_creates_the_dated_file_and_leaves_no_temp_file(tmp_path: Path):
    log = RunLog(DAY, 25_000.0, {"rsi_max": 60.0})
    log.trades.append(trade_entry(closed_trip()))
    path = log.write(tmp_path / "logs")
    assert path == tmp_path / "logs" / "day_trader_run_2025-07-03.json"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(log.as_dict()))
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_write_replaces_an_earlier_log_of_the_same_day(tmp_path: Path):
    log = RunLog(DAY, 1.0, {})
    log.write(tmp_path)
    log.reconnects = 2
    path = log.write(tmp_path)
    assert json.loads(path.read_text(encoding="utf-8"))["reconnects"] == 2


def test_account_id_never_appears_in_the_log(tmp_path: Path):
    log = RunLog(DAY, 1.0, {})
    log.trades.append(trade_entry(closed_trip()))
    text = log.write(tmp_path).read_text(encoding="utf-8")
    assert "account" not in text.lower()
