"""The daily report: one HTML page per trading day that opens offline in any browser.

    python -m ui.day_report --date 2025-07-03 [--db trading_history.db] [--logs logs]
                            [--reports reports] [-o reports/daily/day_report_2025-07-03.html]

It shows the day at a glance (the intraday equity curve, a 1-minute price chart per traded symbol
with VWAP and the entries/exits labelled with their reason), the trades, why each watchlist symbol
was kept or dropped, the params and variant, health and reconnects, and what the improvement
cycle concluded, from `ui.day_inputs`. What is missing is said on the page, never guessed.
Bad input (a malformed or unknown date, a DB that is not one) is one line and exit 2.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from trade import cli
from trade.records_routing import records_of_db
from ui import html
from ui.day_charts import equity_chart, price_chart
from ui.day_improvement import improvement_section
from ui.day_inputs import NY, DayInputs, ReportInputError, ReportTrade, load_day
from ui.html import Cell, esc, money_cell, num_cell

PROG = "python -m ui.day_report"


def report_path(reports_dir: Path, day: date) -> Path:
    return reports_dir / "daily" / f"day_report_{day.isoformat()}.html"


def build_report(day: date, db_path: Path, logs_dir: Path, reports_dir: Path,
                 out: Path | None = None) -> Path:
    """Gather, render and write the report; returns its path. Raises `ReportInputError`."""
    inputs = load_day(day, db_path, logs_dir, reports_dir / "improvement")
    return html.write_report(out or report_path(reports_dir, day), render(inputs))


def render(inputs: DayInputs) -> str:
    sections = [
        _summary(inputs),
        "".join(html.missing(text) for text in inputs.missing),
        _charts(inputs),
        _trades(inputs.trades, inputs.trades_source),
        _watchlist(inputs),
        _params(inputs),
        _orders(inputs),
        _health(inputs),
        improvement_section(inputs),
        _runs(inputs),
    ]
    log = inputs.run_log
    subtitle = (f"{len(inputs.run_logs)} run(s); account {log.get('account', 'unknown')}; "
                f"allocation {log.get('allocation', 'unknown')}") if log else "no run log"
    return html.page(f"Day trader — {inputs.day.isoformat()}", subtitle, "".join(sections))


# -- sections ---------------------------------------------------------------------------------
def _summary(inputs: DayInputs) -> str:
    trades = inputs.trades
    net = sum(t.net_pnl for t in trades)
    wins = sum(1 for t in trades if t.net_pnl > 0)
    equity = peak = drawdown = 0.0
    for t in sorted(trades, key=_exit_order):
        equity += t.net_pnl
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)
    log = inputs.run_log
    flat_at = log.get("flat_at") if log else None
    items = [
        ("net P&L", html.money(net), "pos" if net > 0 else "neg" if net < 0 else ""),
        ("trades", str(len(trades)), ""),
        ("win rate", html.pct(wins / len(trades)) if trades else "–", ""),
        ("commissions", html.money(sum(t.commission for t in trades), signed=False), ""),
        ("max drawdown", html.money(-drawdown) if trades else "–", "neg" if drawdown else ""),
        ("flat at", str(flat_at)[11:19] if flat_at else ("not confirmed" if log else "–"), ""),
        ("reconnects", str(sum(int(r.data.get("reconnects") or 0) for r in inputs.run_logs)), ""),
        ("stopped by", str(log.get("stopped_by", "–")) if log else "–", ""),
    ]
    return html.section("Summary", html.cards(items), "summary")


def _charts(inputs: DayInputs) -> str:
    if not inputs.trades:
        return html.section("Charts", html.missing("no trades on this day: nothing to chart"),
                            "charts")
    parts = [html.figure(equity_chart(inputs.trades, inputs.bars), "equity-curve")]
    params = inputs.run_log.get("params", {}) if inputs.run_log else {}
    for symbol in inputs.traded_symbols:
        period = _param(params, symbol, "vwap_period", 20)
        fig = price_chart(symbol, inputs.bars.get(symbol, []),
                          [t for t in inputs.trades if t.symbol == symbol], int(period))
        parts.append(html.figure(fig, f"chart-{symbol}", "chart symbol-chart"))
    return html.section("Equity and prices", "".join(parts), "charts")


def _trades(trades: Sequence[ReportTrade], source: str) -> str:
    if not trades:
        return html.section("Trades", html.missing("no trades recorded for this day"), "trades")
    rows: list[list[html.CellValue]] = []
    for i, t in enumerate(sorted(trades, key=_entry_order), start=1):
        rows.append([
            num_cell(i, 0), t.symbol, num_cell(t.qty, 0),
            _time_cell(t.entry_time), num_cell(t.entry_price, 2),
            _time_cell(t.exit_time), num_cell(t.exit_price, 2), t.exit_reason,
            money_cell(t.net_pnl), num_cell(t.commission, 2), t.entry_reason, t.variant or "–",
        ])
    note = f'<p class="note">From the {esc(source)}; P&L net of commissions. Click a header to sort.</p>'
    headers = ["#", "symbol", "qty", "entry", "entry price", "exit", "exit price", "exit reason",
               "net P&L", "commission", "why it entered", "variant"]
    return html.section("Trades", note + html.table(headers, rows, "trades-table"), "trades")


def _watchlist(inputs: DayInputs) -> str:
    watchlist = inputs.run_log.get("watchlist") if inputs.run_log else None
    if not isinstance(watchlist, dict):
        return html.section("Watchlist", html.missing("no watchlist verdicts (no run log)"),
                            "watchlist")
    traded = Counter(t.symbol for t in inputs.trades)
    decisions = inputs.run_log.get("decisions") or {}
    no_entry = inputs.run_log.get("no_entry") or {}
    rows = []
    for verdict in list(watchlist.get("kept", [])) + list(watchlist.get("dropped", [])):
        if not isinstance(verdict, dict):
            continue
        symbol = str(verdict.get("symbol", "?"))
        stats = verdict.get("stats") or {}
        last = decisions.get(symbol) if isinstance(decisions, dict) else None
        rows.append([
            symbol, "kept" if verdict.get("kept") else "dropped", str(verdict.get("reason", "")),
            num_cell(stats.get("avg_dollar_volume"), 0), Cell(html.pct(stats.get("avg_range_pct"), 2),
                                                              stats.get("avg_range_pct"), "num"),
            num_cell(traded.get(symbol, 0), 0),
            _no_entry_text(no_entry.get(symbol)),
            f"{last.get('verdict', '')}: {last.get('reason', '')}" if isinstance(last, dict) else "–",
        ])
    headers = ["symbol", "verdict", "reason", "avg $ volume", "avg range", "trades",
               "bars without an entry, by reason", "last decision"]
    return html.section("Watchlist verdicts", html.table(headers, rows, "watchlist-table"),
                        "watchlist")


def _params(inputs: DayInputs) -> str:
    params = inputs.run_log.get("params") if inputs.run_log else None
    variants = sorted({t.variant for t in inputs.trades if t.variant})
    variant = inputs.run_log.get("variant") if inputs.run_log else None
    shown = variant or (", ".join(variants) if variants else "none (single parameter set)")
    body = f'<p>Variant: <b>{esc(shown)}</b></p>'
    if not isinstance(params, dict) or not isinstance(params.get("default"), dict):
        return html.section("Parameters", body + html.missing("no params (no run log)"), "params")
    columns = ["default"] + [k for k in params if k != "default"]
    rows = []
    for name, value in params["default"].items():
        row: list[Cell | str] = [name]
        for column in columns:
            given = params.get(column, {}).get(name) if isinstance(params.get(column), dict) else None
            changed = column != "default" and given != value
            row.append(Cell(f"<b>{esc(given)}</b>" if changed else esc(given)))
        rows.append(row)
    note = '<p class="note">Per-symbol columns are the watchlist overrides; bold differs from the default.</p>'
    return html.section("Parameters", body + note + html.table(["parameter", *columns], rows,
                                                               "params-table", sortable=False),
                        "params")


def _orders(inputs: DayInputs) -> str:
    parts = []
    if inputs.intents:
        states = Counter(str(i.state) for i in inputs.intents)
        parts.append('<p class="note">Order intents (entries, protective exits, flatten orders) '
                     "by their final state:</p>")
        parts.append(html.cards([(state, str(n), "") for state, n in sorted(states.items())]))
    else:
        parts.append(html.missing("no order intents in the DB for this day"))
    commission = sum(e.commission for e in inputs.executions)
    parts.append(f'<p class="note">{len(inputs.executions)} executions, commissions '
                 f'{html.money(commission, signed=False)}.</p>')
    rejections = inputs.run_items("rejections")
    if rejections:
        rows = [[_short_time(r.get("time")), str(r.get("symbol", "")), str(r.get("order_ref", "")),
                 str(r.get("reason", ""))] for r in rejections if isinstance(r, dict)]
        parts.append(html.table(["time", "symbol", "order ref", "reason"], rows, "rejections"))
    else:
        parts.append('<p class="note">No rejected orders.</p>')
    return html.section("Orders", "".join(parts), "orders")


def _health(inputs: DayInputs) -> str:
    parts = []
    if inputs.health:
        counts = Counter(h.status for h in inputs.health)
        worst_lag = max(h.event_loop_lag_ms for h in inputs.health)
        stale = max(h.data_staleness_s for h in inputs.health)
        parts.append(html.cards(
            [(f"health {status}", str(counts.get(status, 0)), "neg" if status == "critical" and counts.get(status) else "")
             for status in ("normal", "warning", "critical")]
            + [("worst loop lag", f"{worst_lag:.1f} ms", ""), ("worst data staleness", f"{stale:.0f} s", "")]
        ))
        unusual = [h for h in inputs.health if h.status != "normal"]
        if unusual:
            rows: list[list[html.CellValue]] = [
                [h.time.astimezone(NY).strftime("%H:%M:%S"), h.status, h.detail,
                 ", ".join(h.actions), num_cell(h.event_loop_lag_ms, 1),
                 num_cell(h.data_staleness_s, 0)] for h in unusual]
            parts.append("<h3>Checks that were not normal</h3>" + html.table(
                ["time", "status", "detail", "actions", "loop lag ms", "staleness s"], rows,
                "health-rows"))
    else:
        parts.append(html.missing("no health rows in the DB for this day"))
    events = inputs.run_items("health_events")
    if events:
        rows = [[_short_time(e.get("time")), str(e.get("status", "")), str(e.get("detail", "")),
                 ", ".join(map(str, e.get("actions") or []))] for e in events if isinstance(e, dict)]
        parts.append("<h3>Health events</h3>" + html.table(["time", "status", "detail", "actions"],
                                                           rows, "health-events"))
    elif inputs.run_logs:
        parts.append('<p class="note">No health events: every check was normal.</p>')
    controls = inputs.run_items("control_actions")
    if controls:
        rows = [[_short_time(c.get("time")), str(c.get("action", "")), str(c.get("by", "")),
                 str(c.get("result", ""))] for c in controls if isinstance(c, dict)]
        parts.append("<h3>Status page actions</h3>" + html.table(["time", "action", "by", "result"],
                                                                 rows, "control-actions"))
    warnings = inputs.run_items("warnings")
    if warnings:
        parts.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>")
    return html.section("Health, reconnects, warnings", "".join(parts), "health")


def _runs(inputs: DayInputs) -> str:
    if not inputs.run_logs:
        return ""
    rows: list[list[html.CellValue]] = [
        [r.path.name, _short_time(r.data.get("started_at")), _short_time(r.data.get("ended_at")),
         str(r.data.get("stopped_by", "")), num_cell(len(r.data.get("trades") or []), 0)]
        for r in inputs.run_logs]
    return html.section("Runs", html.table(["run log", "started", "ended", "stopped by", "trades"],
                                            rows, "runs"), "runs")


# -- helpers ----------------------------------------------------------------------------------
def _param(params: dict[str, Any], symbol: str, name: str, default: Any) -> Any:
    for key in (symbol, "default"):
        value = params.get(key)
        if isinstance(value, dict) and name in value:
            return value[name]
    return default


def _no_entry_text(counts: Any) -> str:
    """The run log's `no_entry` counts ({"HOLD_BELOW_VWAP": 210, ...}), most frequent first."""
    if not isinstance(counts, dict) or not counts:
        return "–"
    ranked = sorted(counts.items(), key=lambda item: (-int(item[1] or 0), str(item[0])))
    return ", ".join(f"{str(name).removeprefix('HOLD_').replace('_', ' ').lower()} {count}"
                     for name, count in ranked)


def _time_cell(moment: Any) -> Cell:
    if moment is None:
        return Cell("–")
    return Cell(moment.strftime("%H:%M:%S"), moment.timestamp())


def _short_time(text: Any) -> str:
    """ISO time to HH:MM:SS (the page is about one day); anything else as given."""
    value = str(text or "")
    return value[11:19] if len(value) >= 19 and value[10] == "T" else (value or "–")


def _exit_order(t: ReportTrade) -> float:
    return t.exit_time.timestamp() if t.exit_time else float("inf")


def _entry_order(t: ReportTrade) -> float:
    return t.entry_time.timestamp() if t.entry_time else float("inf")


# -- command line -----------------------------------------------------------------------------
def build_parser() -> cli.OneLineArgumentParser:
    parser = cli.OneLineArgumentParser(
        prog=PROG, description="Write the day trader's HTML report of one trading day.")
    cli.add_flag(parser, "--date", required=True, type=cli.iso_date, metavar="YYYY-MM-DD",
                 fix=cli.DATE_FIX, help="the trading day (New York date)")
    cli.add_flag(parser, "--db", type=Path, default=Path("trading_history.db"), metavar="PATH",
                 fix="a history DB path, e.g. sim_runs/<simulator id>/trading_history.db",
                 help="history DB (default: trading_history.db)")
    cli.add_flag(parser, "--logs", type=Path, default=None, metavar="DIR",
                 fix="the directory holding day_trader_run_<date>.json",
                 help="run log directory (default: the DB's: logs, or a simulator's "
                 "sim_runs/<id>/logs)")
    cli.add_flag(parser, "--reports", type=Path, default=None, metavar="DIR",
                 fix="the reports directory, e.g. reports",
                 help="reports directory: reads improvement/, writes daily/ (default: the DB's, "
                 "trade/records_routing.py: reports for trading_history.db, <name>_reports "
                 "beside another DB, a simulator's sim_runs/<id>/reports)")
    cli.add_flag(parser, "-o", "--out", type=Path, metavar="PATH", fix="an .html file path",
                 help="output file (default: <reports>/daily/day_report_<date>.html)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    beside = records_of_db(args.db)  # the logs and reports that go with this DB
    try:
        path = build_report(args.date, args.db, args.logs or beside.logs_dir,
                            args.reports or beside.reports_dir, args.out)
    except ReportInputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG}: error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
