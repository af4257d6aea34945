"""The tearsheet's comparison of a backtest with its benchmarks (the weekly backtest's SPY
buy-and-hold and equal-weight universe): their equity lines on the equity chart, one table of
the figures that decide whether the policy is worth its trading (CAGR, Sharpe, max drawdown,
volatility, turnover, commissions), and the notes a reader must see before believing any of it
(the LLM being off, the survivorship bias of the universe, what the data leaves out)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go

from ui import html
from ui.backtest_inputs import Backtest
from ui.html import Cell

COLORS = ("#f59e0b", "#10b981", "#8b5cf6", "#ef4444")
POLICY = "policy"


def _pct(value: float) -> Cell:
    return Cell(html.pct(value, 1), value, "num")


def _ratio(value: float) -> Cell:
    return Cell(html.number(value, 2), value, "num")


def _money(value: float) -> Cell:
    return Cell(html.money(value, signed=False), value, "num")


def _drawdown(value: float) -> Cell:
    return Cell(html.pct(-abs(value), 1), -abs(value), "num neg")


COLUMNS: Sequence[tuple[str, str, Callable[[float], Cell]]] = (
    ("CAGR", "cagr", _pct),
    ("Sharpe", "sharpe", _ratio),
    ("max drawdown", "max_drawdown_pct", _drawdown),
    ("volatility", "volatility", _pct),
    ("final equity", "final_equity", _money),
    ("turnover / cycle", "turnover_per_cycle", _pct),
    ("commissions", "commissions", _money),
)


def comparison_section(bt: Backtest) -> str:
    if not bt.benchmarks:
        return ""
    lines = [(POLICY, bt.metrics), *((b.label, b.metrics) for b in bt.benchmarks)]
    rows = []
    for label, metrics in lines:
        row: list[Cell | str] = [label]
        for _, key, cell in COLUMNS:
            value = metrics.get(key)
            row.append(cell(float(value)) if isinstance(value, int | float)
                       and not isinstance(value, bool) else "–")
        rows.append(row)
    note = ('<p class="note">Sharpe and volatility from the daily returns (x sqrt 252, risk-free '
            "rate 0 for every line); turnover two-sided, per cycle after the first; the "
            "equal-weight line is frictionless.</p>")
    return html.section("Policy against the benchmarks",
                        html.table(["", *(c[0] for c in COLUMNS)], rows, "benchmarks-table",
                                   sortable=False) + note, "benchmarks")


def add_benchmark_lines(fig: go.Figure, bt: Backtest) -> None:
    days = [d.day for d in bt.days]
    for color, line in zip(COLORS, bt.benchmarks, strict=False):
        fig.add_trace(go.Scatter(x=days, y=line.equity, mode="lines", name=line.label,
                                 line={"color": color, "width": 1.5}))
    if bt.benchmarks:
        fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.15})


def notes_section(bt: Backtest) -> str:
    if not bt.notes:
        return ""
    items = "".join(f"<li>{html.esc(n)}</li>" for n in bt.notes)
    return html.section("Read before trusting the figures", f'<ul class="notes">{items}</ul>',
                        "notes")


def units(bt: Backtest) -> dict[str, Any]:
    """What one `days` row is: a session (intraday) or a rebalance (weekly)."""
    weekly = bt.engine == "weekly"
    return {"row": "rebalance" if weekly else "session",
            "rows": "rebalances" if weekly else "sessions",
            "equity_title": ("Equity at each rebalance, against the benchmarks ($)" if weekly
                             else "Equity at each session close ($)"),
            "pnl_title": ("Distribution of net P&L per rebalance period ($)" if weekly
                          else "Distribution of daily net P&L ($ per session)")}
