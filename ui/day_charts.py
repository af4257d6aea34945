"""The daily report's charts: the intraday equity curve and one price chart per traded symbol.

Times are drawn as New York wall-clock times (naive on the axis): the session is read in exchange
time, and Plotly would otherwise shift offsets into the viewer's own zone.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from trade.indicators import rolling_vwap
from trade.models import Bar
from ui.day_inputs import ReportTrade

EXIT_COLORS = {"target": "#059669", "stop": "#dc2626", "flatten": "#6b7280"}
ENTRY_COLOR = "#2563eb"
ENTRY_TRACE = "entries"
EXIT_TRACE_PREFIX = "exits: "


def wall(moment: datetime) -> datetime:
    """The NY wall-clock time without its offset, as the charts' x axis shows it."""
    return moment.replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class EquityPoint:
    time: datetime
    realized: float  # closed trades, net of commissions
    total: float  # realized + open positions marked at the last minute close


def equity_points(trades: Sequence[ReportTrade], bars: dict[str, list[Bar]]) -> list[EquityPoint]:
    """P&L since the open, marked to market at every minute close and stepping at each exit.

    An open position is valued at the close of its symbol's last completed minute (a bar's close
    is known at `bar.end`); without bars for a symbol only its realized result counts.
    """
    closes: dict[str, list[tuple[datetime, float]]] = {
        symbol: sorted((b.end, b.close) for b in series) for symbol, series in bars.items()
    }
    moments = {end for series in closes.values() for end, _ in series}
    moments |= {t.exit_time for t in trades if t.exit_time is not None}
    moments |= {t.entry_time for t in trades if t.entry_time is not None}
    points = []
    for moment in sorted(moments):
        realized = sum(t.net_pnl for t in trades if t.exit_time is not None and t.exit_time <= moment)
        open_value = 0.0
        for t in trades:
            if t.entry_time is None or t.entry_time > moment:
                continue
            if t.exit_time is not None and t.exit_time <= moment:
                continue
            last = _last_close(closes.get(t.symbol, []), moment)
            if last is not None:
                direction = 1.0 if t.side == "BUY" else -1.0
                open_value += direction * (last - t.entry_price) * t.qty
        points.append(EquityPoint(moment, realized, realized + open_value))
    return points


def _last_close(series: list[tuple[datetime, float]], moment: datetime) -> float | None:
    """Close of the last minute complete at `moment` (series sorted by end)."""
    index = bisect.bisect_right(series, moment, key=lambda item: item[0])
    return series[index - 1][1] if index else None


def equity_chart(trades: Sequence[ReportTrade], bars: dict[str, list[Bar]]) -> go.Figure:
    points = equity_points(trades, bars)
    fig = go.Figure()
    times = [wall(p.time) for p in points]
    fig.add_trace(go.Scatter(x=times, y=[p.total for p in points], mode="lines",
                             name="marked to market", line={"color": "#2563eb", "width": 2}))
    fig.add_trace(go.Scatter(x=times, y=[p.realized for p in points], mode="lines",
                             name="realized", line={"color": "#9aa5b1", "dash": "dot",
                                                    "shape": "hv"}))
    fig.update_layout(title="Equity change since the open ($, net of commissions)", height=320,
                      legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"})
    return fig


def price_chart(symbol: str, bars: Sequence[Bar], trades: Sequence[ReportTrade],
                vwap_period: int) -> go.Figure:
    """1-minute candles, VWAP(`vwap_period`) recomputed from the bars, and one marker per entry
    and per exit (exits labelled with their reason: target, stop, flatten)."""
    fig = go.Figure()
    if bars:
        frame = pd.DataFrame({"high": [b.high for b in bars], "low": [b.low for b in bars],
                              "close": [b.close for b in bars], "volume": [b.volume for b in bars]})
        starts = [wall(b.start) for b in bars]
        fig.add_trace(go.Candlestick(
            x=starts, open=[b.open for b in bars], high=frame["high"], low=frame["low"],
            close=frame["close"], name=f"{symbol} 1-min", showlegend=False,
            increasing={"line": {"color": "#26a69a"}}, decreasing={"line": {"color": "#ef5350"}},
        ))
        vwap = rolling_vwap(frame, vwap_period)
        fig.add_trace(go.Scatter(x=starts, y=vwap, mode="lines", name=f"VWAP({vwap_period})",
                                 line={"color": "#f59e0b", "width": 1.5}))
    entries = [t for t in trades if t.entry_time is not None]
    fig.add_trace(go.Scatter(
        x=[wall(t.entry_time) for t in entries if t.entry_time], y=[t.entry_price for t in entries],
        mode="markers", name=ENTRY_TRACE,
        marker={"symbol": "triangle-up", "size": 13, "color": ENTRY_COLOR,
                "line": {"width": 1, "color": "#ffffff"}},
        hovertext=[f"buy {t.qty} @ {t.entry_price:.2f}<br>{t.entry_reason}" for t in entries],
        hoverinfo="text+x",
    ))
    exits = [t for t in trades if t.exit_time is not None]
    for reason in sorted({t.exit_reason or "exit" for t in exits}):
        group = [t for t in exits if (t.exit_reason or "exit") == reason]
        fig.add_trace(go.Scatter(
            x=[wall(t.exit_time) for t in group if t.exit_time], y=[t.exit_price for t in group],
            mode="markers+text", name=EXIT_TRACE_PREFIX + reason, text=[reason] * len(group),
            textposition="bottom center", textfont={"size": 10, "color": EXIT_COLORS.get(reason, "#111")},
            marker={"symbol": "triangle-down", "size": 13, "color": EXIT_COLORS.get(reason, "#111"),
                    "line": {"width": 1, "color": "#ffffff"}},
            hovertext=[f"sell {t.qty} @ {t.exit_price:.2f} ({reason}), net {t.net_pnl:+.2f}"
                       for t in group],
            hoverinfo="text+x",
        ))
    net = sum(t.net_pnl for t in trades)
    fig.update_layout(
        title=f"{symbol}: {len(trades)} trade{'s' if len(trades) != 1 else ''}, net {net:+,.2f}",
        height=380, xaxis_rangeslider_visible=False,
        legend={"orientation": "h", "y": 1.1, "x": 1, "xanchor": "right"},
    )
    return fig
