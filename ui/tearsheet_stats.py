"""The tearsheet's numbers, computed from a backtest's days and trades (pure, no drawing).

Equity is marked once per session (starting equity plus the cumulative net P&L of the days):
a day trader is flat every night, so the session close is where its equity is known exactly.
Drawdown is the fall from the highest equity so far, as a fraction of that peak.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from ui.backtest_inputs import Backtest, BacktestTrade, Sweep


@dataclass(frozen=True, slots=True)
class DailyEquityPoint:
    day: date
    equity: float
    drawdown: float  # <= 0, fraction of the running peak


def equity_curve(backtest: Backtest) -> list[DailyEquityPoint]:
    equity = peak = backtest.starting_equity
    points = []
    for day in backtest.days:
        equity += day.pnl
        peak = max(peak, equity)
        points.append(DailyEquityPoint(day.day, equity, equity / peak - 1.0 if peak > 0 else 0.0))
    return points


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: str  # YYYY-MM
    sessions: int
    trades: int
    net_pnl: float
    ret: float  # net P&L / equity at the month's start
    winning_days: int


def monthly(backtest: Backtest) -> list[MonthRow]:
    rows: list[MonthRow] = []
    equity = backtest.starting_equity
    by_month: dict[str, list[Any]] = defaultdict(list)
    for day in backtest.days:
        by_month[day.day.strftime("%Y-%m")].append(day)
    for month in sorted(by_month):
        days = by_month[month]
        pnl = sum(d.pnl for d in days)
        rows.append(MonthRow(month, len(days), sum(d.trades for d in days), pnl,
                             pnl / equity if equity > 0 else 0.0, sum(1 for d in days if d.pnl > 0)))
        equity += pnl
    return rows


@dataclass(frozen=True, slots=True)
class SymbolRow:
    symbol: str
    trades: int
    wins: int
    net_pnl: float
    commission: float
    best: float
    worst: float
    exits: dict[str, int]

    @property
    def win_rate(self) -> float:
        return self.wins / self.trades if self.trades else 0.0

    @property
    def average(self) -> float:
        return self.net_pnl / self.trades if self.trades else 0.0


def per_symbol(trades: list[BacktestTrade]) -> list[SymbolRow]:
    groups: dict[str, list[BacktestTrade]] = defaultdict(list)
    for trade in trades:
        groups[trade.symbol].append(trade)
    rows = []
    for symbol, group in groups.items():
        exits: dict[str, int] = defaultdict(int)
        for t in group:
            exits[t.exit_reason or "?"] += 1
        rows.append(SymbolRow(symbol, len(group), sum(1 for t in group if t.pnl > 0),
                              sum(t.pnl for t in group), sum(t.commission for t in group),
                              max(t.pnl for t in group), min(t.pnl for t in group), dict(exits)))
    return sorted(rows, key=lambda r: -r.net_pnl)


@dataclass(frozen=True, slots=True)
class HeatMap:
    x_param: str
    y_param: str
    metric: str
    xs: list[Any]
    ys: list[Any]
    values: list[list[float | None]]  # values[y][x]; None where no row has that pair
    counts: list[list[int]]  # rows averaged into each cell


class HeatMapChoiceError(ValueError):
    """--x/--y/--metric names something the sweep does not have."""


def heat_map(sweep: Sweep, x_param: str | None, y_param: str | None,
             metric: str | None) -> HeatMap:
    """Mean of `metric` over the rows sharing each (x, y) pair of parameter values.

    Defaults: the first two parameters that vary, and `net_pnl` (else the first metric). When a
    third parameter varies too, a cell averages over it (its count says how many rows).
    """
    varying = sweep.varying()
    names = sweep.parameters
    x_param = x_param or (varying[0] if varying else (names[0] if names else None))
    y_param = y_param or next((p for p in varying + names if p != x_param), None)
    for flag, chosen in (("--x", x_param), ("--y", y_param)):
        if chosen is None or chosen not in names:
            raise HeatMapChoiceError(
                f"{flag} {chosen} is invalid: use one of the sweep's parameters "
                f"({', '.join(names) or 'none'}); the heat map needs two")
    assert x_param is not None and y_param is not None  # the loop above refused a missing one
    if x_param == y_param:
        raise HeatMapChoiceError(f"--x and --y are both {x_param}: use two different parameters")
    metrics = sweep.metric_names
    metric = metric or ("net_pnl" if "net_pnl" in metrics else (metrics[0] if metrics else None))
    if metric is None or metric not in metrics:
        raise HeatMapChoiceError(
            f"--metric {metric} is invalid: use one of {', '.join(metrics) or 'none (no numeric metrics)'}")
    xs = _ordered({json.dumps(r.params.get(x_param)): r.params.get(x_param) for r in sweep.rows})
    ys = _ordered({json.dumps(r.params.get(y_param)): r.params.get(y_param) for r in sweep.rows})
    sums = [[0.0] * len(xs) for _ in ys]
    counts = [[0] * len(xs) for _ in ys]
    for row in sweep.rows:
        value = row.metrics.get(metric)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            continue
        yi, xi = ys.index(row.params.get(y_param)), xs.index(row.params.get(x_param))
        sums[yi][xi] += float(value)
        counts[yi][xi] += 1
    values = [[sums[y][x] / counts[y][x] if counts[y][x] else None for x in range(len(xs))]
              for y in range(len(ys))]
    return HeatMap(x_param, y_param, metric, xs, ys, values, counts)


def _ordered(values: dict[str, Any]) -> list[Any]:
    """Distinct parameter values, numbers ascending, the rest by their text."""
    items = list(values.values())
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda v: json.dumps(v))
