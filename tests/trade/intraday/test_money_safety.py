"""Issue 16's defects, each replayed against the real trader, engine and SQLite file.

Every scenario is a fault the scripted tests never injected; each test failed against the code
before the fix (noted per test) and states the invariant it protects.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from observability.history import HistoryDB
from sim.engine.orders import SimOrder
from sim.paper_broker import PaperBroker, to_ticket
from tests.sim.handmade_bars import DAY, at
from tests.trade.intraday.paper_day import PaperDay, flat, zigzag
from trade.broker import OrderRejected
from trade.intraday.trader import TraderOptions
from trade.models import BracketTickets, OrderStatus, Params, Side

DAY_ROWS = 390
SPY_ZIGZAG = {"SPY": zigzag(DAY_ROWS)}  # enters on the 09:31 bar; never reaches target or stop


@contextmanager
def locked(path: Path):
    """Another process holding the history DB's write lock (BEGIN EXCLUSIVE)."""
    other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("COMMIT")
        other.close()


def never_short(day: PaperDay) -> None:
    assert all(q >= 0 for seen in day.positions_seen for q in seen.values()), day.positions_seen


async def test_a_cancelled_stop_gets_its_group_replaced_never_a_second_take_profit(tmp_path):
    """Defect 1 (before: a second TP+SL group beside the old TP; two TPs for the full size)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG)
    trader = await day.start()
    await day.step_to(9, 33)
    assert day.held() == {"SPY": trader.books["SPY"].qty} and day.held()["SPY"] > 0
    (stop,) = day.working("SPY", "STP")
    day.engine.cancel(stop.order_id)  # cancelled "in TWS" by hand
    for _ in range(5):
        await day.step()
        assert len(day.working("SPY", "LMT")) <= 1, "two take-profits working for one position"
    assert len(day.working("SPY", "LMT")) == 1 and len(day.working("SPY", "STP")) == 1
    (tp,), (sl,) = day.working("SPY", "LMT"), day.working("SPY", "STP")
    assert tp.oca_group == sl.oca_group and tp.remaining == sl.remaining == day.held()["SPY"]
    await day.finish()
    never_short(day)
    assert day.held() == {}
    day.close()


class StopRejectingBroker(PaperBroker):
    """Rejects the next `stops_to_reject` stop orders, as IB does with a 201."""

    stops_to_reject = 0

    def _submit(self, order: SimOrder) -> None:
        if order.order_type == "STP" and self.stops_to_reject > 0:
            self.stops_to_reject -= 1
            raise OrderRejected("Order rejected - reason: simulated stop rejection", 201)
        super()._submit(order)


async def test_a_repeatedly_rejected_stop_never_leaves_two_take_profits(tmp_path):
    """Defect 1 (before: one more TP every repair while the stop kept being rejected)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG, broker_cls=StopRejectingBroker)
    broker = day.broker
    assert isinstance(broker, StopRejectingBroker)
    await day.start()
    await day.step_to(9, 33)
    (stop,) = day.working("SPY", "STP")
    broker.stops_to_reject = 3
    day.engine.cancel(stop.order_id)
    for _ in range(8):
        await day.step()
        assert len(day.working("SPY", "LMT")) <= 1
    assert len(day.working("SPY", "STP")) == 1, "protected again once the broker accepts a stop"
    await day.finish()
    never_short(day)
    day.close()


class GatewayLostAtTheFlatten(PaperBroker):
    """The socket drops as the flatten sends its first order (a sale, or the release of the
    backstop), and the Gateway stays away until `back_at`: every request fails meanwhile, while
    the orders held at the broker go on working."""

    back_at = at(DAY, 15, 59)
    down = False

    def _reachable(self) -> None:
        if self.down and self.now() < self.back_at:
            raise ConnectionError("Socket disconnect")
        self.down = False

    def _drop(self) -> None:
        self._reachable()
        self.down = True
        raise ConnectionError("Socket disconnect")

    async def positions(self):
        self._reachable()
        return await super().positions()

    async def open_orders(self):
        self._reachable()
        return await super().open_orders()

    async def cancel(self, order_id: int) -> None:
        self._reachable()
        await super().cancel(order_id)

    async def place_market(self, *args, **kwargs):
        self._drop()

    async def modify_order(self, order_id: int, **kwargs) -> None:
        if kwargs.get("release_now"):
            self._drop()
        self._reachable()
        await super().modify_order(order_id, **kwargs)


async def test_a_gateway_lost_at_the_flatten_leaves_the_backstop_to_sell(tmp_path):
    """Chaos seed 20 (before: the flatten cancelled every exit, the backstop included, then the
    socket dropped before its market sale: the position met the close with no exit at all)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG, broker_cls=GatewayLostAtTheFlatten)
    await day.start()
    await day.step_to(15, 50)
    held = day.held()["SPY"]
    assert held > 0
    await day.step_to(15, 58)
    assert isinstance(day.broker, GatewayLostAtTheFlatten)
    assert day.broker.down, "the Gateway went away at the flatten"
    assert day.held() == {}, "the broker-held backstop must still have sold at 15:57"
    sold = [f for f in await PaperBroker.executions(day.broker) if f.order_ref.endswith("-BKS")]
    assert [(f.qty, f.time) for f in sold] == [(held, day.session.flatten_at + timedelta(minutes=2))]
    await day.finish()
    never_short(day)
    day.close()


async def test_a_fill_during_a_db_lock_moves_the_book_and_its_row_follows(tmp_path):
    """Defect 3 (before: the exec id was marked seen, the insert raised, the fill was lost for
    the day: book 0, the flatten sold nothing and the position stayed open)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG)
    trader = await day.start()
    await day.step_to(9, 31)
    with locked(tmp_path / "history.db"):
        await day.step()  # the entry decision and its fill happen while the DB is locked
        assert trader.books["SPY"].qty == day.held().get("SPY", 0) > 0
        assert trader.records.pending > 0
    await day.step()
    assert trader.records.flush(force=True) >= 0 and trader.records.pending == 0
    await day.finish()
    assert day.held() == {}
    ours = [f for f in await day.broker.executions() if f.order_ref.startswith("DT-")]
    recorded = day.db.executions_since(at(day.day, 0, 0))
    assert sorted(e.exec_id for e in recorded) == sorted(f.exec_id for f in ours)
    day.close()


@pytest.mark.parametrize("backstop", [False, True], ids=["sold at market", "backstop released"])
async def test_a_db_locked_through_the_flatten_still_flattens(tmp_path, backstop):
    """Defect 2 (before: reserving the FLAT ref raised HistoryDBError out of run()). With its
    backstop the position is sold by releasing it (no new ref needed); without, by a FLAT sale."""
    options = TraderOptions(allocation=0.25, tick_s=0.0, guard_interval_s=0.0, exit_grace_s=0.0,
                            entry_grace_s=5.0, flush_interval_s=0.0, broker_backstop=backstop)
    day = PaperDay(tmp_path, SPY_ZIGZAG, options=options)
    await day.start()
    await day.step_to(15, 50)
    assert day.held()["SPY"] > 0
    with locked(tmp_path / "history.db"):
        await day.step_to(15, 57)
        assert day.held() == {}, "not flat while the DB was locked"
    log = await day.finish()
    assert log.flat_at is not None and log.flat_at <= day.session.flatten_at + timedelta(seconds=60)
    leg = "-BKS" if backstop else "-FLAT"
    sold = [f for f in await day.broker.executions() if f.order_ref.endswith(leg)]
    assert sold and all(f.time == day.session.flatten_at for f in sold), sold
    recorded = {e.exec_id for e in day.db.executions_since(at(day.day, 0, 0))}
    assert {f.exec_id for f in sold} <= recorded, "the sale is recorded once the DB is free"
    flat_refs = [i.order_ref for i in day.db.intents_on(day.day) if i.order_ref.endswith("-FLAT")]
    assert bool(flat_refs) is not backstop
    day.close()


async def test_a_db_lock_during_health_checks_does_not_stop_the_bot(tmp_path):
    """Defect 2 (before: record_health's HistoryDBError escaped the loop mid-day)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG)
    await day.start()
    await day.step_to(10, 0)
    with locked(tmp_path / "history.db"):
        await day.step(3)  # health checks every market minute
        assert day.task is not None and not day.task.done()
    await day.finish()
    assert day.held() == {} and day.run_log.flat_at is not None
    day.close()


class SlowAckBroker(PaperBroker):
    """Brackets reach the exchange only at the next step (IB's acknowledgement latency), so the
    entries of one minute's burst are all in flight together."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.held_back: list[SimOrder] = []

    def _submit(self, order: SimOrder) -> None:
        if order.transmit and order.parent_id:  # the child that would transmit the bracket
            order.transmit = False
            self.held_back.append(order)
        super()._submit(order)

    def release(self) -> None:
        for order in self.held_back:
            super()._submit(replace(order, transmit=True))
        self.held_back.clear()


async def test_entries_in_flight_count_against_the_allocation(tmp_path):
    """Defect 5 (before: pending entries added no exposure; two 20% entries on a 25% allocation
    were both sent in full)."""
    rows = {s: zigzag(DAY_ROWS) for s in ("AAA", "BBB")}
    params = Params(atr_min_pct=0.0, atr_timeframe="1 min", position_pct=0.2)
    day = PaperDay(tmp_path, rows, params=params, broker_cls=SlowAckBroker)
    broker = day.broker
    assert isinstance(broker, SlowAckBroker)
    await day.start()
    await day.step_to(9, 32)  # both symbols signal on the same bar
    intents = [i for i in day.db.intents_on(day.day) if i.order_ref.endswith("-ENTRY")]
    assert len(intents) == 2
    exposure = sum(i.qty * i.entry_price for i in intents)
    assert exposure <= 0.25 * day.cash + 1e-6, intents
    broker.release()
    await day.step()
    assert sum(q * 100.0 for q in day.held().values()) <= 0.25 * day.cash * 1.01
    day.close()


class SlowHistoryBroker(PaperBroker):
    """History requests answered only after the replay clock moved on (IB pacing)."""

    slow = False

    async def history(self, symbol, duration, bar_size="1 min"):
        if self.slow:
            self.slow = False
            start = self.now()
            while self.now() < start + timedelta(minutes=3):
                await asyncio.sleep(0.001)
        return await super().history(symbol, duration, bar_size)


async def test_a_bar_older_than_a_minute_never_opens_a_position(tmp_path):
    """Defect 8 (before: bars held during a slow backfill went to the strategy minutes late).
    The only signal of the morning is on the 09:33 bar, which arrives while a gap is being
    filled and reaches the trader three minutes late."""
    rows = zigzag(4) + flat(DAY_ROWS - 4, 99.0)  # 09:33 is an up bar; then below VWAP all day
    day = PaperDay(tmp_path, {"SPY": rows}, broker_cls=SlowHistoryBroker, drain_s=0.01)
    broker = day.broker
    assert isinstance(broker, SlowHistoryBroker)
    trader = await day.start()
    await day.step_to(9, 31)
    await broker.unsubscribe_bars("SPY")  # the stream drops for two minutes
    await day.step(2)
    broker.slow = True
    await trader.feed.subscribe()
    await day.step_to(9, 45)
    entries = [i for i in day.db.intents_on(day.day) if i.order_ref.endswith("-ENTRY")]
    assert entries == [], "an entry was decided on a bar three minutes old"
    assert trader.books["SPY"].feed.last_bar_start == at(day.day, 9, 44)
    day.close()


async def test_a_late_start_backfills_the_opening_minutes(tmp_path):
    """The bot subscribing at 09:35 must still feed its indicators every minute since the open
    (before: the first bar of the session was not checked for a gap, RSI drifted)."""
    from trade.indicators import IndicatorState

    rows = zigzag(DAY_ROWS)
    day = PaperDay(tmp_path, {"SPY": rows})
    await day.broker.step_to(at(day.day, 9, 35))
    trader = await day.start()
    await day.step(3)
    expected = IndicatorState()
    for bar in day.replay.source.session_bars("SPY", day.replay.source.sessions("SPY")[0]):
        expected.update(bar)
    for bar in day.replay.completed_bars("SPY", day.broker.now()):
        expected.update(bar)
    got = trader.books["SPY"].indicators
    assert got.rsi == pytest.approx(expected.rsi, abs=1e-9)
    assert got.vwap == pytest.approx(expected.vwap, abs=1e-9)
    day.close()


async def test_a_restart_after_the_close_while_holding_sends_no_orders(tmp_path):
    """Defect 9 (before: market sells looped all night against a closed market)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG)
    await day.broker.step_to(at(day.day, 10, 0))
    await day.broker.place_market("SPY", Side.BUY, 10, "DT-20240305-SPY-1-ENTRY")
    (fill,) = await day.broker.executions()  # what the earlier run recorded: its execution too
    day.db.record_execution(fill.exec_id, fill.order_ref, "SPY", "BUY", 10, fill.price, fill.time,
                            fill.commission, "intraday")
    day.db.set_book_position("intraday", "SPY", 10, 100.0, day.broker.now())
    await day.broker.step_to(at(day.day, 16, 5))
    sent_before = len(day.engine.orders())
    trader = await day.start()
    log = await day.finish()
    assert len(day.engine.orders()) == sent_before, "orders sent after the close"
    assert log.extra["left_open"] == {"SPY": 10} and trader.books["SPY"].qty == 10
    day.close()


class GhostBracketBroker(PaperBroker):
    """The gateway bug of issue 15 item 13: the entry is rejected but its children are kept as
    standalone sells; the bot must be safe against it anyway."""

    reject_next_entry = False

    def submit_bracket(self, symbol, qty, entry_limit, take_profit, stop_loss, order_ref,
                       backstop_at=None):
        if not self.reject_next_entry:
            return super().submit_bracket(symbol, qty, entry_limit, take_profit, stop_loss,
                                          order_ref, backstop_at)
        self.reject_next_entry = False
        tp = self._order(self._take_id(), symbol, "SELL", qty, "LMT", lmt=take_profit,
                         ref=order_ref.replace("-ENTRY", "-TP"), oca="GHOST")
        sl = self._order(self._take_id(), symbol, "SELL", qty, "STP", aux=stop_loss,
                         ref=order_ref.replace("-ENTRY", "-SL"), oca="GHOST")
        self._submit(tp)
        self._submit(sl)
        entry = replace(to_ticket(tp), order_id=self._take_id(), order_ref=order_ref,
                        side=Side.BUY, status=OrderStatus.INACTIVE, limit_price=None)
        for handler in self._status_handlers:
            handler(entry)
        return BracketTickets(entry, to_ticket(tp), to_ticket(sl))


async def test_the_legs_of_a_rejected_entry_are_cancelled_and_never_sell_short(tmp_path):
    """Defect 10 (before: the orphan stop counted as protection, the bot re-entered and both
    stops filled: SOXL -77)."""
    rows = zigzag(60) + flat(DAY_ROWS - 60, 95.0)  # a slide through every stop after 10:30
    day = PaperDay(tmp_path, {"SPY": rows}, broker_cls=GhostBracketBroker)
    broker = day.broker
    assert isinstance(broker, GhostBracketBroker)
    broker.reject_next_entry = True
    await day.start()
    await day.step_to(9, 33)
    ghosts = [o for o in day.engine.orders() if o.oca_group == "GHOST"]
    assert ghosts and all(o.status == "Cancelled" for o in ghosts), [o.status for o in ghosts]
    await day.finish()
    never_short(day)
    day.close()


async def test_an_oversold_book_is_covered_at_once(tmp_path):
    """A second exit that fills after the first leaves the account short: the bot buys back its
    own oversold shares instead of hiding them behind a book floored at zero (defect 10)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG)
    await day.start()
    await day.step_to(9, 33)
    held = day.held()["SPY"]
    await day.broker.place_market("SPY", Side.SELL, held + 7, "DT-20240305-SPY-1-TP")  # rogue exit
    await day.step(2)
    assert day.held() == {}, "the oversold 7 shares are bought back"
    covers = [o for o in day.engine.orders() if o.order_ref.endswith("-COVER")]
    assert [int(o.total_qty) for o in covers] == [7]
    day.close()


async def test_a_sale_of_a_leftover_the_lost_db_knew_is_never_bought_back(tmp_path):
    """Issue 20, seed 232 (before: the bot restarted on an empty DB replayed today's sale of
    yesterday's 10 shares onto an empty book, read -10, "covered" and bought 10 shares nobody
    owned, held past the close). The account misses nothing: the book's short is a records
    gap, not a short at the broker."""
    day = PaperDay(tmp_path, {"SPY": flat(DAY_ROWS, 100.0)})
    day.engine.ledger.apply("SPY", 10.0, 100.0, 0.0)  # yesterday's leftover (its DB is lost)
    await day.broker.step_to(at(day.day, 10, 0))
    await day.broker.place_market("SPY", Side.SELL, 10, "DT-20240305-SPY-1-TP")  # its target
    assert day.held() == {}
    trader = await day.start()
    await day.step(2)
    await day.finish()
    covers = [o for o in day.engine.orders() if o.order_ref.endswith("-COVER")]
    assert covers == [] and day.held() == {}, (covers, day.held())
    assert trader.books["SPY"].qty == 0
    never_short(day)
    day.close()


async def test_a_missed_final_entry_status_is_settled_by_the_reconnect(tmp_path):
    """Defect 9 (before: pending_entry stayed set for ever when the entry's final status was
    missed while disconnected: the symbol never traded or got its exits repriced again)."""
    from trade.broker import ConnectionState

    day = PaperDay(tmp_path, SPY_ZIGZAG)
    trader = await day.start()
    await day.step_to(9, 31)
    broker = day.broker
    handlers = list(broker._status_handlers)
    broker._status_handlers.clear()  # statuses lost while "away"
    await day.step()
    assert trader.books["SPY"].entry is not None
    broker._status_handlers.extend(handlers)
    trader._on_connection(ConnectionState.RESTORED)
    await day.settle()
    book = trader.books["SPY"]
    assert book.entry is None and book.qty == day.held()["SPY"] > 0
    day.close()


async def test_a_new_db_never_reuses_a_ref_the_broker_knows(tmp_path):
    """Defect 9 (before: sequences came from the DB alone; a new DB restarted them at 1)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG)
    first = await day.start()
    await day.step_to(9, 40)
    first.stop("restart")
    assert day.task is not None
    await day.task
    day.db.close()
    (tmp_path / "history.db").unlink()
    day.db = HistoryDB.open(tmp_path / "history.db")
    await day.start()
    await day.finish()
    refs = [o.order_ref for o in day.engine.orders() if o.order_ref.startswith("DT-")]
    assert len(refs) == len(set(refs))
    day.close()


async def test_the_daily_loss_base_survives_a_restart(tmp_path):
    """Defect 9 (before: a restart took the post-loss equity as the day's starting equity)."""
    rows = zigzag(40) + flat(DAY_ROWS - 40, 98.0)  # the stop fills after 10:10
    day = PaperDay(tmp_path, {"SPY": rows})
    first = await day.start()
    start_equity = first.entries.day_start_equity
    await day.step_to(10, 30)
    assert day.run_log.trades and day.run_log.realized_pnl < 0
    first.stop("restart")
    assert day.task is not None
    await day.task
    second = await day.start()
    assert second.entries.day_start_equity == pytest.approx(start_equity, abs=0.01)
    day.close()


async def test_a_bot_that_dies_holding_is_flattened_by_the_broker_held_backstop(tmp_path):
    """Defect 6 (before: every exit was DAY; a crash or a Gateway outage across 15:55 held the
    position overnight). The backstop market sell waits at the broker until 15:57."""
    day = PaperDay(tmp_path, SPY_ZIGZAG)
    await day.start()
    await day.step_to(11, 0)
    held = day.held()["SPY"]
    (backstop,) = day.working("SPY", "MKT")
    assert backstop.good_after == at(day.day, 15, 57) and backstop.total_qty == held
    assert day.task is not None
    day.task.cancel()  # the bot dies: no flatten of its own
    await day.broker.step_to(at(day.day, 15, 56))
    assert day.held() == {"SPY": held}
    await day.broker.step_to(at(day.day, 15, 58))
    assert day.held() == {}
    sold = [f for f in await day.broker.executions() if f.side is Side.SELL]
    assert [f.order_ref for f in sold] == [backstop.order_ref]
    assert sold[0].time >= at(day.day, 15, 57)
    day.close()


class LateExecutionBroker(PaperBroker):
    """An order's Filled status reaches the bot before its executions (IB promises no order
    between orderStatus and execDetails)."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.late: list = []
        self.holding = True

    def on_execution(self, execution) -> None:
        if self.holding:
            self.late.append(execution)
            return
        super().on_execution(execution)

    def release(self) -> None:
        self.holding = False
        for execution in self.late:
            super().on_execution(execution)
        self.late.clear()


async def test_an_entry_filled_before_its_executions_stays_in_flight(tmp_path):
    """Campaign seed 26 (before: the Filled status ended the entry while the lot was still 0,
    so the next bar's signal sent a second entry and the position doubled past the allocation:
    I2, 29,698 against a cap of 24,979)."""
    day = PaperDay(tmp_path, SPY_ZIGZAG, broker_cls=LateExecutionBroker)
    broker = day.broker
    assert isinstance(broker, LateExecutionBroker)
    trader = await day.start()
    await day.step_to(9, 31)
    await day.step()
    assert broker.late, "the entry executed; its execution is held back"
    book = trader.books["SPY"]
    assert book.qty == 0 and book.entry is not None, "done at the broker, not yet in the lot"
    for _ in range(3):  # bars go on while the execution is on its way: no second entry
        await day.step()
    entries = [i for i in day.db.intents_on(day.day) if i.order_ref.endswith("-ENTRY")]
    assert len(entries) == 1
    broker.release()
    await day.settle()
    assert book.entry is None and book.qty == day.held()["SPY"] > 0
    day.close()
