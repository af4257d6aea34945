"""Preparing a session from the column cache gives exactly what the replay's own history gives
(the pre-market analyst, the daily ATR screen, the warm-up, the price before the open, the bars
a gap backfill holds back), and the direct CSV reader gives exactly the grid-snapped bars."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from sim.backtest.bars import BarStore
from sim.backtest.prepare import prepare_day, prepare_day_reference
from sim.market.bar_sources import CsvBarSource
from sim.market.grid import TickGridSource, on_grid
from tests.paths import DATA

DAYS = [date(2019, 2, 13), date(2026, 2, 12), date(2025, 7, 3), date(2025, 5, 12),
        date(2013, 10, 7), date(2014, 6, 6), date(2015, 12, 24), date(2011, 1, 3),
        date(2026, 1, 22)]


def _equal(a: object, b: object) -> list[str]:
    assert is_dataclass(a), a
    differ = []
    for f in fields(a):
        if f.name == "token":  # each batch's own cache identity
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            same = x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=x.dtype.kind == "f"))
        else:
            same = x == y
        if not same:
            differ.append(f.name)
    return differ


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_prepared_session_equals_the_replays_history(
    shared_source: TickGridSource, shared_store: BarStore, day: date
) -> None:
    symbols = [s for s in shared_source.symbols() if shared_source.sessions(s)]
    fast = prepare_day(shared_store, day, symbols)
    reference = prepare_day_reference(shared_source, day, symbols)
    assert fast is not None and reference is not None
    assert _equal(fast, reference) == []


def test_the_slice_covers_gaps_half_days_and_the_daily_screen(shared_store: BarStore,
                                                              shared_source: TickGridSource) -> None:
    symbols = [s for s in shared_source.symbols() if shared_source.sessions(s)]
    batches = [prepare_day(shared_store, d, symbols) for d in DAYS]
    assert any(b is not None and b.gap.any() for b in batches), "no backfilled bar in the slice"
    assert any(b is not None and b.minutes == 210 for b in batches), "no half day in the slice"
    assert any(b is not None and (b.daily_atr > 0.015).any() for b in batches), "screen never passes"
    assert any(b is not None and not b.judged.all() for b in batches), "the analyst never drops"


def test_csv_reader_equals_the_snapped_bars_of_the_reference_reader(
    shared_source: TickGridSource,
) -> None:
    files = sorted((DATA / "intraday").glob("*/*.csv"))[::25]
    store = BarStore(on_grid(CsvBarSource(DATA)))
    for path in files:
        symbol, day = path.parent.name, date.fromisoformat(path.stem)
        got = store.session(symbol, day)
        bars = shared_source.session_bars(symbol, day)
        assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == list(zip(
            got.open.tolist(), got.high.tolist(), got.low.tolist(), got.close.tolist(),
            got.volume.tolist(), strict=True)), path
        assert got.dollar_volume == sum(b.close * b.volume for b in bars)


def test_a_file_the_direct_reader_does_not_understand_goes_through_the_reference_reader(
    tmp_path: Path,
) -> None:
    day = date(2024, 3, 5)
    folder = tmp_path / "intraday" / "XYZ"
    folder.mkdir(parents=True)
    # UTC timestamps (valid ISO-8601, but not the New York offset the shared files use)
    (folder / f"{day}.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-03-05T14:30:00+00:00,10.004,10.1,9.9,10.05,1000\n"
        "2024-03-05T14:31:00+00:00,10.05,10.2,10.0,10.15,1200\n")
    source = on_grid(CsvBarSource(tmp_path))
    got = BarStore(source).session("XYZ", day)
    assert got.minute.tolist() == [0, 1]
    assert got.open.tolist() == [b.open for b in source.session_bars("XYZ", day)] == [10.0, 10.05]
