"""The weekly policy over the shared daily files, with the live decision code, from cash.

For every session from `first` to `last`: on a run day (an NYSE session whose weekday is one of
`run_days`; holidays are skipped, not moved, as the live scheduler does) the cycle's analysis
(`analysis.py`: the live screener and analyst, LLM off) and then the live manager
(`trade.portfolio.decision`: membership with hysteresis, weights, targets through the drift
band) against this account's book; its orders are the live ones (`orders_for`: sells first,
then buys scaled to the cash by `fit_to_cash` at the limit prices), filled at the session's open
by `fills.py`. Every session is marked at its close.

What the daily files cannot say, and how it is resolved (each stated in the result's notes):
- a symbol without a bar on the cycle's day (its file has not started or has ended) is not
  tradeable that day: the screen drops it ("no daily history"), and shares still held are sold
  at the last close the file has ("data ended"). The 80 names of the 2015-2020 group all end on
  2020-01-09, so the first cycle after it sells them;
- a cycle that fails before any order (nothing survives the screen) leaves the book as it is,
  as the live cycle does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from sim.backtest.weekly.account import BacktestAccount
from sim.backtest.weekly.analysis import DayAnalysis, analyse_days
from sim.backtest.weekly.data import SymbolBars, WeeklyDataError, load
from sim.backtest.weekly.fills import LOOKBACK, SlippageModel, fill
from sim.market.sessions import sessions_between
from trade.cli import WEEKDAYS
from trade.models import Bar, Side
from trade.portfolio.decision import Decision, decide, select
from trade.portfolio.manager import fit_to_cash, orders_for
from trade.portfolio.universe import PortfolioRules

BENCHMARK = "SPY"


@dataclass(frozen=True, slots=True)
class RunConfig:
    data_dir: Path
    first: date
    last: date
    run_days: tuple[str, ...] = ("Monday",)
    run_time: time = time(10, 0)
    equity: float = 100_000.0
    allocation: float = 1.0
    slippage: SlippageModel = field(default_factory=SlippageModel)
    workers: int = 1


@dataclass(slots=True)
class CycleRecord:
    """One rebalance: what was decided, what it cost, what the book looked like."""

    day: date
    status: str  # done | failed: <why>
    equity_before: float = 0.0
    budget: float = 0.0
    candidates: int = 0
    passed: int = 0
    holdable: int = 0
    members: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    traded_value: float = 0.0
    commission: float = 0.0
    slippage: float = 0.0
    expected: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    held_before: int = 0

    @property
    def turnover(self) -> float:
        return self.traded_value / self.budget if self.budget > 0 else 0.0


@dataclass(slots=True)
class WeeklyRun:
    config: RunConfig
    rules: PortfolioRules
    symbols: list[str]
    sessions: list[date]
    rebalance_days: list[date]
    marks: list[tuple[date, float]]  # equity at each session's close
    cycles: list[CycleRecord]
    account: BacktestAccount
    data: dict[str, SymbolBars]
    analyses: list[DayAnalysis]


def rebalance_days(sessions: Sequence[date], run_days: Sequence[str]) -> list[date]:
    return [d for d in sessions if WEEKDAYS[d.weekday()] in run_days]


def run(config: RunConfig, symbols: Sequence[str], rules: PortfolioRules) -> WeeklyRun:
    """The whole backtest; `WeeklyDataError` when the range or the data cannot be used."""
    sessions = sessions_between(config.first, config.last)
    days = rebalance_days(sessions, config.run_days)
    if not days:
        raise WeeklyDataError(f"no {'/'.join(config.run_days)} session between {config.first} "
                              f"and {config.last}: widen --from/--to or change --run-days")
    if not (config.data_dir / "daily" / f"{BENCHMARK}.csv").is_file():
        raise WeeklyDataError(f"--data {config.data_dir} has no daily/{BENCHMARK}.csv: the "
                              f"{BENCHMARK} buy-and-hold benchmark needs it; use the shared data "
                              "root")
    data = load(config.data_dir, list(dict.fromkeys([*symbols, BENCHMARK])))
    analyses = analyse_days(config.data_dir, data, list(symbols), rules, days,
                            config.run_time, config.workers)
    by_day = {a.day: a for a in analyses}
    account = BacktestAccount(config.equity)
    marks: list[tuple[date, float]] = []
    cycles: list[CycleRecord] = []
    for day in sessions:
        if day in by_day:
            cycles.append(_rebalance(account, data, by_day[day], rules, config))
        marks.append((day, account.value(_closes(data, account.positions, day))))
    return WeeklyRun(config, rules, list(symbols), sessions, days, marks, cycles, account, data,
                     analyses)


def _closes(data: dict[str, SymbolBars], held: dict[str, int], day: date) -> dict[str, float]:
    out = {}
    for symbol in held:
        bar = data[symbol].last_on_or_before(day)
        if bar is None:
            raise WeeklyDataError(f"{symbol} is held on {day} but has no bar by then")
        out[symbol] = bar.close
    return out


def _reference(series: SymbolBars, day: date) -> tuple[float, bool]:
    """(price, tradeable): the session's open, else the last close (the data has ended)."""
    bar = series.on(day)
    if bar is not None:
        return bar.open, True
    last = series.last_before(day)
    if last is None:
        raise WeeklyDataError(f"{series.symbol} has no bar before {day}")
    return last.close, False


def _rebalance(account: BacktestAccount, data: dict[str, SymbolBars], analysed: DayAnalysis,
               rules: PortfolioRules, config: RunConfig) -> CycleRecord:
    day = analysed.day
    held = dict(account.positions)
    quotes = {s: _reference(data[s], day) for s in held}
    equity = account.cash + sum(q * quotes[s][0] for s, q in held.items())
    record = CycleRecord(day, "done", equity, config.allocation * equity,
                         analysed.candidates, held_before=len(held))
    analysis = analysed.analysis
    if analysis is None:
        record.status = f"failed: {analysed.failed}"
        return record
    record.passed = sum(a.passed for a in analysis.assessments)
    record.holdable = sum(a.holdable for a in analysis.assessments)
    selection = select(analysis, held, rules)
    for symbol in selection.weights:
        quotes.setdefault(symbol, _reference(data[symbol], day))
    prices = {s: p for s, (p, _) in quotes.items()}
    decision = decide(selection, analysis, held, prices, record.budget, rules)
    record.members = list(selection.membership.members)
    record.added = list(selection.membership.added)
    record.dropped = list(selection.membership.dropped)
    record.expected = decision.expected.as_dict()
    _trade(account, data, decision, quotes, rules, config, record)
    return record


def _trade(account: BacktestAccount, data: dict[str, SymbolBars], decision: Decision,
           quotes: dict[str, tuple[float, bool]], rules: PortfolioRules, config: RunConfig,
           record: CycleRecord) -> None:
    """Sells, then buys within the cash, as the live cycle sends them."""
    day = record.day
    prices = {s: p for s, (p, _) in quotes.items()}
    goal = {t.symbol: t.qty for t in decision.targets}
    held = dict(account.positions)
    for order in orders_for(Side.SELL, decision.targets, held, {}, prices, rules, held):
        tradeable = quotes[order.symbol][1]
        slip = config.slippage.fraction(order.qty, _recent(data[order.symbol], day))
        if tradeable and slip > rules.max_slippage:
            record.notes.append(f"sell {order.qty} {order.symbol} not filled: slippage "
                                f"{slip:.2%} > the limit's {rules.max_slippage:.2%}")
            continue
        done = fill(Side.SELL, order.qty, order.ref_price, slip)
        reason = ("data ended" if not tradeable else
                  "exit" if goal.get(order.symbol, 0) == 0 else "trim")
        account.sell(day, order.symbol, order.qty, order.ref_price, done, reason)
        _count(record, order.qty * done.price, done.commission, done.slippage)
    buys = orders_for(Side.BUY, decision.targets, account.positions, {}, prices, rules)
    buys, note = fit_to_cash(buys, account.cash)
    if note:
        record.notes.append(note)
    for order in buys:
        if not quotes[order.symbol][1]:
            record.notes.append(f"buy {order.symbol} not sent: no bar on {day}")
            continue
        slip = config.slippage.fraction(order.qty, _recent(data[order.symbol], day))
        if slip > rules.max_slippage:
            record.notes.append(f"buy {order.qty} {order.symbol} not filled: slippage "
                                f"{slip:.2%} > the limit's {rules.max_slippage:.2%}")
            continue
        done = fill(Side.BUY, order.qty, order.ref_price, slip)
        account.buy(day, order.symbol, order.qty, order.ref_price, done)
        _count(record, order.qty * done.price, done.commission, done.slippage)


def _recent(series: SymbolBars, day: date) -> list[Bar]:
    return series.before(day, LOOKBACK)


def _count(record: CycleRecord, value: float, commission: float, slippage: float) -> None:
    record.traded_value += value
    record.commission += commission
    record.slippage += slippage
