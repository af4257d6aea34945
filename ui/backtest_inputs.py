"""The backtester's JSON, read and checked for the tearsheet.

Two kinds (what `sim.backtest` writes):
- a backtest: `{"kind": "backtest", "starting_equity", "allocation", "params", "engine",
  "days": [{"date", "pnl", "trades", "flat_at"}], "trades": [{"date", "symbol", "qty",
  "entry_time", "entry_price", "exit_time", "exit_price", "exit_reason", "pnl", "commission"}],
  "metrics": {...}}` (a file without `kind` but with `days` is a backtest); the weekly backtest
  (`engine` "weekly", one `days` row per rebalance) adds `benchmarks` ({key: {"label", "equity":
  [one value per `days` row], "metrics"}}) and `notes` (lines the reader must see);
- a sweep: `{"kind": "sweep", "engine", "sessions": {"symbols", "from", "to"},
  "rows": [{"params": {...}, "metrics": {...}}]}`.
P&L follows the run log: a trade's and a day's `pnl` are net of commissions. A malformed file is
one `TearsheetInputError` naming the field, never a half-drawn page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeGuard


class TearsheetInputError(Exception):
    """The input cannot be drawn; one line naming the file, the field and the fix."""


@dataclass(frozen=True, slots=True)
class BacktestDay:
    day: date
    pnl: float
    trades: int
    flat_at: str | None


@dataclass(frozen=True, slots=True)
class BacktestTrade:
    day: date
    symbol: str
    qty: int
    entry_time: str
    entry_price: float
    exit_time: str
    exit_price: float
    exit_reason: str
    pnl: float
    commission: float


@dataclass(frozen=True, slots=True)
class BenchmarkLine:
    """A line the backtest is measured against: its equity at each day (after sorting) and its
    metrics."""

    label: str
    equity: list[float]
    metrics: dict[str, Any]


@dataclass(slots=True)
class Backtest:
    starting_equity: float
    allocation: float | None
    params: dict[str, Any]
    engine: str
    days: list[BacktestDay]
    trades: list[BacktestTrade]
    metrics: dict[str, Any] = field(default_factory=dict)
    benchmarks: list[BenchmarkLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SweepCell:
    params: dict[str, Any]
    metrics: dict[str, Any]


@dataclass(slots=True)
class Sweep:
    engine: str
    symbols: list[str]
    first: str
    last: str
    rows: list[SweepCell]

    @property
    def parameters(self) -> list[str]:
        """Parameter names in first-seen order."""
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(row.params))
        return list(names)

    @property
    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(k for k, v in row.metrics.items() if _is_number(v)))
        return list(names)

    def varying(self) -> list[str]:
        """Parameters that take more than one value across the rows (the sweep's axes)."""
        return [p for p in self.parameters
                if len({json.dumps(r.params.get(p)) for r in self.rows}) > 1]


def load(path: Path) -> Backtest | Sweep:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TearsheetInputError(f"{path} does not exist: pass the JSON a backtest wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TearsheetInputError(f"{path} cannot be read ({exc}): pass a backtest JSON file") from None
    except ValueError as exc:
        raise TearsheetInputError(f"{path} is not valid JSON ({exc}): pass a backtest JSON file") from None
    if not isinstance(data, dict):
        raise TearsheetInputError(f"{path} is not a JSON object: pass a backtest or sweep JSON")
    kind = data.get("kind")
    if kind == "sweep":
        return _sweep(path, data)
    if kind == "backtest" or (kind is None and "days" in data):
        return _backtest(path, data)
    raise TearsheetInputError(
        f"{path}: kind={kind!r} is invalid: use a backtest (kind \"backtest\", or \"days\" present) "
        "or a sweep (kind \"sweep\")"
    )


def _backtest(path: Path, data: dict[str, Any]) -> Backtest:
    where = _Where(path)
    days = [
        BacktestDay(where.day(d, f"days[{i}].date"), where.number(d, "pnl", f"days[{i}]"),
                    int(where.number(d, "trades", f"days[{i}]", 0)), d.get("flat_at"))
        for i, d in enumerate(where.items(data, "days"))
    ]
    if not days:
        raise TearsheetInputError(f"{path}: days is empty: a backtest needs at least one session")
    benchmarks = _benchmarks(path, data.get("benchmarks"), days)
    days.sort(key=lambda d: d.day)
    trades = []
    for i, t in enumerate(where.items(data, "trades", required=False)):
        at = f"trades[{i}]"
        trades.append(BacktestTrade(
            where.day(t, f"{at}.date"), str(t.get("symbol") or "?"),
            int(where.number(t, "qty", at)), str(t.get("entry_time") or ""),
            where.number(t, "entry_price", at), str(t.get("exit_time") or ""),
            where.number(t, "exit_price", at), str(t.get("exit_reason") or ""),
            where.number(t, "pnl", at), where.number(t, "commission", at, 0.0),
        ))
    equity = where.number(data, "starting_equity", "")
    if equity <= 0:
        raise TearsheetInputError(f"{path}: starting_equity={equity} is invalid: use a positive amount")
    allocation = data.get("allocation")
    return Backtest(
        starting_equity=equity,
        allocation=float(allocation) if _is_number(allocation) else None,
        params=dict(data.get("params") or {}), engine=str(data.get("engine") or "unknown"),
        days=days, trades=trades, metrics=dict(data.get("metrics") or {}),
        benchmarks=benchmarks, notes=[str(n) for n in data.get("notes") or []],
    )


def _benchmarks(path: Path, given: Any, days: list[BacktestDay]) -> list[BenchmarkLine]:
    """Benchmark lines re-ordered with the days (the file's order is not trusted)."""
    if given is None:
        return []
    if not isinstance(given, dict):
        raise TearsheetInputError(f"{path}: benchmarks must be an object of name -> "
                                  '{"label", "equity", "metrics"}: fix the file')
    order = sorted(range(len(days)), key=lambda i: days[i].day)
    out = []
    for key, line in given.items():
        equity = line.get("equity") if isinstance(line, dict) else None
        if not isinstance(equity, list) or len(equity) != len(days) or not all(
                _is_number(v) for v in equity):
            raise TearsheetInputError(
                f"{path}: benchmarks.{key}.equity must hold one number per days row "
                f"({len(days)}): fix the file")
        metrics = line.get("metrics") if isinstance(line.get("metrics"), dict) else {}
        out.append(BenchmarkLine(str(line.get("label") or key),
                                 [float(equity[i]) for i in order], dict(metrics)))
    return out


def _sweep(path: Path, data: dict[str, Any]) -> Sweep:
    where = _Where(path)
    rows = []
    for i, row in enumerate(where.items(data, "rows")):
        params, metrics = row.get("params"), row.get("metrics")
        if not isinstance(params, dict) or not isinstance(metrics, dict):
            raise TearsheetInputError(
                f"{path}: rows[{i}] needs \"params\" and \"metrics\" objects: fix the sweep file")
        rows.append(SweepCell(params, metrics))
    if not rows:
        raise TearsheetInputError(f"{path}: rows is empty: a sweep needs at least one result")
    sessions = data.get("sessions")
    if not isinstance(sessions, dict):
        sessions = {}
    return Sweep(str(data.get("engine") or "unknown"), [str(s) for s in sessions.get("symbols") or []],
                 str(sessions.get("from") or "?"), str(sessions.get("to") or "?"), rows)


class _Where:
    """Field readers that name the file and the field in their one-line error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self, data: dict[str, Any], key: str, required: bool = True) -> list[dict[str, Any]]:
        value = data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise TearsheetInputError(f"{self.path}: {key} must be a list of objects: fix the file")
        return value

    def number(self, data: dict[str, Any], key: str, at: str, default: float | None = None) -> float:
        value = data.get(key, default)
        if not _is_number(value):
            name = f"{at}.{key}" if at else key
            raise TearsheetInputError(f"{self.path}: {name}={value!r} is invalid: use a number")
        return float(value)

    def day(self, data: dict[str, Any], name: str) -> date:
        text = data.get("date")
        try:
            return date.fromisoformat(str(text)[:10])
        except ValueError:
            raise TearsheetInputError(
                f"{self.path}: {name}={text!r} is invalid: use a date YYYY-MM-DD") from None


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
