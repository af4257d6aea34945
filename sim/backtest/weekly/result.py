"""The weekly backtest's JSON: the intraday backtest's shape (sim/backtest/result.py), so
`python -m ui.tearsheet` draws it, plus what only a portfolio policy has.

Shared keys: `kind` "backtest", `engine` "weekly", `starting_equity`, `allocation`, `params` (the
portfolio rules and the run's settings), `days` (here one row per rebalance, and a last row for
the final session: `date`, `pnl` = the change of equity since the previous row, `trades` = the
executions of the day, `flat_at` null; plus `equity`, `turnover`, `commission`, `slippage`,
`members`, `added`, `dropped`, `status`, `expected_cost`), `trades` (round trips, first in
first out, with the run log's fields), `metrics`. Weekly only: `benchmarks` (SPY buy-and-hold and
the equal-weight universe: their equity at the same rows and their metrics), `fills` (every
execution), `open_positions`, `universe`, `sessions`, `notes` (the LLM being off, the
survivorship bias, what the data cannot say).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from sim.backtest.result import dumps
from sim.backtest.weekly.analysis import LLM_OFF
from sim.backtest.weekly.benchmarks import Line, buy_and_hold, equal_weight
from sim.backtest.weekly.engine import BENCHMARK, WeeklyRun
from sim.backtest.weekly.metrics import cycle_metrics, line_metrics, rank_noise, years_of

SURVIVORSHIP = (
    "Survivorship bias: the universe is names that exist today, picked with hindsight. The 80 "
    "names whose files run 2015-01-12..2020-01-09 are S&P 500 members of January 2020 that had "
    "a complete five-year history, chosen by their dollar volume over those same five years; "
    "the names with longer files (AAPL, AIG, BAC, IBM, FB, GOOG/GOOGL, WM and the ETFs) are "
    "today's tickers. Companies that failed, were taken over or left the index on the way are "
    "missing, so the policy's and the equal-weight universe's past returns are biased upward "
    "and their drawdowns understated; SPY's line is not (the index replaced its losers as they "
    "fell). Before 2015 the universe is only the handful of long files."
)


def notes(run: WeeklyRun, data_ended: int) -> list[str]:
    slip = run.config.slippage
    return [
        f"{LLM_OFF}: the live bot asks an LLM when one is configured and may then rank "
        "differently; FMP is off too (the daily files have no fundamentals).",
        SURVIVORSHIP,
        "Prices are split-adjusted to the 2021 share basis and not dividend-adjusted: every line "
        "is a price return (dividends left out), cash earns 0%, and per-share commissions and the "
        "$5 minimum price see adjusted prices (AAPL before ~2008 is below $5 adjusted and is "
        "screened out; AIG before its 2009 1:20 reverse split looks 20x dearer).",
        f"Orders fill at the session open: half spread {slip.half_spread_bps:g} bp plus "
        f"square-root impact ({slip.impact:g} x daily volatility x sqrt(shares / 20-day average "
        "volume)), IB tiered commission (sim/engine/commissions.py); the live bot trades after "
        f"{run.config.run_time:%H:%M} with limit orders.",
        f"{data_ended} sale(s) of a name whose daily file ended, at its last close "
        "(exit_reason \"data ended\").",
    ]


def document(run: WeeklyRun, universe_path: str) -> dict[str, Any]:
    config = run.config
    start = config.equity
    first_cycle = run.rebalance_days[0]
    spy = buy_and_hold(run.data[BENCHMARK], run.sessions, first_cycle, start, config.slippage)
    ew = equal_weight(run.data, run.symbols, run.sessions, run.rebalance_days, start)
    rows = _rows(run)
    row_days = [date.fromisoformat(r["date"]) for r in rows]
    years = years_of(run.marks)
    metrics = {**line_metrics(run.marks, start), **cycle_metrics(run.cycles, years),
               **rank_noise(run.analyses),
               "trades": float(len(run.account.trips)),
               "win_rate": round(sum(t.pnl > 0 for t in run.account.trips)
                                 / len(run.account.trips), 4) if run.account.trips else 0.0}
    last_day = run.marks[-1][0]
    closes = {s: bar.close for s in run.account.positions
              if (bar := run.data[s].last_on_or_before(last_day)) is not None}
    reasons = Counter(t.exit_reason for t in run.account.trips)
    return {
        "kind": "backtest",
        "engine": "weekly",
        "starting_equity": start,
        "allocation": config.allocation,
        "params": {**run.rules.as_dict(), "run_days": list(config.run_days),
                   "run_time": config.run_time.strftime("%H:%M"),
                   "slippage_model": config.slippage.as_dict(), "llm": "off"},
        "days": rows,
        "trades": [t.as_dict() for t in run.account.trips],
        "metrics": metrics,
        "benchmarks": {
            "spy_buy_and_hold": _line("SPY buy-and-hold", spy, row_days, start),
            "equal_weight_universe": _line("equal-weight universe (frictionless)", ew, row_days,
                                           start),
        },
        "fills": [e.as_dict() for e in run.account.executions],
        "open_positions": {s: {"qty": q, "close": closes.get(s)}
                           for s, q in sorted(run.account.positions.items())},
        "universe": {"path": universe_path, "symbols": run.symbols,
                     "survivorship": SURVIVORSHIP},
        "sessions": {"from": run.sessions[0].isoformat(), "to": last_day.isoformat(),
                     "sessions": len(run.sessions), "rebalances": len(run.cycles)},
        "notes": notes(run, reasons.get("data ended", 0)),
    }


def _rows(run: WeeklyRun) -> list[dict[str, Any]]:
    equity_at = dict(run.marks)
    fills = Counter(e.day for e in run.account.executions)
    rows: list[dict[str, Any]] = []
    previous = run.config.equity
    for cycle in run.cycles:
        equity = equity_at[cycle.day]
        rows.append({"date": cycle.day.isoformat(), "pnl": round(equity - previous, 2),
                     "trades": fills.get(cycle.day, 0), "flat_at": None,
                     "equity": round(equity, 2), "status": cycle.status,
                     "turnover": round(cycle.turnover, 6),
                     "commission": round(cycle.commission, 4),
                     "slippage": round(cycle.slippage, 4), "members": cycle.members,
                     "added": cycle.added, "dropped": cycle.dropped,
                     "expected_cost": cycle.expected or None, "notes": cycle.notes})
        previous = equity
    last_day, last_equity = run.marks[-1]
    if not run.cycles or run.cycles[-1].day != last_day:
        rows.append({"date": last_day.isoformat(), "pnl": round(last_equity - previous, 2),
                     "trades": 0, "flat_at": None, "equity": round(last_equity, 2),
                     "status": "marked (no cycle)", "turnover": 0.0, "commission": 0.0,
                     "slippage": 0.0, "members": [], "added": [], "dropped": [],
                     "expected_cost": None, "notes": []})
    return rows


def _line(label: str, line: Line, at: Sequence[date], start: float) -> dict[str, Any]:
    by_day = dict(line.marks)
    turnover = sum(line.turnovers) / len(line.turnovers) if line.turnovers else 0.0
    return {"label": label, "equity": [round(by_day[d], 2) for d in at],
            "metrics": {**line_metrics(line.marks, start), "commissions": round(line.commissions, 2),
                        "turnover_per_cycle": round(turnover, 6)}}


def to_json(run: WeeklyRun, universe_path: str) -> str:
    return dumps(document(run, universe_path))
