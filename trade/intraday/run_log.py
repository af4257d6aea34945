"""The day trader's run log: `logs/day_trader_run_<date>_<HHMMSS>-<id>.json`, one per run.

One JSON document per run that a person (or the nightly improvement cycle) can read without the
DB: what was traded, why symbols were kept or dropped, when the bot confirmed it was flat,
reconnects and health events. Every run of a day gets its own file (its run id is in the name
and in every DB row the run wrote), so a second run of the same date — a restart, a `make run`
the morning after a real session — never overwrites the first. Times are ISO-8601 with their UTC
offset. Account ids never appear (docs/conventions.md: secrets and full account numbers stay out of logs).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from trade.intraday.ledger import RoundTrip


def trade_entry(trip: RoundTrip) -> dict[str, Any]:
    """A round trip as the run log reports it (`pnl` is net of commissions)."""
    return {
        "symbol": trip.symbol,
        "qty": trip.entry_qty,
        "entry_time": trip.entry_time.isoformat() if trip.entry_time else None,
        "entry_price": round(trip.entry_price, 4),
        "exit_time": trip.exit_time.isoformat() if trip.exit_time else None,
        "exit_price": round(trip.exit_price, 4),
        "exit_reason": trip.exit_reason,
        "pnl": round(trip.pnl, 2),
        "commission": round(trip.commission, 4),
    }


def new_run_id(day: date, now: datetime) -> str:
    """`<date>_<HHMMSS>-<4 hex>`: sorts by start time, unique across runs and processes."""
    return f"{day.isoformat()}_{now:%H%M%S}-{secrets.token_hex(2)}"


def run_logs_of(logs_dir: Path | str, day: date) -> list[Path]:
    """Every run log of `day` in `logs_dir`, oldest run first."""
    return sorted(Path(logs_dir).glob(f"day_trader_run_{day.isoformat()}*.json"))


@dataclass(slots=True)
class RunLog:
    day: date
    allocation: float
    params: dict[str, Any]
    watchlist: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"kept": [], "dropped": []})
    trades: list[dict[str, Any]] = field(default_factory=list)
    flat_at: datetime | None = None
    reconnects: int = 0
    health_events: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    stopped_by: str = "close"
    run_id: str = ""
    exact_pnl: float | None = None  # the trades' unrounded net P&L (set by the trader)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def realized_pnl(self) -> float:
        """Net P&L of the run's trades, rounded once (the DB's sum rounds the same way)."""
        if self.exact_pnl is not None:
            return round(self.exact_pnl, 2)
        return round(sum(t["pnl"] for t in self.trades), 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "date": self.day.isoformat(),
            "allocation": self.allocation,
            "params": self.params,
            "watchlist": self.watchlist,
            "trades": self.trades,
            "realized_pnl": self.realized_pnl,
            "flat_at": self.flat_at.isoformat() if self.flat_at else None,
            "reconnects": self.reconnects,
            "health_events": self.health_events,
            "rejections": self.rejections,
            "warnings": self.warnings,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "stopped_by": self.stopped_by,
            **self.extra,
        }

    def write(self, logs_dir: Path) -> Path:
        """Write atomically (temp file + rename) so a reader never sees half a log."""
        logs_dir.mkdir(parents=True, exist_ok=True)
        name = f"day_trader_run_{self.run_id}" if self.run_id else f"day_trader_run_{self.day}"
        path = logs_dir / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.as_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path
