"""The data aggregator: the universe file's symbols plus market data -> the candidate list.

Always from the broker (IB or the simulator): is the symbol a tradeable contract, and a year of
daily bars (the analyst's input, and liquidity/price/freshness here). With an FMP client also
Financial Modeling Prep: its company screener (market cap, actively trading) must list the
symbol, and its TTM key metrics travel with the candidate. Every symbol gets a verdict with a
reason; an FMP failure is an `FmpError` for the caller (the cycle stops before any order:
half-screened data must not pick a portfolio).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trade.broker import Broker, BrokerError
from trade.models import Bar
from trade.portfolio.fmp import FmpClient
from trade.portfolio.universe import PortfolioRules

log = logging.getLogger(__name__)

HISTORY_DURATION = "1 Y"
LIQUIDITY_DAYS = 20
STALE_AFTER_DAYS = 7  # calendar days since the last daily bar
CONCURRENCY = 5
# FMP key-metrics fields the analyst and the report use (None when FMP does not have them)
FUNDAMENTALS = ("earningsYieldTTM", "returnOnEquityTTM", "freeCashFlowYieldTTM",
                "netDebtToEBITDATTM", "marketCap")


class NoCandidates(Exception):
    """Nothing in the universe survived the screen; one line saying why."""


@dataclass(slots=True)
class Candidate:
    symbol: str
    bars: list[Bar]  # daily, oldest first, complete sessions only
    stats: dict[str, float] = field(default_factory=dict)
    fundamentals: dict[str, float | None] = field(default_factory=dict)

    @property
    def last_close(self) -> float:
        return self.bars[-1].close


@dataclass(frozen=True, slots=True)
class ScreenVerdict:
    symbol: str
    kept: bool
    reason: str
    stats: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "kept": self.kept, "reason": self.reason,
                "stats": self.stats}


@dataclass(slots=True)
class ScreenResult:
    source: str  # "ib" | "fmp+ib"
    candidates: list[Candidate]
    verdicts: list[ScreenVerdict]

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "verdicts": [v.as_dict() for v in self.verdicts]}


def judge(symbol: str, bars: Sequence[Bar], rules: PortfolioRules, today: date) -> ScreenVerdict:
    """Pure verdict over a symbol's daily bars: enough history, fresh, priced, liquid."""
    if len(bars) < rules.min_history_days:
        return ScreenVerdict(symbol, False, f"dropped: {len(bars)} daily bars (< "
                       f"{rules.min_history_days} needed for momentum and the Monte Carlo)")
    last = bars[-1]
    recent = bars[-LIQUIDITY_DAYS:]
    dollar_volume = sum(b.close * b.volume for b in recent) / len(recent)
    stats = {"daily_bars": float(len(bars)), "last_close": last.close,
             "avg_dollar_volume": round(dollar_volume, 2)}
    age = (today - last.start.date()).days
    if age > STALE_AFTER_DAYS:
        return ScreenVerdict(symbol, False, f"dropped: stale data, last daily bar "
                             f"{last.start.date()} ({age} days old)", stats)
    if last.close < rules.min_price:
        return ScreenVerdict(symbol, False, f"dropped: price {last.close:.2f} < "
                             f"{rules.min_price:.2f}", stats)
    if dollar_volume < rules.min_dollar_volume:
        return ScreenVerdict(symbol, False, f"dropped: {LIQUIDITY_DAYS}-day avg dollar volume "
                             f"{dollar_volume:,.0f} < {rules.min_dollar_volume:,.0f}", stats)
    return ScreenVerdict(symbol, True, f"kept: {len(bars)} daily bars, avg dollar volume "
                         f"{dollar_volume:,.0f}", stats)


async def screen(broker: Broker, symbols: Sequence[str], rules: PortfolioRules, today: date,
                 fmp: FmpClient | None = None) -> ScreenResult:
    """Candidates from the universe; raises `FmpError` (FMP failed) or `NoCandidates`."""
    verdicts: dict[str, ScreenVerdict] = {}
    known = await broker.qualify(list(symbols))
    alive = [s for s in symbols if known.get(s)]
    for symbol in symbols:
        if not known.get(symbol):
            verdicts[symbol] = ScreenVerdict(symbol, False, "dropped: unknown to the broker (no contract)")
    if fmp is not None:
        listed = {str(r.get("symbol", "")).upper() for r in
                  await fmp.screener(rules.fmp_min_market_cap)}
        for symbol in list(alive):
            if symbol not in listed:
                verdicts[symbol] = ScreenVerdict(symbol, False, "dropped: not in FMP's screener "
                                                 f"(market cap >= {rules.fmp_min_market_cap:,.0f}, "
                                                 "actively trading)")
                alive.remove(symbol)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def history(symbol: str) -> tuple[str, list[Bar] | str]:
        async with gate:
            try:
                return symbol, await broker.history(symbol, HISTORY_DURATION, "1 day")
            except BrokerError as exc:
                return symbol, str(exc)

    fetched = dict(await asyncio.gather(*(history(s) for s in alive)))
    candidates = judge_histories(fetched, rules, today, verdicts)
    if fmp is not None and candidates:
        async def metrics(symbol: str) -> tuple[str, dict[str, Any]]:
            async with gate:
                return symbol, await fmp.key_metrics_ttm(symbol)

        for symbol, found in await asyncio.gather(*(metrics(s) for s in candidates)):
            candidates[symbol].fundamentals = {k: _number(found.get(k)) for k in FUNDAMENTALS}
    return assemble("fmp+ib" if fmp is not None else "ib", symbols, verdicts, candidates)


def judge_histories(histories: Mapping[str, Sequence[Bar] | str], rules: PortfolioRules,
                    today: date, verdicts: dict[str, ScreenVerdict]) -> dict[str, Candidate]:
    """The kept candidates among `histories` (symbol -> daily bars, or why there are none);
    every symbol's verdict goes into `verdicts`. Pure: the weekly backtest calls it with the
    daily files' bars, the live screen with the broker's."""
    candidates: dict[str, Candidate] = {}
    for symbol, result in histories.items():
        if isinstance(result, str):
            verdicts[symbol] = ScreenVerdict(symbol, False, f"dropped: no daily history ({result})")
            continue
        # completed sessions only: during the session IB's daily history ends with today's
        # partial bar
        bars = sorted((b for b in result if b.start.date() < today), key=lambda b: b.start)
        verdict = judge(symbol, bars, rules, today)
        verdicts[symbol] = verdict
        if verdict.kept:
            candidates[symbol] = Candidate(symbol, bars, dict(verdict.stats))
    return candidates


def assemble(source: str, symbols: Sequence[str], verdicts: Mapping[str, ScreenVerdict],
             candidates: Mapping[str, Candidate]) -> ScreenResult:
    """The screen's result in the universe's order (the analyst's Monte Carlo rows follow it,
    so the same universe gives the same paths); raises `NoCandidates` when none was kept."""
    ordered = [verdicts[s] for s in symbols]
    for verdict in ordered:
        log.info("screener %s: %s", verdict.symbol, verdict.reason)
    if not candidates:
        reasons = "; ".join(f"{v.symbol} {v.reason.removeprefix('dropped: ')}" for v in ordered[:5])
        raise NoCandidates(f"no candidate survived the screen ({reasons}): check the universe "
                           "file's symbols and the data source")
    return ScreenResult(source, [candidates[s] for s in symbols if s in candidates], ordered)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
