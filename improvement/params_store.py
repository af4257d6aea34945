"""The parameters a session trades with: tuned values from the history DB over the configured
defaults, the A/B variant of the day, or a `--params FILE.json` override.

The nightly cycle writes one `params_schedule` row for the next session (improvement/cycle.py);
`day_trader.py` reads it here before it loads the watchlist, so per-symbol watchlist overrides
still win over tuned defaults. Only the tuned values are stored, never whole `Params`: a
default changed in `.env` still takes effect for every parameter tuning has not touched.
When no row exists for the day (the cycle was skipped), the last scheduled current params carry
over, and a running A/B test still assigns the day its variant from the date.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from improvement.ab_assignment import variant_for
from improvement.bounds import param_names
from observability.history import HistoryDB
from trade.models import Params
from trade.refusal import Refused

log = logging.getLogger(__name__)


class ParamsFileError(Refused, ValueError):
    """A `--params` file that cannot be used; one line naming the problem and the fix."""


DEFAULTS = "configured defaults (no tuning recorded)"


@dataclass(frozen=True, slots=True)
class DayParams:
    params: Params
    variant: str = ""  # "" outside an A/B test, else "A" or "B"
    tuned: dict[str, Any] = field(default_factory=dict)  # the tuned values applied on the defaults
    source: str = DEFAULTS
    # the nightly report's plain line when the current parameters' expectancy is negative
    losing: str | None = None


def apply_tuned(base: Params, tuned: Mapping[str, Any]) -> Params:
    """`base` with the tuned values; a name this version of Params lacks is skipped (logged)."""
    known = param_names()
    usable = {k: v for k, v in tuned.items() if k in known}
    for name in sorted(set(tuned) - known):
        log.warning("tuned parameter %s is unknown to this version: ignored", name)
    return base.with_overrides(usable)


def params_for_day(db: HistoryDB, day: date, base: Params) -> DayParams:
    """What session `day` trades with (see the module docstring), with the last nightly
    report's line when those parameters lose (the start line says it)."""
    found = _scheduled_params(db, day, base)
    row = db.params_schedule(day) or db.params_schedule_before(day)
    if row is None:
        return found
    report = db.improvement_cycle_report(row.cycle_date) or {}
    earned = report.get("expectancy")
    losing = earned.get("line") if isinstance(earned, dict) else None
    return dataclasses.replace(found, losing=losing if isinstance(losing, str) else None)


def _scheduled_params(db: HistoryDB, day: date, base: Params) -> DayParams:
    row = db.params_schedule(day)
    if row is not None:
        label = f" (variant {row.variant})" if row.variant else ""
        return DayParams(apply_tuned(base, row.overrides), row.variant, dict(row.overrides),
                         f"scheduled by the cycle of {row.cycle_date}{label}")
    before = db.params_schedule_before(day)
    current = dict(before.current) if before else {}
    running = [t for t in db.ab_tests("running") if t.started <= day]
    if running:
        test = running[-1]
        variant = variant_for(day, test.started)
        tuned = dict(test.b_values) if variant == "B" else current
        return DayParams(apply_tuned(base, tuned), variant, tuned,
                         f"A/B test {test.id} ({test.parameter}), variant {variant} by date")
    if before is None:
        return DayParams(base)
    return DayParams(apply_tuned(base, current), "", current,
                     f"carried over from {before.trading_date} (no cycle scheduled {day})")


def day_params(db_path: Path | str, day: date, base: Params,
               params_file: str | Path | None = None) -> DayParams:
    """What day_trader.py trades session `day` with: `--params FILE.json` when given, else
    what the DB schedules over the configured parameters `base`."""
    if params_file:
        return params_from_file(params_file, base)
    return load_day_params(db_path, day, base)


def load_day_params(db_path: Path | str, day: date, base: Params) -> DayParams:
    """`params_for_day` on the DB at `db_path` (a DB that does not exist yet: the defaults)."""
    if str(db_path) != ":memory:" and not Path(db_path).exists():
        return DayParams(base)
    with HistoryDB.open(db_path) as db:
        return params_for_day(db, day, base)


def params_from_file(path: Path | str, base: Params) -> DayParams:
    """`--params FILE.json`: a JSON object of Params fields over `base`, for this run only."""
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsFileError(f"--params {where} not found: pass a JSON file such as "
                              '{"profit_target": 0.02}') from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ParamsFileError(f"--params {where} is not a readable JSON file ({exc}): use an "
                              'object such as {"profit_target": 0.02}') from None
    if not isinstance(data, dict):
        raise ParamsFileError(f"--params {where} must hold a JSON object of parameter -> value, "
                              'e.g. {"profit_target": 0.02}')
    try:
        params = base.with_overrides(data)
    except (TypeError, ValueError) as exc:
        raise ParamsFileError(f"--params {where}: {exc}") from None
    return DayParams(params, "", dict(data), f"--params {where}")


def current_tuned(db: HistoryDB, day: date) -> dict[str, Any]:
    """The current params' (A's) tuned values in force on `day` (a B day still has an A)."""
    row = db.params_schedule(day) or db.params_schedule_before(day)
    return dict(row.current) if row else {}
