"""Every price the simulator sends or fills at is on the tick grid ($0.01 at or above $1, $0.0001
below), over whole replayed sessions: the TWS path (captured at the client's decoder, so it is
what really went over the wire) and `PaperBroker` (fills and delivered bars).

The shared data has 4-decimal prices (SPY's 2019-02-13 open is 275.0367), and the intra-bar path
between vertices is continuous: both must be snapped before anyone sees them.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock, StopOrder

from sim.engine.exchange import MatchingEngine
from sim.market.bar_sources import CsvBarSource
from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import NY
from sim.market.synthetic import SyntheticMarket
from sim.paper_broker import PaperBroker
from tests.paths import DATA
from tests.sim.tws.clients import qualified, settle, tap
from trade.models import Bar, Fill, Side
from trade.ticks import on_tick, to_tick


def prices_in(fields: list[str]) -> list[float]:
    """The price fields of one server message, by message id (see the TWS protocol notes)."""
    mid = fields[0]
    if mid == "1":  # tickPrice
        return [float(fields[4])]
    if mid == "50":  # realtimeBar o h l c
        return [float(x) for x in fields[4:8]]
    if mid == "90":  # historicalDataUpdate o c h l
        return [float(x) for x in fields[4:8]]
    if mid == "17":  # historicalData: per bar date o h l c volume wap count
        n = int(fields[4])
        return [float(fields[5 + 8 * k + j]) for k in range(n) for j in (1, 2, 3, 4)]
    if mid == "11":  # execDetails price
        return [float(fields[20])]
    if mid == "3":  # orderStatus lastFillPrice
        return [float(fields[8])]
    return []


async def test_every_price_on_the_wire_is_on_the_grid_over_a_whole_session(gateway) -> None:
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=2)
    frames = tap(ib)
    try:
        spy, qqq = await qualified(ib, Stock("SPY", "SMART", "USD"), Stock("QQQ", "SMART", "USD"))
        ib.reqRealTimeBars(spy, 5, "TRADES", True)
        ib.reqRealTimeBars(qqq, 5, "TRADES", True)
        ib.reqMktData(spy)
        await ib.reqHistoricalDataAsync(spy, "", "1 D", "1 min", "TRADES", True, keepUpToDate=True)
        await ib.reqHistoricalDataAsync(qqq, "", "2 D", "5 mins", "TRADES", True, keepUpToDate=True)
        await ib.reqHistoricalDataAsync(spy, "", "1 M", "1 day", "TRADES", True)
        for minute in range(0, 390, 13):
            price = to_tick(gateway.replay.price_at("SPY", gateway.now()))
            ib.placeOrder(spy, MarketOrder("BUY" if minute % 2 else "SELL", 3))
            ib.placeOrder(qqq, LimitOrder("BUY", 2, to_tick(gateway.replay.price_at("QQQ", gateway.now()) * 0.9995)))
            ib.placeOrder(spy, StopOrder("SELL", 1, round(price - 0.05, 2)))
            await settle()
            gateway.step(13 * 60)
            await settle()
    finally:
        ib.disconnect()
    seen = [(fields[0], p) for fields in frames for p in prices_in(fields)]
    kinds = {kind for kind, _ in seen}
    assert {"1", "50", "90", "17", "11", "3"} <= kinds, kinds
    off = [(kind, p) for kind, p in seen if not on_tick(p)]
    assert len(seen) > 10_000 and off == [], off[:10]


@pytest.mark.parametrize("source", ["csv", "synthetic"])
async def test_paper_broker_fills_and_bars_are_on_the_grid_over_a_whole_session(source) -> None:
    day = date(2019, 2, 13)
    bars_from: BarSource
    if source == "csv":
        bars_from, symbols = CsvBarSource(DATA, ["SPY", "MSFT"]), ["SPY", "MSFT"]
    else:
        symbols = ["LOW", "MID"]  # one symbol near $1, where the grid changes
        bars_from = SyntheticMarket(5, symbols, [day], base_prices={"LOW": 0.9, "MID": 48.0})
    clock = ReplayClock(datetime(2019, 2, 13, 9, 30, tzinfo=NY))
    engine = MatchingEngine(MarketReplay(bars_from, clock, day, symbols), slippage_bps=2.5)
    broker = PaperBroker(engine)
    fills: list[Fill] = []
    bars: list[Bar] = []
    broker.add_fill_handler(fills.append)
    for symbol in symbols:
        await broker.subscribe_bars(symbol, bars.append)
    for minute in range(1, 385, 7):
        await broker.step_to(datetime(2019, 2, 13, 9, 30, tzinfo=NY).replace(hour=9 + (30 + minute) // 60,
                                                                           minute=(30 + minute) % 60))
        for symbol in symbols:
            last = broker.last_price(symbol)
            await broker.place_market(symbol, Side.BUY if minute % 2 else Side.SELL, 5, f"T-{minute}-{symbol}")
            if last:
                await broker.place_bracket(symbol, 5, to_tick(last * 1.0003), to_tick(last * 1.002),
                                           to_tick(last * 0.998), f"B-{minute}-{symbol}")
    await broker.run_session()
    prices = [f.price for f in fills] + [p for b in bars for p in (b.open, b.high, b.low, b.close)]
    assert len(fills) > 100 and len(bars) == 390 * len(symbols)
    assert [p for p in prices if not on_tick(p)] == []
