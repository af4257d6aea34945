"""The nightly improvement cycle's part of the history DB: the cycle's one-transaction commit
(tuning trials, parameter changes, the LLM evaluation, the next session's params, the A/B test,
the cycle row) and what the next cycle and the next session read back.

A mixin of `HistoryDB` (see `history_base` for why the DB is composed of topic modules). The
cycle's writes are all-or-nothing, so a cycle killed half way leaves nothing of itself on file
and the next run finds no report for that date. The helpers `_canonical` and
`_schedule_from_db` live here because only this topic compares and schedules parameter sets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from observability.history_base import HistoryConnection, _json
from observability.redaction import redact_json, scrub_text
from observability.schema import (
    AB_TEST_STATUSES,
    EVALUATION_KINDS,
    PARAMETER_CHANGE_STATUSES,
    ABTestRow,
    ImprovementCycleCommit,
    ParamsScheduleRow,
    TuningTrialRow,
    check_choice,
    from_db_time,
    to_db_day,
    to_db_time,
)


class ImprovementHistory(HistoryConnection):
    """The nightly cycle's commit, its report, tuning trials, the params schedule, A/B tests."""

    # -- the nightly improvement cycle (improvement/) -------------------------------------------
    def commit_improvement_cycle(self, c: ImprovementCycleCommit) -> None:
        """Write one night's decisions in one transaction (trials, parameter changes, the LLM
        evaluation, the next session's params, the A/B test, the cycle row). A cycle already on
        file for the date is an error: callers check `improvement_cycle_report` first."""
        for change in c.changes:
            check_choice("status", change.status, PARAMETER_CHANGE_STATUSES)
        if c.evaluation is not None:
            check_choice("kind", c.evaluation.kind, EVALUATION_KINDS)
        for status in ([c.ab_start.status] if c.ab_start else []) + (
                [c.ab_update.status] if c.ab_update else []):
            check_choice("ab test status", status, AB_TEST_STATUSES)
        when = to_db_time(c.time)
        with self._span("commit_improvement_cycle"), self._guard():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for t in c.trials:
                    conn.execute(
                        "INSERT INTO tuning_trials (cycle_date, candidate, parameter, source, "
                        "sessions, sharpe, oos_pnl, current_oos_pnl, dsr, verdict, detail, time) "
                        f"VALUES ({', '.join('?' * 12)})",
                        (to_db_day(t.cycle_date), _canonical(t.candidate), t.parameter, t.source,
                         t.sessions, t.sharpe, t.oos_pnl, t.current_oos_pnl, t.dsr,
                         scrub_text(t.verdict), _json(t.detail), to_db_time(t.time)))
                for ch in c.changes:
                    conn.execute(
                        "INSERT INTO parameter_changes (time, parameter, old_value, new_value, "
                        "reason, source, status, variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (to_db_time(ch.time), ch.parameter, _json(ch.old_value),
                         _json(ch.new_value), scrub_text(ch.reason), ch.source, ch.status,
                         ch.variant))
                if c.evaluation is not None:
                    e = c.evaluation
                    conn.execute("INSERT INTO evaluations (time, kind, content, status) "
                                 "VALUES (?, ?, ?, ?)",
                                 (to_db_time(e.time), e.kind, _json(e.content), scrub_text(e.status)))
                ab_id = None
                if c.ab_start is not None:
                    a = c.ab_start
                    ab_id = conn.execute(
                        "INSERT INTO ab_tests (started, parameter, a_values, b_values, status, "
                        "looks, ended, reason, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (to_db_day(a.started), a.parameter, _canonical(a.a_values),
                         _canonical(a.b_values), a.status, a.looks,
                         to_db_day(a.ended) if a.ended else None, scrub_text(a.reason),
                         to_db_time(a.time))).lastrowid
                if c.ab_update is not None:
                    u = c.ab_update
                    conn.execute("UPDATE ab_tests SET status = ?, looks = ?, ended = ?, "
                                 "reason = ? WHERE id = ?",
                                 (u.status, u.looks, to_db_day(u.ended) if u.ended else None,
                                  scrub_text(u.reason), u.id))
                if c.schedule is not None:
                    s = c.schedule
                    conn.execute(
                        "INSERT INTO params_schedule (trading_date, variant, overrides, current, "
                        "regime, ab_test_id, cycle_date, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (trading_date) DO UPDATE SET variant = excluded.variant, "
                        "overrides = excluded.overrides, current = excluded.current, "
                        "regime = excluded.regime, ab_test_id = excluded.ab_test_id, "
                        "cycle_date = excluded.cycle_date, time = excluded.time",
                        (to_db_day(s.trading_date), s.variant, _canonical(s.overrides),
                         _canonical(s.current), s.regime,
                         ab_id if ab_id is not None else s.ab_test_id,
                         to_db_day(s.cycle_date), to_db_time(s.time)))
                conn.execute("INSERT INTO improvement_cycles (cycle_date, time, report) "
                             "VALUES (?, ?, ?)", (to_db_day(c.cycle_date), when, _json(c.report)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def improvement_cycle_report(self, day: date) -> dict[str, Any] | None:
        """The report of the cycle that ran after `day`'s close, or None if none completed."""
        rows = self._query("SELECT report FROM improvement_cycles WHERE cycle_date = ?",
                           (to_db_day(day),))
        return json.loads(rows[0][0]) if rows else None

    def tuning_trials(self) -> list[TuningTrialRow]:
        """Every candidate ever replayed, oldest first (the DSR's trial count and variance)."""
        rows = self._query(
            "SELECT id, cycle_date, candidate, parameter, source, sessions, sharpe, oos_pnl, "
            "current_oos_pnl, dsr, verdict, detail, time FROM tuning_trials ORDER BY id")
        return [TuningTrialRow(date.fromisoformat(r[1]), json.loads(r[2]), r[3], r[4], r[5], r[6],
                               r[7], r[8], r[9], r[10], from_db_time(r[12]), json.loads(r[11]),
                               id=r[0]) for r in rows]

    def params_schedule(self, day: date) -> ParamsScheduleRow | None:
        """The params row for session `day`, if a cycle scheduled one."""
        rows = self._query(f"SELECT {_SCHEDULE_COLUMNS} FROM params_schedule "
                           "WHERE trading_date = ?", (to_db_day(day),))
        return _schedule_from_db(rows[0]) if rows else None

    def params_schedule_before(self, day: date) -> ParamsScheduleRow | None:
        """The latest params row for a session before `day` (the params in force carry over)."""
        rows = self._query(f"SELECT {_SCHEDULE_COLUMNS} FROM params_schedule WHERE "
                           "trading_date < ? ORDER BY trading_date DESC LIMIT 1", (to_db_day(day),))
        return _schedule_from_db(rows[0]) if rows else None

    def ab_tests(self, status: str | None = None) -> list[ABTestRow]:
        """A/B tests (with `status`), oldest first."""
        sql, args = ("SELECT id, started, parameter, a_values, b_values, status, looks, ended, "
                     "reason, time FROM ab_tests"), []
        if status is not None:
            sql, args = sql + " WHERE status = ?", [status]
        return [ABTestRow(date.fromisoformat(r[1]), r[2], json.loads(r[3]), json.loads(r[4]),
                          from_db_time(r[9]), r[5], r[6],
                          date.fromisoformat(r[7]) if r[7] else None, r[8], id=r[0])
                for r in self._query(sql + " ORDER BY started, id", args)]


def _canonical(values: dict[str, Any]) -> str:
    """Parameter values as one canonical JSON text (sorted keys): equal sets compare equal."""
    return json.dumps(redact_json(values), sort_keys=True, separators=(",", ":"))


_SCHEDULE_COLUMNS = ("trading_date, overrides, current, cycle_date, time, variant, regime, "
                     "ab_test_id")


def _schedule_from_db(r: Sequence[Any]) -> ParamsScheduleRow:
    return ParamsScheduleRow(date.fromisoformat(r[0]), json.loads(r[1]), json.loads(r[2]),
                             date.fromisoformat(r[3]), from_db_time(r[4]), r[5], r[6], r[7])
