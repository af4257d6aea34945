"""Shared pieces of the backtester's tests: the shared data through one grid-snapped source and
one column cache per test session (loading the CSVs once), and the parity configurations."""

from __future__ import annotations

import pytest

from sim.backtest.bars import BarStore
from sim.market.bar_sources import CsvBarSource
from sim.market.grid import TickGridSource, on_grid
from tests.paths import DATA


@pytest.fixture(scope="session")
def shared_source() -> TickGridSource:
    return on_grid(CsvBarSource(DATA))


@pytest.fixture(scope="session")
def shared_store(shared_source: TickGridSource) -> BarStore:
    return BarStore(shared_source)
