"""What a backtest or a sweep prints on screen: a few lines a person reads, the JSON has the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.backtest.result import BacktestResult
from sim.backtest.sessions import Sessions

HEADLINE = ("net_pnl", "trades", "win_rate", "profit_factor", "max_drawdown", "sharpe")


def fmt(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name in ("win_rate", "max_drawdown_pct", "return_pct", "exposure_pct"):
        return f"{100.0 * value:.1f}%"
    if name in ("trades", "wins", "losses", "sessions", "longest_losing_streak"):
        return f"{int(value):d}"
    if name in ("net_pnl", "gross_pnl", "commissions", "max_drawdown", "expectancy"):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def backtest_summary(result: BacktestResult, sessions: Sessions) -> str:
    metrics = result.metrics().as_dict()
    days = result.days
    first = days[0].day if days else sessions.first
    last = days[-1].day if days else sessions.last
    lines = [
        f"backtest ({result.engine} engine): {len(days)} sessions {first} to {last}, "
        f"{len(sessions.symbols)} symbols, {sessions.market.label}",
        "  " + ", ".join(f"{name.replace('_', ' ')} {fmt(name, metrics.get(name))}"
                         for name in HEADLINE),
    ]
    return "\n".join(lines) + "\n"


def table(rows: Sequence[tuple[dict[str, Any], dict[str, Any]]], columns: Sequence[str],
          metrics: Sequence[str] = HEADLINE) -> str:
    """A fixed-width table: one line per (params, metrics) row, the given param columns first."""
    header = ["#", *columns, *metrics]
    body = [[str(i + 1), *(fmt(c, p.get(c)) for c in columns),
             *(fmt(m, ms.get(m)) for m in metrics)] for i, (p, ms) in enumerate(rows)]
    widths = [max(len(r[j]) for r in [header, *body]) for j in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True))
                     for r in [header, *body]) + "\n"
