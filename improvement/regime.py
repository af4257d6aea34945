"""The market regime at a close, from daily bars (SPY by default): one of `high_volatility`,
`low_volatility`, `trending_up`, `trending_down`, `ranging`, each with a human reason.

Only quantities known at the close of `as_of` are used (bars dated after it are ignored), so a
past classification never changes when later bars arrive. Each regime is one small rule (the
shape of the risk rules); the first that matches wins, in this order:

1. high_volatility: 20-session realised volatility (stdev of daily log returns, ddof=1, x sqrt
   252) >= 30%, or >= 20% and at or above the 90th percentile of its own last 252 sessions.
2. low_volatility: realised volatility <= 8%, or <= 12% and at or below the 10th percentile.
   Volatility comes first because it decides whether a 1.4% target and a 0.8% stop fit an
   intraday move at all. The absolute floors matter: a whole calm year (2017, about 7%) sits in
   the middle of its own one-year percentile range.
3. trending_up / trending_down: ADX(14) (Wilder) >= 25 with the close on that side of its
   200-session SMA and the matching directional index ahead (+DI > -DI for up); between 20 and
   25 the 200-session SMA's slope over 20 sessions must agree as well (a trend still forming).
4. ranging: everything else (ADX < 20, or direction signals that disagree).

Without enough contiguous history (273 sessions: 252 volatility readings of 20 returns) the
regime is `unknown`, with the reason; nothing regime-specific is then suggested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Protocol

from sim.market.history import session_to_daily
from sim.market.replay import BarSource
from sim.market.sessions import session_bounds
from trade.models import Bar

DEFAULT_SYMBOL = "SPY"
SMA_SESSIONS = 200
SLOPE_SESSIONS = 20
VOL_SESSIONS = 20
VOL_RANK_SESSIONS = 252
ADX_PERIOD = 14
LOOKBACK = 400  # sessions fed to the indicators (ADX's Wilder smoothing has converged by then)
NEEDED = VOL_RANK_SESSIONS + VOL_SESSIONS + 1
MAX_GAP_DAYS = 10  # calendar days between consecutive bars before the history counts as broken
MAX_STALE_DAYS = 7  # calendar days from the last bar to `as_of`

HIGH_VOL, HIGH_VOL_FLOOR, HIGH_VOL_RANK = 0.30, 0.20, 0.90
LOW_VOL, LOW_VOL_CEILING, LOW_VOL_RANK = 0.08, 0.12, 0.10
ADX_TREND, ADX_NO_TREND = 25.0, 20.0

REGIMES = ("high_volatility", "low_volatility", "trending_up", "trending_down", "ranging")


@dataclass(frozen=True, slots=True)
class MarketFeatures:
    as_of: date
    close: float
    sma200: float
    sma200_slope: float  # fractional change of the SMA over 20 sessions
    adx: float
    plus_di: float
    minus_di: float
    realised_vol: float  # annualised
    vol_rank: float  # fraction of the last 252 readings <= today's


@dataclass(frozen=True, slots=True)
class Regime:
    name: str  # one of REGIMES, or "unknown"
    reason: str
    as_of: date
    symbol: str = DEFAULT_SYMBOL
    features: MarketFeatures | None = None

    def as_dict(self) -> dict[str, Any]:
        feats = None
        if self.features is not None:
            feats = {k: (v.isoformat() if isinstance(v, date) else round(v, 6))
                     for k, v in asdict(self.features).items()}
        return {"name": self.name, "reason": self.reason, "as_of": self.as_of.isoformat(),
                "symbol": self.symbol, "features": feats}


class RegimeRule(Protocol):
    name: str

    def matches(self, f: MarketFeatures) -> str | None:
        """The reason when the market is in this regime, else None."""


class HighVolatility:
    name = "high_volatility"

    def matches(self, f: MarketFeatures) -> str | None:
        if f.realised_vol >= HIGH_VOL:
            return f"realised volatility {f.realised_vol:.1%} >= {HIGH_VOL:.0%}"
        if f.realised_vol >= HIGH_VOL_FLOOR and f.vol_rank >= HIGH_VOL_RANK:
            return (f"realised volatility {f.realised_vol:.1%} is in the top "
                    f"{1 - HIGH_VOL_RANK:.0%} of the last year (rank {f.vol_rank:.0%})")
        return None


class LowVolatility:
    name = "low_volatility"

    def matches(self, f: MarketFeatures) -> str | None:
        if f.realised_vol <= LOW_VOL:
            return f"realised volatility {f.realised_vol:.1%} <= {LOW_VOL:.0%}"
        if f.realised_vol <= LOW_VOL_CEILING and f.vol_rank <= LOW_VOL_RANK:
            return (f"realised volatility {f.realised_vol:.1%} is in the bottom "
                    f"{LOW_VOL_RANK:.0%} of the last year (rank {f.vol_rank:.0%})")
        return None


class _Trending:
    name = ""
    up = True

    def matches(self, f: MarketFeatures) -> str | None:
        side = 1 if self.up else -1
        above = (f.close - f.sma200) * side > 0
        di_ahead = (f.plus_di - f.minus_di) * side > 0
        slope_agrees = f.sma200_slope * side > 0
        where = "above" if self.up else "below"
        lead = (f"+DI {f.plus_di:.1f} > -DI {f.minus_di:.1f}" if self.up
                else f"-DI {f.minus_di:.1f} > +DI {f.plus_di:.1f}")
        base = (f"close {f.close:.2f} {where} its 200-session SMA {f.sma200:.2f}, {lead}")
        if f.adx >= ADX_TREND and above and di_ahead:
            return f"ADX {f.adx:.1f} >= {ADX_TREND:.0f}, {base}"
        if ADX_NO_TREND <= f.adx < ADX_TREND and above and di_ahead and slope_agrees:
            return (f"ADX {f.adx:.1f} between {ADX_NO_TREND:.0f} and {ADX_TREND:.0f}, {base}, "
                    f"SMA slope {f.sma200_slope:+.2%} over {SLOPE_SESSIONS} sessions")
        return None


class TrendingUp(_Trending):
    name = "trending_up"
    up = True


class TrendingDown(_Trending):
    name = "trending_down"
    up = False


class Ranging:
    name = "ranging"

    def matches(self, f: MarketFeatures) -> str | None:
        if f.adx < ADX_NO_TREND:
            return f"ADX {f.adx:.1f} < {ADX_NO_TREND:.0f}: no trend"
        return (f"ADX {f.adx:.1f} but direction signals disagree (close vs 200-session SMA "
                f"{f.close:.2f}/{f.sma200:.2f}, +DI {f.plus_di:.1f}, -DI {f.minus_di:.1f})")


RULES: tuple[RegimeRule, ...] = (HighVolatility(), LowVolatility(), TrendingUp(), TrendingDown(),
                                 Ranging())


def classify(bars: Sequence[Bar], as_of: date, symbol: str = DEFAULT_SYMBOL) -> Regime:
    """The regime at the close of `as_of` from daily `bars` (any order; later ones ignored)."""
    known = sorted((b for b in bars if b.start.date() <= as_of), key=lambda b: b.start)[-LOOKBACK:]
    problem = _history_problem(known, as_of)
    if problem:
        return Regime("unknown", problem, as_of, symbol)
    f = market_features(known)
    for rule in RULES:
        reason = rule.matches(f)
        if reason is not None:
            return Regime(rule.name, reason, as_of, symbol, f)
    raise AssertionError("Ranging matches everything")  # pragma: no cover


def _history_problem(bars: Sequence[Bar], as_of: date) -> str | None:
    if len(bars) < NEEDED:
        return f"needs {NEEDED} daily bars up to {as_of}, has {len(bars)}"
    last = bars[-1].start.date()
    if (as_of - last).days > MAX_STALE_DAYS:
        return f"daily history ends {last}, more than {MAX_STALE_DAYS} days before {as_of}"
    recent = bars[-NEEDED:]
    for before, after in zip(recent, recent[1:], strict=False):
        gap = (after.start.date() - before.start.date()).days
        if gap > MAX_GAP_DAYS:
            return (f"daily history has a gap from {before.start.date()} to "
                    f"{after.start.date()}: the indicators would span it")
    return None


def market_features(bars: Sequence[Bar]) -> MarketFeatures:
    """Indicator values at the last bar (needs at least `NEEDED` bars)."""
    closes = [b.close for b in bars]
    sma = sum(closes[-SMA_SESSIONS:]) / min(SMA_SESSIONS, len(closes))
    earlier = closes[-SMA_SESSIONS - SLOPE_SESSIONS:-SLOPE_SESSIONS]
    sma_before = sum(earlier) / len(earlier)
    adx, plus_di, minus_di = _adx(bars, ADX_PERIOD)
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    vols = [_stdev(returns[i - VOL_SESSIONS:i]) * math.sqrt(252)
            for i in range(len(returns) - VOL_RANK_SESSIONS + 1, len(returns) + 1)]
    today = vols[-1]
    return MarketFeatures(
        as_of=bars[-1].start.date(), close=closes[-1], sma200=sma,
        sma200_slope=sma / sma_before - 1.0, adx=adx, plus_di=plus_di, minus_di=minus_di,
        realised_vol=today, vol_rank=sum(v <= today for v in vols) / len(vols),
    )


def _stdev(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _adx(bars: Sequence[Bar], period: int) -> tuple[float, float, float]:
    """Wilder's ADX, +DI, -DI at the last bar (smoothing alpha = 1/period, seeded by the first
    values, as pandas' ewm(alpha=1/period, adjust=False))."""
    alpha = 1.0 / period
    tr_s: float | None = None  # None until the first bar pair seeds the smoothing
    adx: float | None = None
    plus_s = minus_s = 0.0
    plus_di = minus_di = 0.0
    for prev, bar in zip(bars, bars[1:], strict=False):
        tr = max(bar.high - bar.low, abs(bar.high - prev.close), abs(bar.low - prev.close))
        up, down = bar.high - prev.high, prev.low - bar.low
        plus_dm = up if up > down and up > 0 else 0.0
        minus_dm = down if down > up and down > 0 else 0.0
        if tr_s is None:
            tr_s, plus_s, minus_s = tr, plus_dm, minus_dm
        else:
            tr_s += alpha * (tr - tr_s)
            plus_s += alpha * (plus_dm - plus_s)
            minus_s += alpha * (minus_dm - minus_s)
        if tr_s <= 0:
            continue
        plus_di, minus_di = 100 * plus_s / tr_s, 100 * minus_s / tr_s
        total = plus_di + minus_di
        dx = 100 * abs(plus_di - minus_di) / total if total > 0 else 0.0
        adx = dx if adx is None else adx + alpha * (dx - adx)
    return adx or 0.0, plus_di, minus_di


def regime_bars(source: BarSource, symbol: str = DEFAULT_SYMBOL) -> list[Bar]:
    """`symbol`'s daily bars from `source`: its daily file, then sessions after the file's end
    aggregated from 1-minute bars (what IB's daily history holds for recent sessions)."""
    daily = list(source.daily_bars(symbol))
    last = daily[-1].start.date() if daily else date.min
    for day in source.sessions(symbol):
        if day > last:
            minutes = source.session_bars(symbol, day)
            if minutes:
                opened, closed = session_bounds(day)
                daily.append(session_to_daily(minutes, opened, closed))
    return sorted(daily, key=lambda b: b.start)

