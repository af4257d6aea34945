"""The trader's controls for the status page: a JSON-ready snapshot, pause/resume, flatten now."""

from __future__ import annotations

import asyncio
import json

from tests.trade.intraday.paper_day import PaperDay, zigzag


async def test_the_snapshot_shows_the_position_its_exits_and_the_last_decisions(tmp_path):
    day = PaperDay(tmp_path, {"SPY": zigzag(390), "QQQ": zigzag(390, base=50.0)})
    trader = await day.start()
    await day.step_to(9, 35)
    snap = trader.status_snapshot()
    json.dumps(snap)  # JSON-ready
    assert snap["day"] == "2024-03-05" and snap["connection"] == "connected"
    assert {p["symbol"] for p in snap["positions"]} == {"SPY", "QQQ"}
    spy = next(p for p in snap["positions"] if p["symbol"] == "SPY")
    assert spy["qty"] == day.held()["SPY"]
    assert sorted(e["type"] for e in spy["exits"]) == ["LMT", "MKT", "STP"]
    assert all(e["qty"] == spy["qty"] for e in spy["exits"])
    assert next(e for e in spy["exits"] if e["type"] == "MKT")["good_after"].endswith("15:57:00-05:00")
    assert len(snap["working_orders"]) == 6
    decision = snap["decisions"]["SPY"]  # the last verdict while flat: the entry
    assert decision["verdict"] == "ENTER" and decision["time"] == "2024-03-05T09:32:00-05:00"
    assert decision["reason"].startswith("enter: close 100.30 > vwap 100.00, rsi 52.4 < 60")
    day.close()


async def test_pause_stops_new_entries_and_resume_allows_them_again(tmp_path):
    day = PaperDay(tmp_path, {"SPY": zigzag(390)})
    trader = await day.start()
    trader.pause_entries("status page")
    await day.step_to(9, 40)
    assert day.held() == {} and trader.status_snapshot()["entries_paused"] == "status page"
    trader.resume_entries("status page")
    await day.step(2)
    assert day.held().get("SPY", 0) > 0
    day.close()


async def test_flatten_now_leaves_the_book_flat_and_entries_off_until_resumed(tmp_path):
    day = PaperDay(tmp_path, {"SPY": zigzag(390)})
    trader = await day.start()
    await day.step_to(9, 35)
    assert day.held().get("SPY", 0) > 0
    await asyncio.wait_for(trader.flatten_now("status page"), 10)
    assert day.held() == {} and day.working("SPY") == []
    await day.step(5)
    assert day.held() == {}, "no entry after a manual flatten until resumed"
    trader.resume_entries("status page")
    await day.step(3)
    assert day.held().get("SPY", 0) > 0
    log = await day.finish()
    assert log.flat_at == day.session.flatten_at
    day.close()


async def test_the_minute_bars_the_bot_traded_on_are_recorded_for_the_day_report(tmp_path):
    day = PaperDay(tmp_path, {"SPY": zigzag(390)})
    await day.start()
    await day.finish()
    stored = day.db.minute_bars(day.day, "SPY")
    expected = day.replay.completed_bars("SPY", day.session.flatten_at)
    assert [(b.start, b.close) for b in stored] == [(b.start, b.close) for b in expected]
    day.close()
