"""What a backtest returns: round trips per session, the sessions, the metrics, the JSON.

Both engines fill the same types, so "identical trades" is a plain equality of `Trade` values
(times, quantities, prices and commissions as exact floats), and the JSON is written by one
function: the same inputs give byte-identical files whatever engine or worker count produced
them. Trade fields in the JSON are the run log's (`trade.intraday.run_log.trade_entry`: prices
to 4 decimals, `pnl` net of commissions to the cent) plus the session `date`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from evaluation.performance import Metrics, TradeRecord, compute_metrics
from trade.models import Params


@dataclass(frozen=True, slots=True)
class Trade:
    """One closed round trip of the day trader (long: bought at entry, sold at exit)."""

    symbol: str
    qty: int
    entry_time: datetime
    entry_price: float
    exit_time: datetime
    exit_price: float
    exit_reason: str  # target | stop | flatten
    commission: float  # both legs
    gross_pnl: float  # (exit - entry) x qty

    @property
    def pnl(self) -> float:
        """Net of commissions, as the run log reports it."""
        return self.gross_pnl - self.commission

    def as_run_log(self, day: date) -> dict[str, Any]:
        return {
            "date": day.isoformat(),
            "symbol": self.symbol,
            "qty": self.qty,
            "entry_time": self.entry_time.isoformat(),
            "entry_price": round(self.entry_price, 4),
            "exit_time": self.exit_time.isoformat(),
            "exit_price": round(self.exit_price, 4),
            "exit_reason": self.exit_reason,
            "pnl": round(self.pnl, 2),
            "commission": round(self.commission, 4),
        }

    def record(self, day: date) -> TradeRecord:
        return TradeRecord(self.symbol, day, self.entry_time, self.exit_time, self.qty,
                           self.entry_price, self.exit_price, self.gross_pnl, self.commission,
                           exit_reason=self.exit_reason)


@dataclass(frozen=True, slots=True)
class DayResult:
    """One session: its round trips in the order they closed, and when the bot was flat
    (None: no symbol passed the pre-market analyst, the trader never ran)."""

    day: date
    trades: tuple[Trade, ...] = ()
    flat_at: datetime | None = None
    kept: tuple[str, ...] = ()  # the symbols the analyst kept, in subscription order

    @property
    def pnl(self) -> float:
        return sum(t.pnl for t in self.trades)

    def records(self) -> list[TradeRecord]:
        return [t.record(self.day) for t in self.trades]


class SessionTrades(Protocol):
    """A session's trades as metrics need them (`DayResult`, or the fast engine's arrays)."""

    @property
    def day(self) -> date: ...

    @property
    def pnl(self) -> float: ...

    def records(self) -> list[TradeRecord]: ...


@dataclass(slots=True)
class BacktestResult:
    engine: str
    params: Params
    starting_equity: float
    allocation: float
    days: list[DayResult] = field(default_factory=list)

    @property
    def trades(self) -> list[tuple[date, Trade]]:
        return [(d.day, t) for d in self.days for t in d.trades]

    def metrics(self) -> Metrics:
        return metrics_of(self.days, self.starting_equity, self.allocation)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "backtest",
            "engine": self.engine,
            "starting_equity": self.starting_equity,
            "allocation": self.allocation,
            "params": self.params.as_dict(),
            "days": [{"date": d.day.isoformat(), "pnl": round(d.pnl, 2), "trades": len(d.trades),
                      "flat_at": d.flat_at.isoformat() if d.flat_at else None} for d in self.days],
            "trades": [t.as_run_log(day) for day, t in self.trades],
            "metrics": self.metrics().as_dict(),
        }

    def to_json(self) -> str:
        return dumps(self.as_dict())


def metrics_of(days: Sequence[SessionTrades], equity: float, allocation: float) -> Metrics:
    """`evaluation.performance.compute_metrics` over every session (quiet ones count as 0)."""
    records = [r for d in days for r in d.records()]
    daily = [(d.day, d.pnl) for d in days]
    return compute_metrics(records, daily, equity, allocation)


def dumps(document: dict[str, Any]) -> str:
    """The one JSON writer: fixed key order, two-space indent, a final newline."""
    return json.dumps(document, indent=2, allow_nan=False) + "\n"
