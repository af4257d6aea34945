"""The backtest tearsheet: one HTML page per backtest or parameter sweep, opening offline.

    python -m ui.tearsheet BACKTEST.json -o OUT.html
    python -m ui.tearsheet SWEEP.json -o OUT.html --x profit_target --y stop_loss --metric sharpe

A backtest gets its metrics, the equity curve and drawdown per session, the distribution of daily
P&L, a per-symbol and a monthly table and the parameters it ran with; a weekly backtest
(`python -m sim.backtest.weekly`) the same per rebalance, plus its benchmark lines (SPY
buy-and-hold, the equal-weight universe) on the equity chart, a comparison table (CAGR, Sharpe,
max drawdown, turnover, commissions) and its notes (`ui.tearsheet_benchmarks`); a sweep gets a
heat map of one metric over two parameters and its best rows. Input format:
`ui.backtest_inputs`. Bad input is one line and exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from trade import cli
from ui import html
from ui.backtest_inputs import Backtest, Sweep, TearsheetInputError, load
from ui.html import Cell, money_cell, num_cell
from ui.tearsheet_benchmarks import add_benchmark_lines, comparison_section, notes_section, units
from ui.tearsheet_stats import (
    HeatMap,
    HeatMapChoiceError,
    equity_curve,
    heat_map,
    monthly,
    per_symbol,
)

PROG = "python -m ui.tearsheet"
_MONEY_METRICS = {"net_pnl", "gross_pnl", "commissions", "max_drawdown", "avg_trade", "avg_day",
                  "best_day", "worst_day", "expectancy", "final_equity", "traded_value",
                  "slippage_cost", "expected_cost"}
_COUNT_METRICS = {"trades", "sessions", "cycles", "failed_cycles", "cycles_with_replacement",
                  "cycles_after_first", "wins", "losses"}
# fractions shown as percentages (return_pct -0.0005 is "-0.05%", not "-0.05")
_PCT_METRICS = {"win_rate", "return", "total_return", "max_drawdown_pct", "cagr", "exposure",
                "volatility", "turnover_per_cycle", "turnover_first_cycle", "turnover_per_year",
                "return_pct", "exposure_pct"}


def build_tearsheet(source: Path, out: Path, x: str | None = None, y: str | None = None,
                    metric: str | None = None, standalone: bool = False) -> Path:
    """Read, render and write; raises `TearsheetInputError` / `HeatMapChoiceError` on bad input."""
    data = load(source)
    if isinstance(data, Sweep):
        document = render_sweep(data, source.name, heat_map(data, x, y, metric))
    else:
        if x or y or metric:
            raise HeatMapChoiceError(f"--x/--y/--metric apply to a sweep: {source} is a single "
                                     "backtest (drop them)")
        document = render_backtest(data, source.name)
    return html.write_report(out, document, standalone=standalone)


# -- a single backtest ------------------------------------------------------------------------
def render_backtest(bt: Backtest, name: str) -> str:
    curve = equity_curve(bt)
    final = curve[-1].equity
    first, last = bt.days[0].day, bt.days[-1].day
    unit = units(bt)
    computed = [
        (unit["rows"], str(len(bt.days)), ""),
        ("final equity", html.money(final, signed=False), ""),
        ("total return", html.pct(final / bt.starting_equity - 1.0, 2),
         "pos" if final > bt.starting_equity else "neg"),
        ("worst drawdown", html.pct(min(p.drawdown for p in curve), 2), "neg"),
    ]
    if "final_equity" in bt.metrics:  # the backtest states them already (from daily marks)
        computed = computed[:1]
    metrics = html.section("Metrics", html.cards(_metric_cards(bt.metrics) + computed), "metrics")
    equity = html.section("Equity and drawdown", html.figure(_equity_figure(curve, bt), "equity")
                          + html.figure(_drawdown_figure(curve), "drawdown"), "equity-section")
    # against benchmarks, the comparison leads and the notes come before the figures
    lead = ([comparison_section(bt), equity, notes_section(bt), metrics] if bt.benchmarks
            else [metrics, equity, notes_section(bt)])
    sections = [
        *lead,
        html.section(f"P&L per {unit['row']}",
                     html.figure(_distribution_figure(bt), "pnl-distribution"), "distribution"),
        _symbols_section(bt),
        _monthly_section(bt),
        _params_section(bt),
    ]
    subtitle = (f"{name}: {first} to {last}, {bt.engine} engine, starting equity "
                f"{html.money(bt.starting_equity, signed=False)}"
                + (f", allocation {bt.allocation:g}" if bt.allocation is not None else ""))
    return html.page("Backtest tearsheet", subtitle, "".join(sections))


def _metric_cards(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    cards = []
    for name, value in metrics.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if name in _MONEY_METRICS:
            text = html.money(value, signed=name in ("net_pnl", "gross_pnl", "avg_trade",
                                                     "avg_day", "best_day", "worst_day",
                                                     "expectancy"))
        elif name in _PCT_METRICS:
            text = html.pct(value, 1)
        elif name in _COUNT_METRICS:
            text = f"{value:,.0f}"
        else:
            text = html.number(value, 2)
        signed = name in ("net_pnl", "total_return", "return")
        cards.append((name.replace("_", " "), text,
                      ("pos" if value > 0 else "neg" if value < 0 else "") if signed else ""))
    return cards


def _equity_figure(curve: list[Any], bt: Backtest) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[p.day for p in curve], y=[p.equity for p in curve],
                               mode="lines", name="policy" if bt.benchmarks else "equity",
                               line={"color": "#2563eb", "width": 2}))
    fig.add_hline(y=bt.starting_equity, line={"color": "#9aa5b1", "dash": "dot"})
    fig.update_layout(title=units(bt)["equity_title"], height=360 if bt.benchmarks else 320)
    add_benchmark_lines(fig, bt)
    return fig


def _drawdown_figure(curve: list[Any]) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[p.day for p in curve], y=[p.drawdown * 100 for p in curve],
                               mode="lines", fill="tozeroy", name="drawdown",
                               line={"color": "#dc2626", "width": 1}))
    fig.update_layout(title="Drawdown from the running peak (%)", height=240)
    return fig


def _distribution_figure(bt: Backtest) -> go.Figure:
    pnl = [d.pnl for d in bt.days]
    fig = go.Figure(go.Histogram(x=pnl, nbinsx=min(40, max(10, len(pnl) // 3)),
                                 marker={"color": "#2563eb", "line": {"color": "#fff", "width": 1}},
                                 name=units(bt)["rows"]))
    fig.add_vline(x=0, line={"color": "#616e7c", "dash": "dot"})
    fig.update_layout(title=units(bt)["pnl_title"], height=300,
                      bargap=0.05, xaxis_title="net P&L ($)", yaxis_title=units(bt)["rows"])
    return fig


def _symbols_section(bt: Backtest) -> str:
    if not bt.trades:
        return html.section("Per symbol", html.missing("the backtest JSON lists no trades"),
                            "symbols")
    rows: list[list[Cell | str]] = [
            [r.symbol, num_cell(r.trades, 0), Cell(html.pct(r.win_rate), r.win_rate, "num"),
             money_cell(r.net_pnl), money_cell(r.average), money_cell(r.best), money_cell(r.worst),
             num_cell(r.commission, 2),
             ", ".join(f"{k} {v}" for k, v in sorted(r.exits.items()))] for r in per_symbol(bt.trades)]
    headers = ["symbol", "trades", "win rate", "net P&L", "avg trade", "best", "worst",
               "commission", "exits"]
    return html.section("Per symbol", html.table(headers, rows, "symbols-table"), "symbols")


def _monthly_section(bt: Backtest) -> str:
    rows: list[list[Cell | str]] = [
            [m.month, num_cell(m.sessions, 0), num_cell(m.trades, 0), money_cell(m.net_pnl),
             Cell(html.pct(m.ret, 2), m.ret, "num " + ("pos" if m.ret > 0 else "neg" if m.ret < 0 else "")),
             num_cell(m.winning_days, 0)] for m in monthly(bt)]
    rows_word = units(bt)["rows"]
    headers = ["month", rows_word, "trades", "net P&L", "return", f"winning {rows_word}"]
    return html.section("Monthly", html.table(headers, rows, "monthly-table"), "monthly")


def _params_section(bt: Backtest) -> str:
    if not bt.params:
        return html.section("Parameters", html.missing("the backtest JSON has no params"), "params")
    rows = [[name, html.esc(value)] for name, value in bt.params.items()]
    return html.section("Parameters", html.table(["parameter", "value"], rows, "params-table",
                                                 sortable=False), "params")


# -- a sweep ----------------------------------------------------------------------------------
def render_sweep(sweep: Sweep, name: str, grid: HeatMap) -> str:
    sections = [
        html.section(f"{grid.metric} over {grid.x_param} × {grid.y_param}",
                     _heat_note(grid) + html.figure(_heat_figure(grid), "heatmap"), "heatmap-section"),
        _best_rows(sweep, grid.metric),
    ]
    subtitle = (f"{name}: {len(sweep.rows)} parameter sets, {', '.join(sweep.symbols) or 'symbols not stated'}, "
                f"{sweep.first} to {sweep.last}, {sweep.engine} engine")
    return html.page("Parameter sweep", subtitle, "".join(sections))


def _heat_note(grid: HeatMap) -> str:
    most = max(max(row) for row in grid.counts)
    if most <= 1:
        return ""
    return (f'<p class="note">Other parameters vary too: each cell is the mean of up to {most} '
            "parameter sets (hover for the count).</p>")


def _heat_figure(grid: HeatMap) -> go.Figure:
    text = [[html.number(v, 2) if v is not None else "" for v in row] for row in grid.values]
    hover = [[f"{grid.x_param}={x}<br>{grid.y_param}={y}<br>{grid.metric}="
              f"{html.number(grid.values[yi][xi], 4) if grid.values[yi][xi] is not None else 'n/a'}"
              f"<br>{grid.counts[yi][xi]} set(s)" for xi, x in enumerate(grid.xs)]
             for yi, y in enumerate(grid.ys)]
    fig = go.Figure(go.Heatmap(
        x=[str(x) for x in grid.xs], y=[str(y) for y in grid.ys], z=grid.values, text=text,
        texttemplate="%{text}", hovertext=hover, hoverinfo="text", colorscale="RdYlGn",
        colorbar={"title": {"text": grid.metric}},
    ))
    fig.update_layout(height=max(320, 60 + 42 * len(grid.ys)), xaxis_title=grid.x_param,
                      yaxis_title=grid.y_param, xaxis={"type": "category"},
                      yaxis={"type": "category"})
    return fig


def _best_rows(sweep: Sweep, metric: str, limit: int = 25) -> str:
    varying = sweep.varying() or sweep.parameters
    metrics = [m for m in ("net_pnl", "trades", "win_rate", "profit_factor", "max_drawdown", "sharpe")
               if m in sweep.metric_names] or sweep.metric_names[:6]
    if metric not in metrics:
        metrics = [metric, *metrics]

    def score(row: Any) -> float:
        value = row.metrics.get(metric)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("-inf")

    ranked = sorted(sweep.rows, key=score, reverse=True)[:limit]
    rows = [[*(html.esc(r.params.get(p)) for p in varying),
             *(num_cell(r.metrics.get(m), 0 if m == "trades" else 3)
               if isinstance(r.metrics.get(m), int | float) else "–" for m in metrics)]
            for r in ranked]
    title = f"Best {len(ranked)} of {len(sweep.rows)} by {metric}"
    return html.section(title, html.table([*varying, *metrics], rows, "sweep-table"), "best")


# -- command line -----------------------------------------------------------------------------
def build_parser() -> cli.OneLineArgumentParser:
    parser = cli.OneLineArgumentParser(
        prog=PROG, description="Write the HTML tearsheet of a backtest or a parameter sweep.")
    cli.add_flag(parser, "source", type=Path, metavar="BACKTEST.json",
                 fix="the JSON file a backtest or sweep wrote", help="backtest or sweep JSON")
    cli.add_flag(parser, "-o", "--out", type=Path, metavar="OUT.html", fix="an .html file path",
                 help="output file (default: reports/tearsheets/<name>.html)")
    cli.add_flag(parser, "--x", metavar="PARAM", fix="a parameter the sweep varies",
                 help="sweeps: the heat map's x parameter (default: the first that varies)")
    cli.add_flag(parser, "--y", metavar="PARAM", fix="a parameter the sweep varies",
                 help="sweeps: the heat map's y parameter (default: the second that varies)")
    cli.add_flag(parser, "--metric", metavar="NAME", fix="a metric of the sweep, e.g. net_pnl",
                 help="sweeps: the metric to colour (default: net_pnl)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = args.out or Path("reports") / "tearsheets" / f"{args.source.stem}.html"
    try:
        # under reports/ the pages share one plotly.min.js; anywhere else the page stands alone
        standalone = "reports" not in out.resolve().parts
        path = build_tearsheet(args.source, out, args.x, args.y, args.metric, standalone)
    except (TearsheetInputError, HeatMapChoiceError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG}: error: cannot write {out}: {exc}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
