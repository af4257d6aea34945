"""Which sessions a backtest replays: symbols x dates from a data root, or a seeded synthetic market.

`Market` names where bars come from in a form a worker process (or a Dask worker on another
machine) can rebuild: a data root in the shared format (`intraday/<SYM>/<date>.csv`, optional
`daily/<SYM>.csv`; the convention of `--sim-data`) or a seed for `SyntheticMarket` (every NYSE
session of the range, with minute history before it for the warm-up and a year of daily bars).
Either way the bars go through the tick grid once per process (`sim.market.grid.on_grid`), so
every session of a run shares one snapped, cached copy.

Each session is traded by the symbols that have bars that day, in the order given (the
subscription order, which decides which of two same-minute entries is sized first).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sim.backtest.config import BacktestInputError
from sim.market.bar_sources import CsvBarSource
from sim.market.grid import TickGridSource, on_grid
from sim.market.replay import BarSource
from sim.market.sessions import sessions_between
from trade.config import MARKET_DATA_FIX

_TICKER = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
_sources: dict[tuple[object, ...], TickGridSource] = {}


@dataclass(frozen=True, slots=True)
class Market:
    """A data root (`data`) or a synthetic market (`seed`); exactly one of them."""

    data: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.seed is None):
            raise BacktestInputError("give either --data DIR or --seed N (a synthetic market)")

    @property
    def label(self) -> str:
        return f"synthetic seed {self.seed}" if self.seed is not None else str(self.data)


@dataclass(frozen=True, slots=True)
class Sessions:
    market: Market
    symbols: tuple[str, ...]
    first: date
    last: date

    def source(self) -> TickGridSource:
        """This process's cached, grid-snapped source of the market."""
        key = ((self.market,) if self.market.data is not None
               else (self.market, self.symbols, self.first, self.last))
        source = _sources.get(key)
        if source is None:
            source = _sources[key] = on_grid(self._raw_source())
        return source

    def _raw_source(self) -> BarSource:
        if self.market.seed is not None:
            from sim.launch import synthetic_source  # the simulator's own synthetic days

            return synthetic_source(self.market.seed, self.calendar_days(), self.symbols)
        return CsvBarSource(Path(self.market.data or "."))

    def calendar_days(self) -> list[date]:
        return sessions_between(self.first, self.last)

    def days(self) -> list[date]:
        """The sessions of the range on which at least one symbol has bars."""
        if self.market.seed is not None:
            return self.calendar_days()
        source = self.source()
        found = {d for s in self.symbols for d in source.sessions(s)
                 if self.first <= d <= self.last}
        return sorted(found & set(self.calendar_days()))  # a file on a holiday is not a session


def resolve_sessions(market: Market, symbols: Sequence[str], first: date | None,
                     last: date | None) -> Sessions:
    """Validated sessions, or `BacktestInputError` naming the field and the fix."""
    if first is None or last is None:
        missing = "--from" if first is None else "--to"
        raise BacktestInputError(f"{missing} is missing: give the range as --from YYYY-MM-DD "
                                 "--to YYYY-MM-DD")
    if last < first:
        raise BacktestInputError(f"--to {last} is before --from {first}: swap them")
    if not symbols:
        raise BacktestInputError("--symbols is empty: name at least one symbol, e.g. --symbols SPY")
    clean: list[str] = []
    for symbol in symbols:
        upper = symbol.upper()
        if not _TICKER.match(upper):
            raise BacktestInputError(f"--symbols: {symbol!r} is not a ticker: use symbols such "
                                     "as SPY or BRK.B")
        if upper in clean:
            raise BacktestInputError(f"--symbols: {upper} is listed twice: remove the duplicate")
        clean.append(upper)
    if market.data is not None:
        root = Path(market.data)
        if not (root / "intraday").is_dir():
            raise BacktestInputError(f"--data {root}: no intraday/ directory there: use "
                                     f"{MARKET_DATA_FIX}")
        for symbol in clean:
            if not (root / "intraday" / symbol).is_dir():
                raise BacktestInputError(f"unknown symbol {symbol}: no {root}/intraday/{symbol}/ "
                                         "day files: fix the ticker or add its data")
    sessions = Sessions(market, tuple(clean), first, last)
    if not sessions.calendar_days():
        raise BacktestInputError(f"no NYSE session between {first} and {last}: the range is "
                                 "empty, pick trading days")
    if market.data is not None:
        source = sessions.source()
        for symbol in clean:
            if not any(first <= d <= last for d in source.sessions(symbol)):
                raise BacktestInputError(f"symbol {symbol} has no session between {first} and "
                                         f"{last} in {market.data}: pick dates present under "
                                         f"intraday/{symbol}/")
    return sessions
