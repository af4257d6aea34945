"""What restart/reconnect recovery reads: executions exactly once, intents, sequences, books."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from observability.history import HistoryDB, HistoryDBError
from observability.schema import BookPosition, IntentRow, IntentState, SchemaValueError
from tests.observability.conftest import DAY, OPEN_UTC


def _intent(symbol: str, seq: int, *, book: str = "intraday", day: date = DAY) -> IntentRow:
    return IntentRow(
        order_ref=f"DT-{day:%Y%m%d}-{symbol}-{seq}-ENTRY", bot="DT", trading_date=day,
        symbol=symbol, seq=seq, side="BUY", qty=10, entry_price=100.0, target_price=101.4,
        stop_price=99.2, book=book, created_time=OPEN_UTC + timedelta(minutes=seq), variant="A",
    )


def _execute(db: HistoryDB, exec_id: str, minute: int, book: str = "intraday") -> bool:
    return db.record_execution(exec_id, "DT-20250703-SPY-1-ENTRY", "SPY", "BOT", 10, 100.0,
                               OPEN_UTC + timedelta(minutes=minute), 0.5, book)


def test_execution_seen_twice_is_recorded_once(db: HistoryDB) -> None:
    assert _execute(db, "0001f4e8.6571b6a3.01.01", 1) is True
    assert _execute(db, "0001f4e8.6571b6a3.01.01", 1) is False
    assert len(db.executions_for("DT-20250703-SPY-1-ENTRY")) == 1


def test_executions_since_and_last_execution_time(db: HistoryDB) -> None:
    assert db.last_execution_time() is None
    for exec_id, minute in [("a", 1), ("b", 5), ("c", 9)]:
        _execute(db, exec_id, minute)
    _execute(db, "w", 20, book="weekly")
    assert [e.exec_id for e in db.executions_since(OPEN_UTC + timedelta(minutes=5))] == ["b", "c", "w"]
    assert [e.exec_id for e in db.executions_since(OPEN_UTC, book="weekly")] == ["w"]
    assert db.last_execution_time(book="intraday") == OPEN_UTC + timedelta(minutes=9)
    assert db.last_execution_time() == OPEN_UTC + timedelta(minutes=20)


def test_open_intents_exclude_terminal_states_other_books_and_days(db: HistoryDB) -> None:
    for seq in (1, 2, 3):
        db.record_intent(_intent("SPY", seq))
    db.record_intent(_intent("SPY", 1, book="weekly", day=date(2025, 7, 2)))
    db.update_intent_state("DT-20250703-SPY-1-ENTRY", IntentState.CLOSED, OPEN_UTC)
    db.update_intent_state("DT-20250703-SPY-2-ENTRY", IntentState.OPEN, OPEN_UTC)
    open_refs = [(i.order_ref, i.state) for i in db.open_intents("intraday", DAY)]
    assert open_refs == [("DT-20250703-SPY-2-ENTRY", IntentState.OPEN),
                         ("DT-20250703-SPY-3-ENTRY", IntentState.PENDING)]
    assert len(db.open_intents("weekly")) == 1
    assert len(db.intents_on(DAY)) == 3


def test_intent_round_trips_with_prices_and_state(db: HistoryDB) -> None:
    intent = _intent("AAPL", 4)
    db.record_intent(intent)
    stored = db.intent(intent.order_ref)
    assert stored is not None
    assert (stored.target_price, stored.stop_price, stored.state) == (101.4, 99.2, "pending")
    assert stored.updated_time == intent.created_time


def test_updating_an_unknown_intent_reports_false(db: HistoryDB) -> None:
    assert db.update_intent_state("DT-20250703-SPY-9-ENTRY", "closed", OPEN_UTC) is False


def test_unknown_intent_state_is_rejected_naming_the_choices(db: HistoryDB) -> None:
    db.record_intent(_intent("SPY", 1))
    with pytest.raises(SchemaValueError, match="state='done' is invalid: use one of pending"):
        db.update_intent_state("DT-20250703-SPY-1-ENTRY", "done", OPEN_UTC)


def test_max_sequence_lets_the_bot_take_the_next_unused_number(db: HistoryDB) -> None:
    assert db.max_sequence("DT", DAY, "SPY") == 0
    for seq in (1, 2, 5):
        db.record_intent(_intent("SPY", seq))
    db.record_intent(_intent("QQQ", 9))
    assert db.max_sequence("DT", DAY, "SPY") == 5
    assert db.max_sequence("DT", date(2025, 7, 7), "SPY") == 0


def test_reusing_an_order_ref_is_refused(db: HistoryDB) -> None:
    db.record_intent(_intent("SPY", 1))
    with pytest.raises(HistoryDBError, match="already recorded: take the next sequence"):
        db.record_intent(_intent("SPY", 1))


def test_books_are_separate_and_zero_quantity_removes_the_row(db: HistoryDB) -> None:
    db.set_book_position("weekly", "AAPL", 30, 190.0, OPEN_UTC)
    db.set_book_position("intraday", "AAPL", 10, 201.0, OPEN_UTC)
    db.set_book_position("weekly", "MSFT", 5, 400.0, OPEN_UTC)
    db.set_book_position("weekly", "AAPL", 40, 192.5, OPEN_UTC)
    assert db.book_qty("weekly", "AAPL") == 40
    assert db.book_qty("intraday", "AAPL") == 10
    assert db.book_positions("weekly") == [BookPosition("weekly", "AAPL", 40, 192.5),
                                           BookPosition("weekly", "MSFT", 5, 400.0)]
    db.set_book_position("weekly", "MSFT", 0, 0.0, OPEN_UTC)
    assert db.book_qty("weekly", "MSFT") == 0
    assert [p.symbol for p in db.book_positions("weekly")] == ["AAPL"]
