"""Shared fixtures for the history DB tests: a fresh DB in a temp dir and a trade-row builder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from observability.history import HistoryDB
from observability.schema import TradeRow

DAY = date(2025, 7, 3)
OPEN_UTC = datetime(2025, 7, 3, 13, 30, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "trading_history.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[HistoryDB]:
    history = HistoryDB.open(db_path)
    yield history
    history.close()


def make_trade(minute: int, pnl: float, *, day: date = DAY, book: str = "intraday",
               symbol: str = "SPY", commission: float = 0.0, variant: str = "A") -> TradeRow:
    entry = OPEN_UTC + timedelta(days=(day - DAY).days, minutes=minute)
    return TradeRow(
        trading_date=day, book=book, symbol=symbol, side="BUY", qty=10, entry_time=entry,
        entry_price=100.0, exit_time=entry + timedelta(minutes=5), exit_price=100.0 + pnl / 10,
        pnl=pnl, commission=commission, variant=variant, rsi=55.0, vwap=99.5, atr=1.6,
        reason="above VWAP, RSI<60", exit_reason="target", order_ref=f"DT-20250703-{symbol}-{minute}-ENTRY",
    )
