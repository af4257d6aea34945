"""What the weekly policy is measured against, marked at the same session closes.

- SPY buy-and-hold: all the starting equity in whole SPY shares at the first cycle's open (the
  same slippage model and IB commission as the policy), then nothing; the rest stays cash.
- The equal-weight universe: every universe name that trades that day, at equal weight, reset at
  each cycle's open and left to drift in between; frictionless (no commission, no slippage):
  what the universe itself did, not a policy anyone traded. A name whose data ends is sold at its
  last close; a name whose data starts joins at the next cycle.
Both start on the first cycle's day, as the policy does, and, like it, see prices only: the daily
files are not adjusted for dividends, so all three lines leave out ~2% a year of SPY's yield.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sim.backtest.weekly.data import SymbolBars
from sim.backtest.weekly.fills import LOOKBACK, SlippageModel, fill
from trade.models import Side


@dataclass(slots=True)
class Line:
    marks: list[tuple[date, float]]  # value at each session's close
    commissions: float = 0.0
    turnovers: list[float] = field(default_factory=list)  # two-sided, per reset after the first


def buy_and_hold(series: SymbolBars, sessions: Sequence[date], start: date, equity: float,
                 slippage: SlippageModel) -> Line:
    cash, shares, bought = equity, 0, False
    line = Line([])
    for day in sessions:
        bar = series.on(day)
        if not bought and day >= start and bar is not None and bar.open > 0:
            bought = True
            slip = slippage.fraction(int(equity // bar.open), series.before(day, LOOKBACK))
            shares = int(equity // (bar.open * (1.0 + slip)))
            done = fill(Side.BUY, shares, bar.open, slip)
            while shares > 0 and shares * done.price + done.commission > equity:
                shares -= 1
                done = fill(Side.BUY, shares, bar.open, slip)
            cash -= shares * done.price + done.commission
            line.commissions = done.commission
        last = series.last_on_or_before(day)
        line.marks.append((day, cash + shares * (last.close if last is not None else 0.0)))
    return line


def equal_weight(data: Mapping[str, SymbolBars], symbols: Sequence[str],
                 sessions: Sequence[date], rebalances: Sequence[date],
                 equity: float) -> Line:
    cash = equity
    values: dict[str, float] = {}  # dollars per name, at the last price seen
    last_price: dict[str, float] = {}
    resets = set(rebalances)
    line = Line([])
    for day in sessions:
        bars = {s: data[s].on(day) for s in symbols}
        if day in resets:
            # at the open: move each held name to its open (gone names at their last close)
            total = cash
            before: dict[str, float] = {}
            for symbol, value in values.items():
                bar = bars[symbol]
                before[symbol] = value * (bar.open / last_price[symbol] if bar is not None
                                          else 1.0)
                total += before[symbol]
            opens = {s: b.open for s, b in bars.items() if b is not None and b.open > 0}
            trading = list(opens)
            if trading:
                after = total / len(trading)
                if values and total > 0:
                    moved = sum(abs(after - before.get(s, 0.0)) for s in trading)
                    moved += sum(v for s, v in before.items() if s not in trading)
                    line.turnovers.append(moved / total)
                values = {s: after for s in trading}
                last_price = dict(opens)
                cash = 0.0
        for symbol in list(values):
            bar = bars[symbol]
            if bar is not None:
                values[symbol] *= bar.close / last_price[symbol]
                last_price[symbol] = bar.close
            elif data[symbol].last_on_or_before(day) is not None and \
                    data[symbol].days[-1] < day:
                cash += values.pop(symbol)  # the data ended: out at its last close
        line.marks.append((day, cash + math.fsum(values.values())))
    return line
