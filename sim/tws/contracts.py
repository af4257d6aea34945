"""Stock/ETF contract descriptions the simulator hands out (deterministic conIds, exchanges)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

ETFS = frozenset(
    {"SPY", "QQQ", "GLD", "SLV", "SHY", "SMH", "SOXL", "TZA", "VOO", "VXXB", "XLF", "XLK", "XLP", "XLV"}
)
NASDAQ = frozenset(
    {"AAPL", "AMZN", "GOOG", "META", "MSFT", "MU", "NFLX", "NVDA", "NWSA", "SBUX", "TSLA", "COIN",
     "AFRM", "DKNG", "IONQ", "LCID", "MELI", "MRNA", "QQQ", "AMD"}
)


# symbol -> (long name, industry, category, subcategory) as IB reports them for US listings
PROFILES: dict[str, tuple[str, str, str, str]] = {
    "AAPL": ("APPLE INC", "Technology", "Computers", "Computers"),
    "AFRM": ("AFFIRM HOLDINGS INC", "Financial", "Diversified Finan Serv", "Finance-Consumer Loans"),
    "AIG": ("AMERICAN INTERNATIONAL GROUP", "Financial", "Insurance", "Multi-line Insurance"),
    "AMD": ("ADVANCED MICRO DEVICES", "Technology", "Semiconductors", "Electronic Compo-Semicon"),
    "AMT": ("AMERICAN TOWER CORP", "Financial", "REITS", "REITS-Diversified"),
    "AMZN": ("AMAZON.COM INC", "Communications", "Internet", "E-Commerce/Products"),
    "BAC": ("BANK OF AMERICA CORP", "Financial", "Banks", "Diversified Banking Inst"),
    "BK": ("BANK OF NEW YORK MELLON CORP", "Financial", "Banks", "Fiduciary Banks"),
    "COIN": ("COINBASE GLOBAL INC -CLASS A", "Financial", "Diversified Finan Serv", "Finance-Other Services"),
    "DFS": ("DISCOVER FINANCIAL SERVICES", "Financial", "Diversified Finan Serv", "Finance-Credit Card"),
    "DKNG": ("DRAFTKINGS INC", "Consumer, Cyclical", "Entertainment", "Gambling (Non-Hotel)"),
    "GOOG": ("ALPHABET INC-CL C", "Communications", "Internet", "Web Portals/ISP"),
    "IBM": ("INTL BUSINESS MACHINES CORP", "Technology", "Computers", "Computer Services"),
    "IONQ": ("IONQ INC", "Technology", "Computers", "Computers"),
    "JPM": ("JPMORGAN CHASE & CO", "Financial", "Banks", "Diversified Banking Inst"),
    "LCID": ("LUCID GROUP INC", "Consumer, Cyclical", "Auto Manufacturers", "Auto-Cars/Light Trucks"),
    "MELI": ("MERCADOLIBRE INC", "Communications", "Internet", "E-Commerce/Services"),
    "META": ("META PLATFORMS INC-CLASS A", "Communications", "Internet", "Internet Content-Entmnt"),
    "MRNA": ("MODERNA INC", "Consumer, Non-cyclical", "Biotechnology", "Medical-Biomedical/Gene"),
    "MSFT": ("MICROSOFT CORP", "Technology", "Software", "Applications Software"),
    "MU": ("MICRON TECHNOLOGY INC", "Technology", "Semiconductors", "Electronic Compo-Semicon"),
    "NFLX": ("NETFLIX INC", "Communications", "Internet", "Internet Content-Entmnt"),
    "NKE": ("NIKE INC -CL B", "Consumer, Cyclical", "Apparel", "Athletic Footwear"),
    "NVDA": ("NVIDIA CORP", "Technology", "Semiconductors", "Electronic Compo-Semicon"),
    "NWSA": ("NEWS CORP - CLASS A", "Communications", "Media", "Multimedia"),
    "ORCL": ("ORACLE CORP", "Technology", "Software", "Enterprise Software/Serv"),
    "RTX": ("RTX CORP", "Industrial", "Aerospace/Defense", "Aerospace/Defense-Equip"),
    "SBUX": ("STARBUCKS CORP", "Consumer, Cyclical", "Retail", "Retail-Restaurants"),
    "SNOW": ("SNOWFLAKE INC-CLASS A", "Technology", "Software", "Applications Software"),
    "TRV": ("TRAVELERS COS INC/THE", "Financial", "Insurance", "Property/Casualty Ins"),
    "TSLA": ("TESLA INC", "Consumer, Cyclical", "Auto Manufacturers", "Auto-Cars/Light Trucks"),
    "TWX": ("TIME WARNER INC", "Communications", "Media", "Multimedia"),
    "V": ("VISA INC-CLASS A SHARES", "Financial", "Diversified Finan Serv", "Finance-Credit Card"),
    "GLD": ("SPDR GOLD SHARES", "", "", ""),
    "QQQ": ("INVESCO QQQ TRUST SERIES 1", "", "", ""),
    "SHY": ("ISHARES 1-3 YEAR TREASURY BOND", "", "", ""),
    "SLV": ("ISHARES SILVER TRUST", "", "", ""),
    "SMH": ("VANECK SEMICONDUCTOR ETF", "", "", ""),
    "SOXL": ("DIREXION DAILY SEMICOND BULL 3X", "", "", ""),
    "SPY": ("SPDR S&P 500 ETF TRUST", "", "", ""),
    "TZA": ("DIREXION DAILY SMALL CAP BEAR 3X", "", "", ""),
    "VOO": ("VANGUARD S&P 500 ETF", "", "", ""),
    "VXXB": ("IPATH SERIES B S&P 500 VIX SHORT-TERM FUTURES ETN", "", "", ""),
    "XLF": ("FINANCIAL SELECT SECTOR SPDR", "", "", ""),
    "XLK": ("TECHNOLOGY SELECT SECT SPDR", "", "", ""),
    "XLP": ("CONSUMER STAPLES SPDR", "", "", ""),
    "XLV": ("HEALTH CARE SELECT SECTOR", "", "", ""),
}


# The venues IB lists in validExchanges for a US stock (ContractDetails of AAPL, TSLA and others as
# IB returns them since 2023; IB's overnight venues OVERNIGHT and IBEOS are left out because the
# simulator has no overnight session). Every one takes the US stock market rule (26).
US_VENUES = (
    "SMART", "AMEX", "NYSE", "CBOE", "PHLX", "ISE", "CHX", "ARCA", "ISLAND", "DRCTEDGE", "BEX", "BATS",
    "EDGEA", "JEFFALGO", "BYX", "IEX", "EDGX", "FOXRIVER", "PEARL", "NYSENAT", "LTSE", "MEMX", "PSX",
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
        return PROFILES.get(self.symbol, (self.symbol, "", "", ""))[0]

    @property
    def valid_exchanges(self) -> str:
        venues = list(US_VENUES)
        if self.primary_exchange not in venues and self.primary_exchange != "NASDAQ":
            venues.append(self.primary_exchange)  # NASDAQ listings trade there as ISLAND
        return ",".join(venues)

    @property
    def industry(self) -> tuple[str, str, str]:
        """(industry, category, subcategory); empty for funds and unknown symbols."""
        _, industry, category, subcategory = PROFILES.get(self.symbol, ("", "", "", ""))
        return industry, category, subcategory


def stock(symbol: str) -> StockContract:
    """The contract for `symbol`; conId is a CRC so it is the same in every run and process."""
    sym = symbol.upper()
    is_etf = sym in ETFS
    primary = "NASDAQ" if sym in NASDAQ else ("ARCA" if is_etf else "NYSE")
    con_id = 100_000 + zlib.crc32(sym.encode()) % 900_000_000
    return StockContract(sym, con_id, primary, is_etf)
