"""The markets `python -m improvement.calibration` runs the nightly cycle on, where the truth is
known: the simulator's seeded synthetic market (sim/market/synthetic.py) as the null market, and
the same market with a planted edge.

Null market: the generator as it is (U-shaped volume and volatility, trend and range days,
opening gaps). No change the cycle can make helps by anything close to the edge we want to find;
the true effects, measured over 2,000+ sessions, are listed in docs/improvement.md (the largest
is a wider stop's +0.01 to +0.02% per trade: stop orders pay the gap and the slippage a limit
target does not, so fewer stop exits save a little). Every change the cycle makes there counts
as a false change, even that one: the claim is conservative.

Planted edge: one-minute wicks, a price spike inside one bar that is gone by the bar's close
(a thin book swept by one order), added to the generator's bars with a seeded RNG:
- `stop`: down-wicks, the bar's low pushed to min(open, close) x (1 - w), w uniform in
  [0.80%, 0.97%), 1.7% of symbol-minutes: they reach a 0.8% stop placed near the price but not
  a 1.0% one, so the stop "sits inside the noise" and stop_loss 0.008 -> 0.01 (the rule's and
  the search's x 1.25) helps;
- `target`: up-wicks, the bar's high pushed to max(open, close) x (1 + w), w uniform in
  [1.12%, 1.38%), 0.8% of symbol-minutes: they fill a 1.12% take-profit but not a 1.4% one
  placed near the price, so profit_target 0.014 -> 0.0112 (x 0.8) helps.
Closes (and so every indicator, entry and the flatten) are untouched; only which exits fill
changes. `RATES` are the wick rates per symbol-minute that make the planted change worth
+0.10% per trade on average (measured by `python -m improvement.calibration --effects`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sim.market.grid import TickGridSource
from sim.market.history import session_to_daily
from sim.market.sessions import session_bounds
from sim.market.synthetic import SyntheticMarket
from sim.market.ticks import to_tick
from trade.models import Bar

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
OVERRIDES = {s: {"atr_min_pct": 0.0} for s in SYMBOLS}  # every symbol trades every session
ALLOCATION = 0.5
EQUITY = 100_000.0


@dataclass(frozen=True, slots=True)
class Planted:
    kind: str  # stop | target
    parameter: str
    old: float
    new: float
    low: float  # wick depth range
    high: float
    rate: float  # wicks per symbol-minute


PLANTED = {
    "stop": Planted("stop", "stop_loss", 0.008, 0.01, 0.0080, 0.0097, 0.017),
    "target": Planted("target", "profit_target", 0.014, 0.0112, 0.0112, 0.0138, 0.008),
}
KINDS = tuple(PLANTED)


def planted_change(kind: str) -> tuple[str, float]:
    p = PLANTED[kind]
    return p.parameter, p.new


class WickMarket(TickGridSource):
    """A `BarSource` on the tick grid: `base` (the generator's market, snapped once and shared
    by a seed's null and planted runs) with the planted wicks of `planted` (None: unchanged).
    Being a `TickGridSource`, the replayers use it as it is instead of snapping it again."""

    def __init__(self, base: TickGridSource, planted: Planted | None) -> None:
        super().__init__(base)
        self.base = base
        self.planted = planted

    @property
    def seed(self) -> int:
        return int(getattr(self.base.inner, "seed", 0))

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        if self.planted is None:
            return self.base.session_bars(symbol, day)
        key = (symbol.upper(), day)
        if key not in self._sessions:
            self._sessions[key] = self._wicked(symbol.upper(), day, self.planted)
        return list(self._sessions[key])

    def daily_bars(self, symbol: str) -> list[Bar]:
        """The base's daily history, its generated sessions re-aggregated with the wicks."""
        if self.planted is None:
            return self.base.daily_bars(symbol)
        symbol = symbol.upper()
        if symbol not in self._daily:
            sessions = self.sessions(symbol)
            daily = self.base.daily_bars(symbol)
            history = daily[:len(daily) - len(sessions)]
            for day in sessions:
                opened, closed = session_bounds(day)
                history.append(session_to_daily(self.session_bars(symbol, day), opened, closed))
            self._daily[symbol] = history
        return list(self._daily[symbol])

    def _wicked(self, symbol: str, day: date, p: Planted) -> list[Bar]:
        rng = random.Random(f"{self.seed}:{symbol}:{day.isoformat()}:{p.kind}")
        out = []
        for bar in self.base.session_bars(symbol, day):
            if rng.random() < p.rate:
                w = rng.uniform(p.low, p.high)
                if p.kind == "stop":
                    low = to_tick(min(bar.open, bar.close) * (1.0 - w))
                    bar = Bar(bar.symbol, bar.start, bar.open, bar.high, min(bar.low, low),
                              bar.close, bar.volume, bar.seconds)
                else:
                    high = to_tick(max(bar.open, bar.close) * (1.0 + w))
                    bar = Bar(bar.symbol, bar.start, bar.open, max(bar.high, high), bar.low,
                              bar.close, bar.volume, bar.seconds)
            out.append(bar)
        return out


class _WholeCents(TickGridSource):
    """The generator's market as it is: it rounds every price to whole cents (`_round_bar`),
    which is on IB's grid at every price ($0.01 above $1, $0.0001 below), so snapping would
    only spend time (tests/improvement/test_calibration.py checks it changes nothing)."""

    def session_bars(self, symbol: str, day: date) -> list[Bar]:
        key = (symbol.upper(), day)
        if key not in self._sessions:
            self._sessions[key] = self.inner.session_bars(symbol, day)
        return list(self._sessions[key])

    def daily_bars(self, symbol: str) -> list[Bar]:
        key = symbol.upper()
        if key not in self._daily:
            self._daily[key] = self.inner.daily_bars(symbol)
        return list(self._daily[key])


def base_market(seed: int, days: Sequence[date]) -> TickGridSource:
    """The generator's market of `seed`, already on the tick grid (cached per session)."""
    return _WholeCents(SyntheticMarket(seed, SYMBOLS, days))


def market(seed: int, days: Sequence[date], kind: str | None,
           base: TickGridSource | None = None) -> WickMarket:
    """The null market of `seed` (kind None) or its planted twin (sharing `base` if given)."""
    return WickMarket(base or base_market(seed, days),
                      PLANTED[kind] if kind is not None else None)
