"""What a trading day leaves for the reports and the nightly cycle to read: each bot's daily
metrics, agent health samples, parameter changes, evaluations, and the session's minute bars (the
daily report's price charts).

A mixin of `HistoryDB` (see `history_base` for why the DB is composed of topic modules). A bot's
restart recovery reads none of these rows (the day trader's needs the trades, intents,
executions and books in `history.py`, the weekly bot's its cycles in `history_weekly.py`), so
they live apart from the records a restarted bot depends on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from observability.history_base import HistoryConnection, _json
from observability.redaction import scrub_text
from observability.schema import (
    EVALUATION_KINDS,
    HEALTH_STATUSES,
    PARAMETER_CHANGE_STATUSES,
    DailyMetricsRow,
    EvaluationRow,
    HealthRow,
    MinuteBarLike,
    MinuteBarRow,
    ParameterChangeRow,
    check_choice,
    from_db_time,
    to_db_day,
    to_db_time,
)

_NEW_YORK = ZoneInfo("America/New_York")


class MetricsHistory(HistoryConnection):
    """Daily metrics, health, parameter changes, evaluations and minute bars."""

    # -- metrics, health, parameter changes, evaluations -------------------------------------
    def record_daily_metrics(self, m: DailyMetricsRow) -> None:
        """Store a bot's metrics for a day (run id "" = the whole day, else one run's);
        recording the same (day, bot, run) again replaces them."""
        cols = ("trading_date, bot, run_id, trades, wins, win_rate, total_pnl, commissions, "
                "max_drawdown, sharpe, profit_factor, variant, extra")
        updates = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in cols.split(",")[3:])
        sql = (f"INSERT INTO daily_metrics ({cols}) VALUES ({', '.join('?' * 13)}) "
               f"ON CONFLICT (trading_date, bot, run_id) DO UPDATE SET {updates}")
        args = (to_db_day(m.trading_date), m.bot, m.run_id, m.trades, m.wins, m.win_rate,
                m.total_pnl, m.commissions, m.max_drawdown, m.sharpe, m.profit_factor, m.variant,
                _json(m.extra))
        self._write("record_daily_metrics", sql, args)

    def daily_metrics(self, bot: str, first: date, last: date,
                      run_id: str | None = "") -> list[DailyMetricsRow]:
        """The day rows (run id "", the default), one run's rows, or every row (`None`)."""
        sql = ("SELECT trading_date, bot, trades, wins, win_rate, total_pnl, max_drawdown, "
               "commissions, sharpe, profit_factor, variant, extra, run_id FROM daily_metrics "
               "WHERE bot = ? AND trading_date BETWEEN ? AND ?")
        args: list[Any] = [bot, to_db_day(first), to_db_day(last)]
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        rows = self._query(sql + " ORDER BY trading_date, id", args)
        return [DailyMetricsRow(
            trading_date=date.fromisoformat(r[0]), bot=r[1], trades=r[2], wins=r[3], win_rate=r[4],
            total_pnl=r[5], max_drawdown=r[6], commissions=r[7], sharpe=r[8], profit_factor=r[9],
            variant=r[10], extra=json.loads(r[11]), run_id=r[12]) for r in rows]

    def record_health(self, h: HealthRow) -> int:
        check_choice("status", h.status, HEALTH_STATUSES)
        sql = ("INSERT INTO agent_health (time, agent, status, cpu_pct, memory_mb, connected, "
               "connection_status, event_loop_lag_ms, data_staleness_s, actions, detail, run_id) "
               f"VALUES ({', '.join('?' * 12)})")
        args = (to_db_time(h.time), h.agent, h.status, h.cpu_pct, h.memory_mb, int(h.connected),
                h.connection_status, h.event_loop_lag_ms, h.data_staleness_s,
                _json(list(h.actions)), scrub_text(h.detail), h.run_id)
        return int(self._write("record_health", sql, args).lastrowid or 0)

    def health_since(self, since: datetime, agent: str | None = None) -> list[HealthRow]:
        sql = ("SELECT time, agent, status, cpu_pct, memory_mb, connected, event_loop_lag_ms, "
               "data_staleness_s, connection_status, actions, detail FROM agent_health "
               "WHERE time >= ?")
        args: list[Any] = [to_db_time(since, "since")]
        if agent is not None:
            sql += " AND agent = ?"
            args.append(agent)
        return [
            HealthRow(from_db_time(r[0]), r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8],
                      json.loads(r[9]), r[10])
            for r in self._query(sql + " ORDER BY time, id", args)
        ]

    def record_parameter_change(self, c: ParameterChangeRow) -> int:
        check_choice("status", c.status, PARAMETER_CHANGE_STATUSES)
        sql = ("INSERT INTO parameter_changes (time, parameter, old_value, new_value, reason, "
               "source, status, variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        args = (to_db_time(c.time), c.parameter, _json(c.old_value), _json(c.new_value),
                scrub_text(c.reason), c.source, c.status, c.variant)
        return int(self._write("record_parameter_change", sql, args).lastrowid or 0)

    def parameter_changes_since(self, since: datetime) -> list[ParameterChangeRow]:
        rows = self._query(
            "SELECT time, parameter, old_value, new_value, reason, source, status, variant "
            "FROM parameter_changes WHERE time >= ? ORDER BY time, id", (to_db_time(since),))
        return [ParameterChangeRow(from_db_time(r[0]), r[1], json.loads(r[2]), json.loads(r[3]),
                                   *r[4:]) for r in rows]

    def record_evaluation(self, e: EvaluationRow) -> int:
        check_choice("kind", e.kind, EVALUATION_KINDS)
        sql = "INSERT INTO evaluations (time, kind, content, status) VALUES (?, ?, ?, ?)"
        args = (to_db_time(e.time), e.kind, _json(e.content), e.status)
        return int(self._write("record_evaluation", sql, args).lastrowid or 0)

    def evaluations(self, kind: str | None = None, limit: int = 20) -> list[EvaluationRow]:
        """The latest `limit` evaluations (of `kind`), newest first."""
        sql, args = "SELECT id, time, kind, content, status FROM evaluations", []
        if kind is not None:
            sql, args = sql + " WHERE kind = ?", [kind]
        rows = self._query(sql + " ORDER BY time DESC, id DESC LIMIT ?", [*args, limit])
        return [EvaluationRow(from_db_time(r[1]), r[2], json.loads(r[3]), r[4], id=r[0])
                for r in rows]

    # -- minute bars (the daily report's price charts) --------------------------------------
    def record_minute_bars(self, day: date, bars: Sequence[MinuteBarLike]) -> None:
        """Store completed 1-minute bars of the NY session `day` in one transaction.

        Idempotent on (symbol, start): a bar recorded again (a gap backfill, a restart that
        replays the morning) replaces the stored one instead of adding a second row, so the
        report's chart never shows a minute twice. Times are stored as UTC ISO like every row.
        """
        if not bars:
            return
        rows = [(to_db_day(day), b.symbol, to_db_time(b.start, "bar start"), b.open, b.high,
                 b.low, b.close, b.volume) for b in bars]
        sql = ("INSERT INTO minute_bars (trading_date, symbol, start, open, high, low, close, "
               "volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (symbol, start) DO UPDATE SET "
               "trading_date = excluded.trading_date, open = excluded.open, high = excluded.high, "
               "low = excluded.low, close = excluded.close, volume = excluded.volume")
        if self._tracer is None:
            self._write_rows(sql, rows)
            return
        with self._tracer.start_as_current_span(
            "db.record_minute_bars",
            attributes={"db.system": "sqlite", "db.operation": "record_minute_bars"},
        ):
            self._write_rows(sql, rows)

    def minute_bars(self, day: date, symbol: str) -> list[MinuteBarRow]:
        """`symbol`'s stored bars of session `day` in start order, with NY start times."""
        rows = self._query(
            "SELECT symbol, start, open, high, low, close, volume FROM minute_bars "
            "WHERE trading_date = ? AND symbol = ? ORDER BY start", (to_db_day(day), symbol))
        return [MinuteBarRow(r[0], from_db_time(r[1]).astimezone(_NEW_YORK), *r[2:]) for r in rows]
