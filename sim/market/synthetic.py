"""A seeded synthetic market: realistic-looking 1-minute sessions for tests and demos.

Why synthetic at all: the real data set has few contiguous days per symbol; a simulated day needs
any symbol on any session, with the shapes a VWAP-momentum bot reacts to:
- U-shaped intraday volume (heavy open and close, quiet lunch);
- volatility highest at the open, a smaller bump into the close;
- a regime per day (trend up, trend down, or mean-reverting range);
- occasional opening gaps between sessions;
- half days are shorter (session close from exchange_calendars XNYS).
The same seed gives identical bars (each symbol has its own `random.Random(f"{seed}:{symbol}")`).
Each real ticker's volatility is drawn from the real distribution of the shared data, day by day
(sim/market/volatility.py: SPY's daily ATR(14) has a median of 1.00% there, as in the data); a
made-up name keeps a constant daily sigma drawn uniformly from 1.2-3%.
Daily bars cover a year of sessions before the first day (for screeners and ATR warm-up), then one
daily bar per generated session, aggregated from its minutes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta

from sim.market import volatility
from sim.market.history import session_to_daily
from sim.market.sessions import previous_sessions, session_bounds
from trade.models import Bar

_HISTORY_SESSIONS = 252


class SyntheticMarket:
    """A `BarSource` of seeded synthetic sessions for `symbols` on `days`."""

    def __init__(
        self,
        seed: int,
        symbols: Sequence[str],
        days: Sequence[date],
        base_prices: dict[str, float] | None = None,
        universe: Collection[str] | None = None,
    ) -> None:
        """`universe`: the tickers this market knows (sim/market/tickers.py); a symbol outside
        it has no bars at all, as an unknown ticker has none at IB, and any ticker inside it has
        history on demand (generated as the replayed ones are). None: every symbol is known."""
        if not days:
            raise ValueError("days is empty: pass at least one session date to generate")
        self.seed = seed
        self._universe = None if universe is None else frozenset(u.upper() for u in universe)
        self._symbols = [s.upper() for s in symbols if self._knows(s.upper())]
        self._days = sorted(set(days))
        self._base = {k.upper(): float(v) for k, v in (base_prices or {}).items()}
        self._cache: dict[str, tuple[list[Bar], dict[date, list[Bar]]]] = {}

    def _knows(self, symbol: str) -> bool:
        return self._universe is None or symbol in self._universe

    def _serves(self, symbol: str) -> bool:
        return symbol in self._symbols or (self._universe is not None and symbol in self._universe)

    def symbols(self) -> list[str]:
        """The symbols with data: the requested ones, and with a universe every known ticker."""
        if self._universe is None:
            return list(self._symbols)
        return sorted(self._universe | set(self._symbols))

    def sessions(self, symbol: str) -> list[date]:
        return list(self._days) if self._serves(symbol.upper()) else []

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        if not self._serves(symbol.upper()):
            return []
        return list(self._generated(symbol.upper())[1].get(day, []))

    def daily_bars(self, symbol: str) -> list[Bar]:
        if not self._serves(symbol.upper()):
            return []
        return list(self._generated(symbol.upper())[0])

    def _generated(self, symbol: str) -> tuple[list[Bar], dict[date, list[Bar]]]:
        if symbol not in self._cache:
            self._cache[symbol] = self._generate(symbol)
        return self._cache[symbol]

    def _generate(self, symbol: str) -> tuple[list[Bar], dict[date, list[Bar]]]:
        rng = random.Random(f"{self.seed}:{symbol}")
        base = self._base.get(symbol) or round(rng.uniform(20.0, 300.0), 2)
        daily_vol = rng.uniform(0.012, 0.03)  # a made-up name's constant sigma (the old draw)
        base_volume = rng.uniform(2_000.0, 50_000.0)
        history = previous_sessions(self._days[0], _HISTORY_SESSIONS)
        sigmas = self._sigmas(symbol, daily_vol, len(history) + len(self._days))
        daily = self._daily_history(rng, symbol, base, sigmas[: len(history)], base_volume)
        intraday: dict[date, list[Bar]] = {}
        price = base
        for day, sigma in zip(self._days, sigmas[len(history):], strict=True):
            bars = _session(rng, symbol, day, price, sigma, base_volume)
            intraday[day] = bars
            price = bars[-1].close
            opened, closed = session_bounds(day)
            daily.append(session_to_daily(bars, opened, closed))
        return daily, intraday

    def _sigmas(self, symbol: str, constant: float, sessions: int) -> list[float]:
        """Each session's daily return sigma: a real ticker's path drawn from the real
        distribution (sim/market/volatility.py; its own seeded stream, so the price stream is
        consumed as before), a made-up name's constant."""
        vol_rng = random.Random(f"{self.seed}:{symbol}:volatility")
        profile = volatility.profile_for(symbol, vol_rng)
        if profile is None:
            return [constant] * sessions
        return volatility.sigma_path(profile, vol_rng, sessions)

    def _daily_history(
        self, rng: random.Random, symbol: str, base: float, sigmas: Sequence[float],
        base_volume: float
    ) -> list[Bar]:
        """A year of daily bars whose last close is `base`, so history joins the first session
        (`sigmas`: each day's daily return sigma)."""
        days = previous_sessions(self._days[0], _HISTORY_SESSIONS)
        if not days:
            return []
        returns = [rng.gauss(0.0003, vol) for vol in sigmas]
        gaps = [rng.gauss(0.0, 0.3 * vol) for vol in sigmas]
        total = sum(returns) + sum(gaps)
        price = base * math.exp(-total)
        out: list[Bar] = []
        for day, ret, gap, vol in zip(days, returns, gaps, sigmas, strict=True):
            opened, closed = session_bounds(day)
            o = price * math.exp(gap)
            c = o * math.exp(ret)
            h = max(o, c) * (1.0 + abs(rng.gauss(0.0, 0.5 * vol)))
            lo = min(o, c) * (1.0 - abs(rng.gauss(0.0, 0.5 * vol)))
            volume = base_volume * 390 * 2.2 * math.exp(rng.gauss(0.0, 0.25))
            bar = _round_bar(symbol, opened, o, h, lo, c, volume)
            out.append(
                Bar(bar.symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume,
                    seconds=int((closed - opened).total_seconds()))
            )
            price = c
        return out


def _round_bar(symbol: str, start: datetime, o: float, h: float, lo: float, c: float, v: float) -> Bar:
    o, c = round(o, 2), round(c, 2)
    h = max(round(h, 2), o, c)
    lo = min(round(lo, 2), o, c)
    return Bar(symbol=symbol, start=start, open=o, high=h, low=lo, close=c, volume=float(int(v)))


def _session(
    rng: random.Random, symbol: str, day: date, prev_close: float, vol: float, base_volume: float
) -> list[Bar]:
    """One session of minutes: gap, regime drift, U-shaped volume and volatility."""
    opened, closed = session_bounds(day)
    minutes = int((closed - opened).total_seconds() // 60)
    gap = rng.gauss(0.0, 2.0 * vol) if rng.random() < 0.15 else rng.gauss(0.0, 0.2 * vol)
    open_price = max(0.5, prev_close * math.exp(gap))
    regime = rng.choices(("up", "down", "range"), weights=(0.3, 0.3, 0.4))[0]
    trend = 0.8 * vol / minutes * (1 if regime == "up" else -1 if regime == "down" else 0)
    shapes = [
        1.0 + 1.5 * math.exp(-m / 15.0) + 0.4 * math.exp(-(minutes - 1 - m) / 20.0)
        for m in range(minutes)
    ]
    norm = math.sqrt(sum(s * s for s in shapes) / minutes)
    sigma_minute = vol / math.sqrt(390.0)
    bars: list[Bar] = []
    price = open_price
    for m in range(minutes):
        sigma = sigma_minute * shapes[m] / norm
        drift = trend
        if regime == "range":
            drift = -0.02 * math.log(price / open_price)
        o = price
        c = max(0.5, o * math.exp(drift + sigma * rng.gauss(0.0, 1.0)))
        h = max(o, c) * (1.0 + abs(rng.gauss(0.0, 1.0)) * sigma * 0.6)
        lo = min(o, c) * (1.0 - abs(rng.gauss(0.0, 1.0)) * sigma * 0.6)
        u_shape = 1.0 + 3.0 * math.exp(-m / 25.0) + 2.5 * math.exp(-(minutes - 1 - m) / 25.0)
        volume = base_volume * u_shape * math.exp(rng.gauss(0.0, 0.3))
        bar = _round_bar(symbol, opened + timedelta(minutes=m), o, h, lo, c, volume)
        bars.append(bar)
        price = bar.close
    return bars
