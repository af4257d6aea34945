"""The cycle's first step: the reviewed day's metrics and the trailing window's, written to
`daily_metrics` (the day row) and returned for the report.

The window is the last 20 NYSE sessions up to the day, every one of them (zero P&L where the
bot made no trade or did not run), returns on the day's starting equity: exactly the definition
of a run's own row (`evaluation.performance.trailing_metrics`), so `daily_metrics.sharpe` means
one thing in every row. `sessions_run` says how many of those sessions the bot traded.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from evaluation.performance import (
    DAY_TRADER,
    SHARPE_SESSIONS,
    TradeRecord,
    compute_metrics,
    daily_pnl_series,
    metrics_by_label,
    record_day_metrics,
    trade_records,
    trailing_metrics,
)
from observability.history import HistoryDB
from trade.calendar import MarketCalendar


class NothingRecorded(ValueError):
    """No trade and no run row for the day: there is nothing to review."""


def trailing_sessions(calendar: MarketCalendar, day: date,
                      count: int = SHARPE_SESSIONS) -> list[date]:
    out = [day]
    while len(out) < count:
        out.append(calendar.previous_session(out[-1]).date)
    return out[::-1]


def night_metrics(db: HistoryDB, day: date, equity: float, allocation: float, variant: str,
                  calendar: MarketCalendar) -> tuple[dict[str, Any], list[TradeRecord]]:
    """(the report's `metrics` section, the window's recorded trades)."""
    day_rows = db.daily_metrics(DAY_TRADER, day, day, run_id=None)  # a quiet run counts too
    day_trades = trade_records(db, day, day)
    if not day_rows and not day_trades:
        raise NothingRecorded(f"nothing recorded for {day} in {db.path}: run the day trader "
                              "for that session first (or pick a date it traded)")
    sessions = trailing_sessions(calendar, day)
    rows = {r.trading_date: r for r in db.daily_metrics(DAY_TRADER, sessions[0], day,
                                                        run_id=None)}
    trades = trade_records(db, sessions[0], day)
    traded = {t.trading_date for t in trades}
    ran = [d for d in sessions if d in rows or d in traded]
    daily = daily_pnl_series(trades, sessions)
    day_metrics = compute_metrics(day_trades, daily_pnl_series(day_trades, [day]), equity,
                                  allocation)
    window = trailing_metrics(trades, sessions, equity, allocation)
    variants = {d: rows[d].variant for d in ran if d in rows and rows[d].variant}
    regimes = {d: s.regime for d in ran if (s := db.params_schedule(d)) and s.regime}
    record_day_metrics(db, day, day_metrics, variant=rows[day].variant if day in rows else variant,
                       window_sharpe=window.sharpe,
                       extra={"starting_equity": equity, "sharpe_window_sessions": len(sessions),
                              "sessions_run": len(ran), "regime": regimes.get(day, "")})
    metrics = {
        "day": day_metrics.as_dict(),
        "window": {"sessions": len(sessions), "sessions_run": len(ran),
                   "from": sessions[0].isoformat(), "to": sessions[-1].isoformat(),
                   **window.as_dict()},
        "by_variant": metrics_by_label(trades, daily, variants, equity, allocation),
        "by_regime": metrics_by_label(trades, daily, regimes, equity, allocation),
    }
    return metrics, trades
