"""Stock/ETF contract descriptions the simulator hands out (deterministic conIds, exchanges)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

ETFS = frozenset(
    {"SPY", "QQQ", "GLD", "SLV", "SHY", "SMH", "SOXL", "TZA", "VOO", "VXXB", "XLF", "XLK", "XLP", "XLV"}
)
NASDAQ = frozenset(
    {"AAPL", "AMZN", "GOOG", "META", "MSFT", "MU", "NFLX", "NVDA", "NWSA", "SBUX", "TSLA", "COIN",
     "AFRM", "DKNG", "IONQ", "LCID", "MELI", "MRNA", "QQQ"}
)


@dataclass(frozen=True, slots=True)
class StockContract:
    """What IB reports for a US stock: SMART-routed, USD, with a stable conId."""

    symbol: str
    con_id: int
    primary_exchange: str
    is_etf: bool

    @property
    def long_name(self) -> str:
        return f"{self.symbol} {'ETF' if self.is_etf else 'INC'}"


def stock(symbol: str) -> StockContract:
    """The contract for `symbol`; conId is a CRC so it is the same in every run and process."""
    sym = symbol.upper()
    is_etf = sym in ETFS
    primary = "NASDAQ" if sym in NASDAQ else ("ARCA" if is_etf else "NYSE")
    con_id = 100_000 + zlib.crc32(sym.encode()) % 900_000_000
    return StockContract(sym, con_id, primary, is_etf)
