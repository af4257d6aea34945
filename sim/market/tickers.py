"""Which tickers the synthetic market knows: real US-listed stocks and ETFs, as IB knows them.

Why: a rehearsal must catch what the paper account would refuse. A synthetic market that invents
bars for any name would trade a watchlist typo (`XYZQ`) all day, where IB answers error 200 (no
security definition) and the bot stops with one line. So the synthetic market serves only
real tickers: those of the shipped list `us_tickers.txt` (well-known US stocks and ETFs, each
with its kind: `stock`, `etf` or `leveraged`) and, when a market data directory is set
(MARKET_DATA_DIR), every symbol it holds (some were real once and are no longer listed, e.g. FB, UTX). Anything else is unknown
to the simulator, which answers it as IB does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from trade.config import market_data_dir

TICKERS_FILE = Path(__file__).with_name("us_tickers.txt")
KINDS = ("stock", "etf", "leveraged")


@dataclass(frozen=True, slots=True)
class Listing:
    symbol: str
    kind: str  # stock, etf or leveraged (a leveraged or inverse ETF/ETN)
    name: str


@lru_cache(maxsize=1)
def shipped() -> dict[str, Listing]:
    """The shipped list, by symbol (`#` lines are comments)."""
    listings: dict[str, Listing] = {}
    for line in TICKERS_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        symbol, kind, name = line.split(maxsplit=2)
        if kind not in KINDS:
            raise ValueError(f"{TICKERS_FILE.name}: {symbol}: kind {kind!r}: use one of {KINDS}")
        listings[symbol] = Listing(symbol, kind, name)
    return listings


def data_symbols(data_dir: Path | None) -> frozenset[str]:
    """Every symbol the shared data holds (daily/<SYM>.csv, intraday/<SYM>/), none without it."""
    if data_dir is None:
        return frozenset()
    daily = data_dir / "daily"
    intraday = data_dir / "intraday"
    found = {p.stem.upper() for p in daily.glob("*.csv")} if daily.is_dir() else set()
    if intraday.is_dir():
        found |= {p.name.upper() for p in intraday.iterdir() if p.is_dir()}
    return frozenset(found)


def known_tickers(data_dir: Path | None = None) -> frozenset[str]:
    """The tickers a synthetic market serves: the shipped list and the market data's
    (`data_dir`, else the configured MARKET_DATA_DIR, if any)."""
    return frozenset(shipped()) | data_symbols(data_dir or market_data_dir())


def kind_of(symbol: str) -> str | None:
    """`stock`, `etf` or `leveraged` for a shipped ticker, None for any other."""
    listing = shipped().get(symbol.upper())
    return listing.kind if listing is not None else None
