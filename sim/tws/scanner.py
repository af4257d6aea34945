"""Market scanners over the replayed symbols: reqScannerParameters and reqScannerSubscription.

A real Gateway scans the whole market; the simulator scans the symbols it replays (the only ones
it has prices for), with three of IB's scan codes for US stocks: TOP_PERC_GAIN and
TOP_PERC_LOSE (change since the previous close, in percent) and MOST_ACTIVE (today's volume),
at the locations STK.US and STK.US.MAJOR, with IB's price and volume filters (abovePrice,
belowPrice, aboveVolume). reqScannerParameters returns the XML that describes exactly that, in
the shape of IB's own (TWS API "Market Scanners": ScanParameterResponse with InstrumentList,
LocationTree, ScanTypeList, FilterList). A scan code, instrument or location outside it is
refused with 321 naming what is served. Results go out at once and again every 30 replay
seconds while they change (IB refreshes a subscription about that often), at most 50 rows
(IB's limit); ib_async's reqScannerData takes the first answer and cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sim.market.day_stats import DayStats
from sim.tws.contracts import stock
from sim.tws.service_requests import ServiceRequest

MAX_ROWS = 50
LOCATIONS = ("STK.US", "STK.US.MAJOR")
SCAN_CODES = {
    "TOP_PERC_GAIN": "Top % Gainers",
    "TOP_PERC_LOSE": "Top % Losers",
    "MOST_ACTIVE": "Most Active",
}
FILTERS = (("priceAbove", "Price above"), ("priceBelow", "Price below"), ("volumeAbove", "Volume above"))


def parameters_xml() -> str:
    """The ScanParameterResponse of what this simulator scans (well-formed, IB's element names)."""
    filters = "".join(
        f"<RangeFilter><id>{fid}</id><category>Price/Volume</category><displayName>{name}</displayName>"
        f"<AbstractField><code>{fid}</code><displayName>{name}</displayName></AbstractField></RangeFilter>"
        for fid, name in FILTERS
    )
    scan_types = "".join(
        f"<ScanType><displayName>{name}</displayName><scanCode>{code}</scanCode><instruments>STK</instruments>"
        f"<absoluteColumns>false</absoluteColumns><MobileScanType><displayName>{name}</displayName>"
        f"</MobileScanType></ScanType>"
        for code, name in SCAN_CODES.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ScanParameterResponse>'
        '<InstrumentList varName="fullInstrumentList"><Instrument><name>US Stocks</name><type>STK</type>'
        f"<filters>{','.join(fid for fid, _ in FILTERS)}</filters><shortName>US</shortName></Instrument>"
        "</InstrumentList>"
        '<LocationTree varName="locationTree"><Location><displayName>US Stocks</displayName>'
        "<locationCode>STK.US</locationCode><instruments>STK</instruments><routeExchange>SMART</routeExchange>"
        "<LocationTree><Location><displayName>Listed/NASDAQ</displayName><locationCode>STK.US.MAJOR</locationCode>"
        "<instruments>STK</instruments><routeExchange>SMART</routeExchange></Location></LocationTree>"
        "</Location></LocationTree>"
        f'<ScanTypeList varName="scanTypeList">{scan_types}</ScanTypeList>'
        f'<FilterList varName="filterList">{filters}</FilterList>'
        "</ScanParameterResponse>"
    )


@dataclass(frozen=True, slots=True)
class Scan:
    """One scanner subscription's terms."""

    code: str
    rows: int
    above_price: float | None = None
    below_price: float | None = None
    above_volume: float | None = None


def parse(req: ServiceRequest) -> Scan | str:
    """The subscription's terms (fields of reqScannerSubscription, ib_async 2.1.0 `client.py`),
    or the 321 text refusing it."""
    rows = _number(req.arg(2))
    instrument, location, code = req.arg(3).upper(), req.arg(4).upper(), req.arg(5).upper()
    if instrument not in ("", "STK"):
        return f"Error validating request.-'bT' : cause - instrument {instrument!r}: the simulator scans STK only"
    if location and location not in LOCATIONS:
        return (f"Error validating request.-'bT' : cause - location {location!r}: the simulator scans "
                f"{', '.join(LOCATIONS)}")
    if code not in SCAN_CODES:
        return (f"Error validating request.-'bT' : cause - scan code {code!r}: the simulator scans "
                f"{', '.join(SCAN_CODES)}")
    count = MAX_ROWS if rows is None or rows <= 0 else min(int(rows), MAX_ROWS)
    return Scan(code, count, _number(req.arg(6)), _number(req.arg(7)), _number(req.arg(8)))


def _number(text: str) -> float | None:
    """A client's double or int; "" and IB's UNSET values (1.7976931348623157e308, 2**31-1) are unset."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if value >= 2**31 - 1 else value


def results(scan: Scan, stats: DayStats, now: datetime) -> list[str]:
    """The symbols the scan ranks, best first."""
    ranked: list[tuple[float, str]] = []
    replay = stats.replay
    for symbol in sorted(replay.known_symbols()):
        price = replay.price_at(symbol, now)
        running = stats.running(symbol, now)
        prior = stats.prior_bar(symbol)
        if price is None or running is None:
            continue
        if (scan.above_price is not None and price <= scan.above_price) or (
                scan.below_price is not None and price >= scan.below_price) or (
                scan.above_volume is not None and running.volume <= scan.above_volume):
            continue
        if scan.code == "MOST_ACTIVE":
            ranked.append((-running.volume, symbol))
        elif prior is not None and prior.close > 0:
            change = (price - prior.close) / prior.close
            if (scan.code == "TOP_PERC_GAIN" and change > 0) or (scan.code == "TOP_PERC_LOSE" and change < 0):
                ranked.append((-change if scan.code == "TOP_PERC_GAIN" else change, symbol))
    return [symbol for _, symbol in sorted(ranked)[: scan.rows]]


def refresh_key(symbols: list[str]) -> tuple[float, ...]:
    """What a refresh compares: the ranked conIds."""
    return tuple(float(stock(s).con_id) for s in symbols)
