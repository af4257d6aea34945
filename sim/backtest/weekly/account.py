"""The backtest's account: cash, whole-share positions, every execution, and round trips.

A round trip is what the tearsheet's trade table shows (the intraday backtest's `trades`): shares
bought at one price and later sold at another, matched first in, first out, with their share of
both orders' commissions. A rebalance that trims a position closes part of a lot ("trim"); a
name leaving the book closes the rest ("exit"); a name whose data ends is sold at its last close
("data ended"). Positions still open at the end are marked at the last close, not closed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sim.backtest.weekly.fills import SimulatedFill
from sim.market.sessions import session_bounds
from trade.models import Side


@dataclass(slots=True)
class TaxLot:
    qty: int
    price: float
    day: date
    commission_per_share: float


@dataclass(frozen=True, slots=True)
class BacktestExecution:
    day: date
    symbol: str
    side: Side
    qty: int
    price: float
    ref_price: float
    commission: float
    slippage: float  # dollars against the reference price

    def as_dict(self) -> dict[str, Any]:
        move = (self.price / self.ref_price - 1.0) * (1 if self.side is Side.BUY else -1)
        return {"date": self.day.isoformat(), "symbol": self.symbol, "side": self.side.value,
                "qty": self.qty, "price": round(self.price, 4), "ref_price": self.ref_price,
                "slippage_bps": round(move * 10_000.0, 2), "commission": round(self.commission, 4)}


@dataclass(frozen=True, slots=True)
class ClosedLot:
    symbol: str
    qty: int
    entry_day: date
    entry_price: float
    exit_day: date
    exit_price: float
    exit_reason: str  # exit | trim | data ended
    commission: float  # both legs' share
    gross: float

    @property
    def pnl(self) -> float:
        return self.gross - self.commission

    def as_dict(self) -> dict[str, Any]:
        """The intraday backtest's trade fields (sim/backtest/result.py), `date` = the exit."""
        return {"date": self.exit_day.isoformat(), "symbol": self.symbol, "qty": self.qty,
                "entry_time": _open_of(self.entry_day).isoformat(),
                "entry_price": round(self.entry_price, 4),
                "exit_time": _open_of(self.exit_day).isoformat(),
                "exit_price": round(self.exit_price, 4), "exit_reason": self.exit_reason,
                "pnl": round(self.pnl, 2), "commission": round(self.commission, 4)}


def _open_of(day: date) -> datetime:
    return session_bounds(day)[0]


@dataclass(slots=True)
class BacktestAccount:
    cash: float
    positions: dict[str, int] = field(default_factory=dict)
    lots: dict[str, deque[TaxLot]] = field(default_factory=dict)
    executions: list[BacktestExecution] = field(default_factory=list)
    trips: list[ClosedLot] = field(default_factory=list)

    def value(self, prices: Mapping[str, float]) -> float:
        """Net liquidation: cash plus the positions at `prices`."""
        return self.cash + sum(q * prices[s] for s, q in self.positions.items())

    def buy(self, day: date, symbol: str, qty: int, ref: float, done: SimulatedFill) -> None:
        self.cash -= qty * done.price + done.commission
        self.positions[symbol] = self.positions.get(symbol, 0) + qty
        self.lots.setdefault(symbol, deque()).append(
            TaxLot(qty, done.price, day, done.commission / qty))
        self.executions.append(BacktestExecution(day, symbol, Side.BUY, qty, done.price, ref,
                                                 done.commission, done.slippage))

    def sell(self, day: date, symbol: str, qty: int, ref: float, done: SimulatedFill,
             reason: str) -> None:
        held = self.positions.get(symbol, 0)
        if not 0 < qty <= held:
            raise ValueError(f"sell {qty} {symbol}: the account holds {held}")
        self.cash += qty * done.price - done.commission
        left = held - qty
        if left:
            self.positions[symbol] = left
        else:
            del self.positions[symbol]
        self.executions.append(BacktestExecution(day, symbol, Side.SELL, qty, done.price, ref,
                                                 done.commission, done.slippage))
        exit_share = done.commission / qty
        lots = self.lots[symbol]
        while qty:
            lot = lots[0]
            take = min(qty, lot.qty)
            commission = take * (lot.commission_per_share + exit_share)
            self.trips.append(ClosedLot(symbol, take, lot.day, lot.price, day, done.price,
                                        reason, commission, take * (done.price - lot.price)))
            lot.qty -= take
            qty -= take
            if not lot.qty:
                lots.popleft()
