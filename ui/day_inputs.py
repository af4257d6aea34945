"""Everything the daily report shows about one trading day, gathered from where the bot wrote it.

Sources, each optional (the report renders what exists and names what does not):
- the history DB: trades, order intents, executions, health rows, parameter changes,
  evaluations and the day's 1-minute bars (`HistoryDB.minute_bars`);
- the run log(s) `logs/day_trader_run_<date>*.json`: watchlist verdicts with reasons, params,
  health events, reconnects, rejections, warnings (a restarted day has one file per run; the
  newest carries the whole day's trades, every run carries its own events);
- the improvement cycle's `reports/improvement/improvement_report_<date>.json`.
A day for which none of them holds anything is bad input (`ReportInputError`), not an empty page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from observability.history import HistoryDB, HistoryDBError
from observability.schema import (
    EvaluationRow,
    ExecutionRow,
    HealthRow,
    IntentRow,
    ParameterChangeRow,
    TradeRow,
)
from trade.models import Bar

NY = ZoneInfo("America/New_York")
BOOK = "intraday"  # the day trader's book in the DB (trade.intraday.trader.BOOK)
HEALTH_AGENT = "day-trader"


class ReportInputError(Exception):
    """The report cannot be made from what was given; one line naming the input and the fix."""


@dataclass(frozen=True, slots=True)
class ReportTrade:
    """One round trip as the report shows it; `net_pnl` is after commissions."""

    symbol: str
    side: str
    qty: int
    entry_time: datetime | None
    entry_price: float
    exit_time: datetime | None
    exit_price: float
    exit_reason: str
    net_pnl: float
    commission: float
    entry_reason: str = ""
    variant: str = ""
    order_ref: str = ""

    @classmethod
    def from_row(cls, row: TradeRow) -> ReportTrade:
        return cls(row.symbol, row.side, row.qty, row.entry_time.astimezone(NY), row.entry_price,
                   row.exit_time.astimezone(NY), row.exit_price, row.exit_reason, row.net_pnl,
                   row.commission, row.reason, row.variant, row.order_ref)

    @classmethod
    def from_run_log(cls, entry: dict[str, Any]) -> ReportTrade:
        return cls(
            symbol=str(entry.get("symbol", "?")), side="BUY", qty=int(entry.get("qty") or 0),
            entry_time=_time(entry.get("entry_time")),
            entry_price=float(entry.get("entry_price") or 0.0),
            exit_time=_time(entry.get("exit_time")), exit_price=float(entry.get("exit_price") or 0.0),
            exit_reason=str(entry.get("exit_reason") or ""), net_pnl=float(entry.get("pnl") or 0.0),
            commission=float(entry.get("commission") or 0.0),
        )


@dataclass(frozen=True, slots=True)
class RunLogFile:
    path: Path
    data: dict[str, Any]


@dataclass(slots=True)
class DayInputs:
    day: date
    trades: list[ReportTrade] = field(default_factory=list)
    trades_source: str = ""
    bars: dict[str, list[Bar]] = field(default_factory=dict)
    run_logs: list[RunLogFile] = field(default_factory=list)  # oldest first
    intents: list[IntentRow] = field(default_factory=list)
    executions: list[ExecutionRow] = field(default_factory=list)
    health: list[HealthRow] = field(default_factory=list)
    parameter_changes: list[ParameterChangeRow] = field(default_factory=list)
    evaluations: list[EvaluationRow] = field(default_factory=list)
    improvement: dict[str, Any] | None = None
    improvement_path: Path | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def run_log(self) -> dict[str, Any]:
        """The newest run of the day (its watchlist, params and trade list), or {}."""
        return self.run_logs[-1].data if self.run_logs else {}

    @property
    def traded_symbols(self) -> list[str]:
        return sorted({t.symbol for t in self.trades})

    def run_items(self, key: str) -> list[Any]:
        """A per-run list (health_events, rejections, warnings, control_actions) over all runs."""
        items: list[Any] = []
        for run in self.run_logs:
            value = run.data.get(key)
            if isinstance(value, list):
                items.extend(value)
        return items


def load_day(day: date, db_path: Path, logs_dir: Path, improvement_dir: Path) -> DayInputs:
    """Gather the day; raises `ReportInputError` when nothing at all was recorded for it."""
    inputs = DayInputs(day)
    inputs.run_logs = _run_logs(day, logs_dir, inputs.missing)
    if db_path.is_file():
        _from_db(inputs, db_path)
    else:
        inputs.missing.append(f"no history DB at {db_path}: trades come from the run log, "
                              "and there are no price charts, orders or health rows")
    if not inputs.trades and inputs.run_log.get("trades"):
        inputs.trades = [ReportTrade.from_run_log(t) for t in inputs.run_log["trades"]
                         if isinstance(t, dict)]
        inputs.trades_source = f"run log {inputs.run_logs[-1].path.name}"
    if not inputs.run_logs:
        inputs.missing.append(f"no run log logs/day_trader_run_{day}*.json in {logs_dir}: "
                              "no watchlist verdicts, params, reconnects or rejections")
    inputs.improvement_path = improvement_dir / f"improvement_report_{day}.json"
    inputs.improvement = _json_file(inputs.improvement_path, inputs.missing)
    if not inputs.improvement_path.is_file():
        inputs.missing.append(f"no improvement report {inputs.improvement_path}: the improvement "
                              "cycle did not run for this day (or wrote elsewhere)")
    if not (inputs.trades or inputs.run_logs or inputs.health or inputs.bars or inputs.intents):
        from trade.calendar import MarketCalendar

        if not MarketCalendar().is_trading_day(day):
            raise ReportInputError(f"--date {day} is not an NYSE session: use a trading day")
        raise ReportInputError(
            f"--date {day}: nothing recorded for that day (no run log in {logs_dir}, no trades, "
            f"orders, bars or health rows in {db_path}): pick a day the bot traded, or point "
            "--db/--logs at its files"
        )
    return inputs


def _from_db(inputs: DayInputs, db_path: Path) -> None:
    day = inputs.day
    start = datetime.combine(day, time(0, 0), NY)
    end = start + timedelta(days=1)
    try:
        db = HistoryDB.open(db_path)
    except HistoryDBError as exc:
        raise ReportInputError(f"--db {db_path}: {exc}") from None
    try:
        rows = db.trades_on(day, book=BOOK)
        if rows:
            inputs.trades = [ReportTrade.from_row(r) for r in rows]
            inputs.trades_source = f"history DB {db_path.name}"
        inputs.intents = db.intents_on(day, book=BOOK)
        inputs.executions = [e for e in db.executions_since(start, book=BOOK) if e.time < end]
        inputs.health = [h for h in db.health_since(start, agent=HEALTH_AGENT) if h.time < end]
        inputs.parameter_changes = [c for c in db.parameter_changes_since(start) if c.time < end]
        inputs.evaluations = [e for e in db.evaluations(limit=200) if start <= e.time < end]
        for symbol in sorted({t.symbol for t in inputs.trades}):
            stored = db.minute_bars(day, symbol)
            if stored:
                inputs.bars[symbol] = [Bar(symbol, b.start, b.open, b.high, b.low, b.close,
                                           b.volume) for b in stored]
            else:
                inputs.missing.append(f"no minute bars recorded for {symbol} on {day}: its chart "
                                      "shows the trades without prices")
    finally:
        db.close()


def _run_logs(day: date, logs_dir: Path, missing: list[str]) -> list[RunLogFile]:
    found = []
    # a simulated day's run logs are kept apart from real ones, in logs/sim/
    paths = [*logs_dir.glob(f"day_trader_run_{day.isoformat()}*.json"),
             *(logs_dir / "sim").glob(f"day_trader_run_{day.isoformat()}*.json")]
    for path in sorted(paths, key=lambda p: (p.stat().st_mtime, p.name)):
        data = _json_file(path, missing)
        if isinstance(data, dict):
            found.append(RunLogFile(path, data))
    return found


def _json_file(path: Path, missing: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        missing.append(f"{path} could not be read ({exc}); left out")
        return None
    if not isinstance(data, dict):
        missing.append(f"{path} is not a JSON object; left out")
        return None
    return data


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment.astimezone(NY) if moment.tzinfo else moment.replace(tzinfo=NY)
