"""Orders outside regular trading hours (sim/engine/hours.py) and a TRAIL's moving stop reported
to listeners: the engine side of IB's outsideRth, DAY expiry and trailStopPrice."""

from __future__ import annotations

from sim.engine.commissions import ZeroCommission
from sim.engine.exchange import MatchingEngine
from sim.market.clock import ReplayClock
from sim.market.replay import MarketReplay
from tests.sim.engine.support import FLAT, Recorder, go_to, order
from tests.sim.handmade_bars import DAY, PREV, ListSource, at

RISING = [(100.0 + i * 0.1, 100.2 + i * 0.1, 99.9 + i * 0.1, 100.1 + i * 0.1) for i in range(30)]


def engine_at(start, rows=None, days=None):
    source = ListSource({"XYZ": {PREV: [(99.0, 99.5, 98.5, 99.2)], DAY: rows or [FLAT] * 390, **(days or {})}})
    replay = MarketReplay(source, ReplayClock(start), DAY, ["XYZ"])
    engine = MatchingEngine(replay, slippage_bps=0.0, commissions=ZeroCommission())
    recorder = Recorder()
    engine.add_listener(recorder)
    return engine, recorder


def test_an_outside_rth_limit_fills_pre_market_at_the_previous_close_when_marketable():
    engine, rec = engine_at(at(DAY, 8, 0))
    engine.place(order(1, "BUY", 10, "LMT", lmt=99.5, outside_rth=True))
    engine.place(order(2, "BUY", 10, "LMT", lmt=99.0, outside_rth=True))
    engine.place(order(3, "BUY", 10, "LMT", lmt=99.5))  # not outsideRth: waits for the open
    assert [e.price for e in rec.executions] == [99.2]  # the quote before the open: yesterday's close
    assert (engine.order(2).status, engine.order(3).status) == ("Submitted", "Submitted")


def test_market_and_stop_orders_wait_for_the_open_whatever_outside_rth_says():
    engine, rec = engine_at(at(DAY, 8, 0))
    engine.place(order(1, "BUY", 10, "MKT", outside_rth=True))
    engine.place(order(2, "BUY", 10, "STP", aux=99.0, outside_rth=True))
    assert rec.executions == [] and engine.order(1).status == "PreSubmitted"
    go_to(engine, at(DAY, 9, 31))
    assert [e.order_id for e in rec.executions][:1] == [1]


def test_outside_rth_day_orders_expire_at_the_after_hours_close_others_at_the_close():
    engine, _ = engine_at(at(DAY, 15, 0))
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0, outside_rth=True))
    engine.place(order(2, "BUY", 10, "LMT", lmt=90.0))
    go_to(engine, at(DAY, 16, 0))
    assert (engine.order(1).status, engine.order(2).status) == ("Submitted", "Cancelled")
    go_to(engine, at(DAY, 20, 0))
    assert engine.order(1).status == "Cancelled" and "after-hours" in engine.order(1).why_held


def test_an_after_hours_order_still_working_ends_when_the_next_session_becomes_current():
    from datetime import timedelta

    nxt = DAY + timedelta(days=1)
    engine, _ = engine_at(at(DAY, 17, 0), days={nxt: [FLAT] * 390})
    engine.place(order(1, "BUY", 10, "LMT", lmt=90.0, outside_rth=True))
    engine.set_replay(MarketReplay(engine.replay.source, engine.replay.clock, nxt, ["XYZ"]))
    assert engine.order(1).status == "Cancelled"


def test_a_trailing_stops_moves_reach_listeners_as_order_updates():
    engine, rec = engine_at(at(DAY, 9, 30), rows=RISING)
    updates: list[float] = []  # a TRAIL order always carries its stop
    engine.add_listener(type("L", (), {"on_order_update": lambda self, o: updates.append(o.trail_stop)})())
    engine.place(order(1, "SELL", 10, "TRAIL", aux=0.5))
    seeded = engine.order(1).trail_stop
    go_to(engine, at(DAY, 9, 50))
    assert updates and updates == sorted(updates) and updates[0] > seeded
    assert updates[-1] == engine.order(1).trail_stop and rec.of(1) == ["PendingSubmit", "PreSubmitted"]
