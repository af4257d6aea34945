"""reqMktData as a real Gateway answers it for a US stock: the top of book, the day's marks and
the generic ticks asked for, streamed as the replay clock moves or sent once as a snapshot.

What IB documents (TWS API "Available Tick Types" and "Generic Tick Types"; the field layouts
follow ib_async 2.1.0's decoder and wrapper, which map each tick type onto a Ticker attribute):
- every request: tickReqParams (minTick), then bid (1), ask (2), last (4) with sizes, volume (8),
  the previous day's close (9), today's open (14; before the open, the previous day's), and the
  day's high (6) and low (7) once the session has traded (`sim/market/day_stats.py`);
- genericTickList: 165 adds the 13/26/52-week lows and highs (15-20) and the average volume
  (21); 233 RTVolume (48) "price;size;ms;total volume;VWAP;single trade flag"; 375 RTTrdVolume
  (77) in the same format; 236 shortable (46, 3.0 = at least 1000 shares to borrow: the paper
  account borrows without limit); 293 TradeCount (54), 294 TradeRate (55), 295 VolumeRate (56)
  per minute since the open, counting trades as the bars' barCount does (volume/100: the data
  holds no trade counts); 318 LastRTHTrade (57);
- "mdoff" in the list stops the top-of-book ticks (only the generic ones flow);
- a tick IB lists for stocks that the replay has no data for (dividends, fundamentals, option
  volume, ...) gets 10090 "Part of requested market data is not subscribed" naming them, and the
  rest streams; a tick IB does not list for stocks gets IB's 321 "Incorrect generic tick list"
  and nothing at all (IB refuses the whole request);
- a snapshot with generic ticks is IB's 321 "Snapshot market data subscription is not
  applicable to generic ticks" (ibapi's reqMktData docstring: no genericTickList with snapshots).
Ticks are sampled at most once per replay second, and a tick is only re-sent when its value
changed, as TWS itself throttles them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sim.market.day_stats import WEEK_RANGES, DayStats, Running
from sim.market.ticks import quote, tick_size, to_tick
from sim.tws import encoders as enc
from sim.tws import errors

TICK_INTERVAL = timedelta(seconds=1)
SPREAD_BPS = 1.0  # the quoted spread: about 1 bp, at least one tick
QUOTE_SIZE = 100.0
BID, ASK, LAST, HIGH, LOW, VOLUME, CLOSE, OPEN = 1, 2, 4, 6, 7, 8, 9, 14
AVG_VOLUME, SHORTABLE, RT_VOLUME, TRADE_COUNT, TRADE_RATE, VOLUME_RATE = 21, 46, 48, 54, 55, 56
LAST_RTH_TRADE, RT_TRD_VOLUME = 57, 77
SHORTABLE_EASY = 3.0  # IB: > 2.5 means at least 1000 shares are available to short

# The request ids IB accepts for a stock (its own 321 text lists them, e.g. in
# deephaven-examples/deephaven-ib#46), and the ones the simulator has data for.
LEGAL_FOR_STOCKS = (
    "100(Option Volume),101(Option Open Interest),105(Average Opt Volume),106(impvolat),"
    "165(Misc. Stats),221/220(Creditman Mark Price),225(Auction),232/221(Pl Price),233(RTVolume),"
    "236(inventory),258/47(Fundamentals),293(TradeCount),294(TradeRate),295(VolumeRate),"
    "318(LastRTHTrade),375(RTTrdVolume),411(rthistvol),456/59(IBDividends),"
    "460(Bond Factor Multiplier),576(EtfNavBidAsk(navbidask)),577(EtfNavLast(navlast)),"
    "578(EtfNavClose(navclose)),586(IPOHLMPRC),587(Pl Price Delayed),588(Futures Open Interest),"
    "595(Short-Term Volume X Mins),614(EtfNavMisc(high/low)),619(Creditman Slow Mark Price),"
    "623(EtfFrozenNavLast(fznavlast))"
)
LEGAL_IDS = frozenset(int(item.split("/")[0].split("(")[0]) for item in LEGAL_FOR_STOCKS.split("),"))
SIMULATED = frozenset({165, 233, 236, 293, 294, 295, 318, 375})


@dataclass(frozen=True, slots=True)
class GenericTicks:
    """A parsed genericTickList: what to stream, what has no data here, what IB would refuse."""

    wanted: frozenset[int] = frozenset()
    no_data: tuple[int, ...] = ()
    illegal: tuple[str, ...] = ()
    mdoff: bool = False


def parse_generic_ticks(text: str) -> GenericTicks:
    """"233,236", "mdoff,233", "292:BRFG+DJNL" (a news source after the colon) ..."""
    wanted: set[int] = set()
    no_data: list[int] = []
    illegal: list[str] = []
    mdoff = False
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.lower() == "mdoff":
            mdoff = True
            continue
        head = item.split(":")[0]
        number = int(head) if head.isdigit() else None
        if number is None or number not in LEGAL_IDS:
            illegal.append(item)
        elif number in SIMULATED:
            wanted.add(number)
        elif number not in no_data:
            no_data.append(number)
    return GenericTicks(frozenset(wanted), tuple(no_data), tuple(illegal), mdoff)


@dataclass(slots=True)
class QuoteStream:
    """One reqMktData subscription: what it asked for and what it was last sent."""

    req_id: int
    symbol: str
    ticks: GenericTicks
    sent: dict[tuple[int, int], float] = field(default_factory=dict)  # (msg id, tick type) -> value
    last_at: datetime | None = None
    rt_volume: float | None = None  # total volume at the last RTVolume tick


class QuoteDesk:
    """Answers reqMktData and streams the subscriptions (MarketFeeds hands both over)."""

    def __init__(self, replay: Any, now: Callable[[], datetime]) -> None:
        self.stats = DayStats(replay)
        self._now = now

    def set_replay(self, replay: Any) -> None:
        self.stats = DayStats(replay)

    @property
    def replay(self) -> Any:
        return self.stats.replay

    def subscribe(self, session: Any, req_id: int, symbol: str, generic: str, snapshot: bool) -> None:
        """Validate the generic ticks like IB, then the first ticks (and the end of a snapshot)."""
        sv = session.server_version
        ticks = parse_generic_ticks(generic)
        if ticks.illegal:
            session.send(enc.error(sv, req_id, errors.VALIDATION_ERROR,
                                   "Error validating request.-'bW' : cause - Incorrect generic tick list of "
                                   f"{','.join(ticks.illegal)}.  Legal ones for (STK) are: {LEGAL_FOR_STOCKS}"))
            return
        if snapshot and (ticks.wanted or ticks.no_data or ticks.mdoff):
            session.send(enc.error(sv, req_id, errors.VALIDATION_ERROR, "Error validating request.-'bO' : "
                                   "cause - Snapshot market data subscription is not applicable to generic ticks"))
            return
        price = self.replay.price_at(symbol, self._now())
        session.send(enc.tick_req_params(req_id, tick_size(price or 1.0), "", 3))
        session.send(enc.market_data_type(req_id, 1))
        if ticks.no_data:
            listed = ",".join(str(t) for t in ticks.no_data)
            session.send(enc.error(sv, req_id, errors.PART_NOT_SUBSCRIBED, errors.message(
                errors.PART_NOT_SUBSCRIBED, f" (generic ticks {listed}: the replay data has nothing for them)")))
        stream = QuoteStream(req_id, symbol.upper(), ticks)
        self.send(session, stream, self._now(), force=True)
        if snapshot:
            session.send(enc.tick_snapshot_end(req_id))
        else:
            session.subs.market_data[req_id] = stream

    def emit(self, session: Any, now: datetime) -> None:
        for stream in list(session.subs.market_data.values()):
            self.send(session, stream, now)

    def send(self, session: Any, stream: QuoteStream, now: datetime, force: bool = False) -> None:
        """The ticks whose value changed since they were last sent (all of them when forced)."""
        if not force and stream.last_at is not None and now - stream.last_at < TICK_INTERVAL:
            return
        raw = self.replay.price_at(stream.symbol, now)
        if raw is None:
            return
        stream.last_at = now
        running = self.stats.running(stream.symbol, now)
        for key, value in self._values(stream, to_tick(raw), running, now).items():
            if stream.sent.get(key) != value:
                stream.sent[key] = value
                session.send(_message(stream.req_id, key, value))
        if stream.ticks.wanted & {233, 375}:
            self._rt_volume(session, stream, to_tick(raw), running, now)

    def _values(self, stream: QuoteStream, last: float, running: Running | None,
                now: datetime) -> dict[tuple[int, int], float]:
        wanted = stream.ticks.wanted
        prior = self.stats.prior_bar(stream.symbol)
        out: dict[tuple[int, int], float] = {}
        if not stream.ticks.mdoff:
            bid, ask = quote(last, SPREAD_BPS)
            out[(1, BID)], out[(1, ASK)], out[(1, LAST)] = bid, ask, last
            out[(2, VOLUME)] = running.volume if running else 0.0
            if prior is not None:
                out[(1, CLOSE)] = prior.close
            if running is not None:
                out[(1, OPEN)], out[(1, HIGH)], out[(1, LOW)] = running.open, running.high, running.low
            elif prior is not None:
                out[(1, OPEN)] = prior.open  # IB: before the open, the previous day's
        if 165 in wanted:
            for weeks, (low, high) in self.stats.week_ranges(stream.symbol, running).items():
                _, low_type, high_type = next(r for r in WEEK_RANGES if r[0] == weeks)
                out[(1, low_type)], out[(1, high_type)] = low, high
            average = self.stats.average_volume(stream.symbol)
            if average is not None:
                out[(2, AVG_VOLUME)] = float(average)
        if 236 in wanted:
            out[(45, SHORTABLE)] = SHORTABLE_EASY
        if 318 in wanted:
            out[(1, LAST_RTH_TRADE)] = to_tick(self._last_rth(stream.symbol, now, last))
        minutes = self._minutes_open(now)
        if running is not None and minutes and wanted & {293, 294, 295}:
            count = float(int(running.volume // 100))
            if 293 in wanted:
                out[(45, TRADE_COUNT)] = count
            if 294 in wanted:
                out[(45, TRADE_RATE)] = round(count / minutes, 2)
            if 295 in wanted:
                out[(45, VOLUME_RATE)] = round(running.volume / minutes, 2)
        return out

    def _last_rth(self, symbol: str, now: datetime, last: float) -> float:
        """The last regular-hours trade: today's last print, else the previous day's close."""
        if now >= self.replay.session_open and self.replay.bars(symbol):
            return last
        prior = self.stats.prior_bar(symbol)
        return prior.close if prior is not None else last

    def _minutes_open(self, now: datetime) -> float:
        opened, closed = self.replay.session_open, self.replay.session_close
        return max(0.0, (min(now, closed) - opened).total_seconds() / 60)

    def _rt_volume(self, session: Any, stream: QuoteStream, last: float, running: Running | None,
                   now: datetime) -> None:
        """"price;size;ms;total volume;VWAP;single trade flag" on each new volume (the first
        one without a price: it reports the totals so far, not a trade)."""
        volume = running.volume if running else 0.0
        vwap = "" if running is None or running.vwap is None else f"{running.vwap}"
        ms = int(now.timestamp() * 1000)
        if stream.rt_volume is None:
            text = f";;{ms};{int(volume)};{vwap};false"
        elif volume > stream.rt_volume:
            text = f"{last};{int(volume - stream.rt_volume)};{ms};{int(volume)};{vwap};false"
        else:
            return
        stream.rt_volume = volume
        for tick_type, generic in ((RT_VOLUME, 233), (RT_TRD_VOLUME, 375)):
            if generic in stream.ticks.wanted:
                session.send(enc.tick_string(stream.req_id, tick_type, text))


def _message(req_id: int, key: tuple[int, int], value: float) -> list[object]:
    """(1, type): tickPrice; (2, type): tickSize; (45, type): tickGeneric."""
    msg_id, tick_type = key
    if msg_id == 1:
        size = QUOTE_SIZE if tick_type in (BID, ASK, LAST) else 0.0
        return enc.tick_price(req_id, tick_type, value, size)
    if msg_id == 2:
        return enc.tick_size(req_id, tick_type, value)
    return enc.tick_generic(req_id, tick_type, value)
