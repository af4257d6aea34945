"""The day trader's watchlist: load and validate it, then the pre-market analyst's filter.

Format of `day_trading_watchlist.json`:
    {"symbols": ["AAPL", "SPY"], "overrides": {"AAPL": {"profit_target": 0.02}}}
`overrides` is optional; each override is a `trade.models.Params` field. Any problem (bad JSON,
empty or duplicate symbols, a malformed ticker, an override for a symbol not in the list or of an
unknown parameter) is a `WatchlistError` with one line naming the field and the fix.

The analyst runs before the session: it qualifies every symbol and pulls recent history
concurrently (bounded, so IB's pacing holds), then keeps a symbol only if it has data, enough
liquidity and enough daily range to reach the profit target, and, for symbols whose ATR rule is
the daily volatility screen (`atr_timeframe="1 day"`, the default), a daily ATR(14)% above
`atr_min_pct`. The daily ATR is known before the open and fixed for the day: Wilder's ATR(14)
over the daily bars of the last year's completed sessions, divided by the previous close. Every
verdict carries a reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from trade.broker import Broker, BrokerError
from trade.calendar import MarketCalendar
from trade.indicators import atr as wilder_atr
from trade.models import Bar, Params
from trade.refusal import Refused

log = logging.getLogger(__name__)

_TICKER = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")


class WatchlistError(Refused, ValueError):
    """The watchlist file is unusable; the message is one line with the fix."""


@dataclass(frozen=True, slots=True)
class Watchlist:
    symbols: tuple[str, ...]
    params: dict[str, Params]  # every symbol's effective parameters (defaults + overrides)
    path: str = ""

    def params_for(self, symbol: str) -> Params:
        return self.params[symbol]


def load_watchlist(path: Path | str, defaults: Params) -> Watchlist:
    where = str(path)
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WatchlistError(f"watchlist {where} not found: create it or pass --watchlist PATH") from None
    except OSError as exc:
        raise WatchlistError(f"watchlist {where} cannot be read ({exc.strerror}): fix its permissions") from None
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise WatchlistError(
            f"watchlist {where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): "
            f'use {{"symbols": ["AAPL", ...]}}'
        ) from None
    if not isinstance(data, dict) or "symbols" not in data:
        raise WatchlistError(f'watchlist {where} needs a "symbols" list: use {{"symbols": ["AAPL", ...]}}')
    unknown_keys = set(data) - {"symbols", "overrides"}
    if unknown_keys:
        raise WatchlistError(
            f"watchlist {where} has unknown key(s) {sorted(unknown_keys)}: only \"symbols\" and \"overrides\" are allowed"
        )
    symbols = data["symbols"]
    if not isinstance(symbols, list) or not symbols:
        raise WatchlistError(f'watchlist {where}: "symbols" must be a non-empty list of tickers')
    seen: set[str] = set()
    for index, symbol in enumerate(symbols):
        if not isinstance(symbol, str) or not _TICKER.match(symbol):
            raise WatchlistError(
                f'watchlist {where}: symbols[{index}] = {symbol!r} is not a ticker: use upper-case symbols such as "AAPL"'
            )
        if symbol in seen:
            raise WatchlistError(f"watchlist {where}: {symbol} is listed twice: remove the duplicate")
        seen.add(symbol)
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise WatchlistError(f'watchlist {where}: "overrides" must be an object of symbol -> {{parameter: value}}')
    params: dict[str, Params] = {s: defaults for s in symbols}
    for symbol, values in overrides.items():
        if symbol not in seen:
            raise WatchlistError(
                f"watchlist {where}: overrides.{symbol} is not in symbols: add it to symbols or remove the override"
            )
        if not isinstance(values, dict):
            raise WatchlistError(f"watchlist {where}: overrides.{symbol} must be an object of parameter -> value")
        try:
            params[symbol] = defaults.with_overrides(values)
        except (TypeError, ValueError) as exc:
            raise WatchlistError(f"watchlist {where}: overrides.{symbol}: {exc}") from None
    return Watchlist(tuple(symbols), params, where)


@dataclass(frozen=True, slots=True)
class AnalystVerdict:
    symbol: str
    kept: bool
    reason: str
    stats: dict[str, float] = field(default_factory=dict)
    bars: tuple[Bar, ...] = ()  # the recent 1-minute history it judged (reused for warm-up)

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "kept": self.kept, "reason": self.reason, "stats": self.stats}


@dataclass(frozen=True, slots=True)
class AnalystRules:
    """Pre-market filters over the last few sessions of 1-minute bars (what IB serves for any
    stock, and what the simulator replays): enough data, enough liquidity, enough daily range
    for the profit target to be reachable."""

    min_sessions: int = 1
    min_avg_dollar_volume: float = 1_000_000.0
    min_daily_range_pct: float = 0.004
    history_duration: str = "5 D"
    daily_duration: str = "1 Y"  # the daily bars the ATR screen is computed over
    atr_period: int = 14
    concurrency: int = 5


def daily_atr_pct(daily_bars: Sequence[Bar], before: date, period: int = 14) -> tuple[float, int]:
    """(Wilder ATR(period) / previous close, sessions used) from the daily bars of sessions
    completed before `before` (a bar dated `before` or later, such as the partial bar a real
    Gateway includes during the session, is ignored). NaN when fewer than period + 1 bars."""
    bars = [b for b in daily_bars if b.start.date() < before]
    if len(bars) < period + 1:
        return math.nan, len(bars)
    frame = pd.DataFrame({"high": [b.high for b in bars], "low": [b.low for b in bars],
                          "close": [b.close for b in bars]})
    value = float(wilder_atr(frame["high"], frame["low"], frame["close"], period).iloc[-1])
    return value / bars[-1].close, len(bars)


def judge(symbol: str, minute_bars: list[Bar], rules: AnalystRules) -> AnalystVerdict:
    """Pure verdict from recent 1-minute bars, aggregated per session: data, liquidity, range."""
    sessions: dict[Any, list[Bar]] = {}
    for bar in minute_bars:
        sessions.setdefault(bar.start.date(), []).append(bar)
    bars = tuple(minute_bars)
    if len(sessions) < rules.min_sessions:
        return AnalystVerdict(
            symbol, False, f"dropped: {len(sessions)} recent sessions of data (< {rules.min_sessions})",
            bars=bars,
        )
    dollar_volumes, ranges = [], []
    for day_bars in sessions.values():
        close = day_bars[-1].close
        dollar_volumes.append(sum(b.close * b.volume for b in day_bars))
        if close > 0:
            ranges.append((max(b.high for b in day_bars) - min(b.low for b in day_bars)) / close)
    dollar_volume = sum(dollar_volumes) / len(dollar_volumes)
    avg_range = sum(ranges) / len(ranges) if ranges else 0.0
    stats = {"sessions": float(len(sessions)), "avg_dollar_volume": round(dollar_volume, 2),
             "avg_range_pct": round(avg_range, 5), "last_close": minute_bars[-1].close}
    if not math.isfinite(dollar_volume) or dollar_volume < rules.min_avg_dollar_volume:
        return AnalystVerdict(
            symbol, False,
            f"dropped: avg dollar volume {dollar_volume:,.0f} < {rules.min_avg_dollar_volume:,.0f}",
            stats, bars,
        )
    if avg_range < rules.min_daily_range_pct:
        return AnalystVerdict(
            symbol, False,
            f"dropped: avg daily range {avg_range:.2%} < {rules.min_daily_range_pct:.2%}", stats, bars,
        )
    return AnalystVerdict(
        symbol, True,
        f"kept: avg dollar volume {dollar_volume:,.0f}, avg daily range {avg_range:.2%}", stats, bars,
    )


def _fresh(verdict: AnalystVerdict, previous_session: date) -> AnalystVerdict:
    """A symbol whose latest bar predates the previous session has no current data (delisted,
    halted, or a replay without it today): it cannot trade and must not take a capital slice."""
    if not verdict.kept or not verdict.bars:
        return verdict
    last = verdict.bars[-1].start.date()
    if last >= previous_session:
        return verdict
    return dataclasses.replace(
        verdict, kept=False,
        reason=f"dropped: stale history (last bar {last}, the previous session was "
               f"{previous_session}): no current data",
    )


def screen_daily_atr(verdict: AnalystVerdict, daily_bars: Sequence[Bar], params: Params,
                     today: date, rules: AnalystRules) -> AnalystVerdict:
    """The daily volatility screen on a kept verdict: the day's ATR% goes into its stats; a
    symbol at or below `atr_min_pct` is dropped (it could not enter all day), saying so."""
    if not verdict.kept or params.atr_timeframe != "1 day":
        return verdict
    value, used = daily_atr_pct(daily_bars, today, rules.atr_period)
    stats = {**verdict.stats, "daily_atr_sessions": float(used)}
    if value != value:
        return dataclasses.replace(
            verdict, kept=False, stats=stats,
            reason=f"dropped: {used} completed daily sessions, the daily ATR({rules.atr_period}) "
                   f"screen needs {rules.atr_period + 1}",
        )
    stats["daily_atr_pct"] = round(value, 8)
    if not value > params.atr_min_pct:
        return dataclasses.replace(
            verdict, kept=False, stats=stats,
            reason=f"dropped: daily ATR {value:.2%} <= {params.atr_min_pct:.2%} (the volatility "
                   f"screen: no entry can pass today)",
        )
    return dataclasses.replace(verdict, stats=stats,
                               reason=f"{verdict.reason}, daily ATR {value:.2%}")


async def analyze_watchlist(
    broker: Broker, symbols: tuple[str, ...], rules: AnalystRules | None = None,
    params: Mapping[str, Params] | None = None,
) -> list[AnalystVerdict]:
    """Qualify every symbol (an unknown one is a `WatchlistError`: the user must fix the file),
    then fetch recent 1-minute history (and daily bars for the ATR screen) concurrently
    (bounded) and judge each. `params`: each symbol's parameters (default `Params()`)."""
    rules = rules or AnalystRules()
    params = params or {}
    today = broker.now().date()
    previous = MarketCalendar().previous_session(today).date
    known = await broker.qualify(symbols)
    unknown = [s for s in symbols if not known.get(s)]
    if unknown:
        raise WatchlistError(
            f"watchlist symbol(s) {', '.join(unknown)} unknown to the broker (no contract): "
            "fix the ticker or remove it from the watchlist"
        )
    gate = asyncio.Semaphore(rules.concurrency)

    async def one(symbol: str) -> AnalystVerdict:
        own = params.get(symbol, Params())
        async with gate:
            try:
                bars = await broker.history(symbol, rules.history_duration, "1 min")
            except BrokerError as exc:
                return AnalystVerdict(symbol, False, f"dropped: no history ({exc})")
        verdict = _fresh(judge(symbol, bars, rules), previous)
        if not verdict.kept or own.atr_timeframe != "1 day":
            return verdict
        async with gate:
            try:
                daily = await broker.history(symbol, rules.daily_duration, "1 day")
            except BrokerError as exc:
                return dataclasses.replace(verdict, kept=False,
                                           reason=f"dropped: no daily history for the ATR screen ({exc})")
        return screen_daily_atr(verdict, daily, own, today, rules)

    verdicts = await asyncio.gather(*(one(s) for s in symbols))
    for verdict in verdicts:
        log.info("watchlist %s: %s", verdict.symbol, verdict.reason)
    return list(verdicts)
