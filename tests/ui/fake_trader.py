"""A trader-shaped object for the status server's unit tests: it holds positions, takes bars and
records what the controls asked, behind the same `TraderControls` surface the real
`IntradayTrader` offers (the browser test drives the real one through `day_trader.py --sim`)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


class FakeTrader:
    def __init__(self) -> None:
        self.now = datetime(2025, 7, 3, 10, 0, tzinfo=NY)
        self.entries_paused: str | None = None
        self.flattening = False
        self.flat_at: str | None = None
        self.positions: dict[str, dict[str, Any]] = {}
        self.decisions: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        self.snapshots_taken = 0
        self.fail_snapshot = False
        self.flatten_gate: asyncio.Event | None = None

    def hold(self, symbol: str, qty: int, cost: float) -> None:
        self.positions[symbol] = {"symbol": symbol, "qty": qty, "avg_cost": cost, "last": cost,
                                  "unrealized": 0.0, "exits": [
                                      {"order_ref": f"DT-20250703-{symbol}-1-TP", "type": "LMT", "qty": qty,
                                       "limit": round(cost * 1.014, 2), "stop": None,
                                       "status": "Submitted", "good_after": None},
                                      {"order_ref": f"DT-20250703-{symbol}-1-SL", "type": "STP", "qty": qty,
                                       "limit": None, "stop": round(cost * 0.992, 2),
                                       "status": "Submitted", "good_after": None}]}

    def bar(self, symbol: str, close: float, verdict: str = "hold", reason: str = "RSI 64 >= 60") -> None:
        self.now += timedelta(minutes=1)
        self.decisions[symbol] = {"time": self.now.isoformat(), "verdict": verdict, "reason": reason}
        if symbol in self.positions:
            p = self.positions[symbol]
            p["last"], p["unrealized"] = close, round((close - p["avg_cost"]) * p["qty"], 2)

    # -- TraderControls ---------------------------------------------------------------------
    def status_snapshot(self) -> dict[str, Any]:
        self.snapshots_taken += 1
        if self.fail_snapshot:
            raise RuntimeError("book is being rebuilt")
        return {
            "time": self.now.isoformat(), "day": self.now.date().isoformat(),
            "connection": "connected", "reconnects": 0, "entries_paused": self.entries_paused,
            "flattening": self.flattening, "flat_at": self.flat_at,
            "positions": list(self.positions.values()), "working_orders": [],
            "realized_pnl": sum(t["pnl"] for t in self.trades),
            "unrealized_pnl": sum(p["unrealized"] for p in self.positions.values()),
            "trades": list(self.trades), "decisions": dict(self.decisions),
            "health": {"status": "normal", "detail": "all checks normal", "time": self.now.isoformat()},
        }

    def pause_entries(self, by: str) -> None:
        self.calls.append(("pause", by))
        self.entries_paused = by

    def resume_entries(self, by: str) -> None:
        self.calls.append(("resume", by))
        self.entries_paused = None

    async def flatten_now(self, by: str) -> None:
        self.calls.append(("flatten", by))
        self.flattening = True
        if self.flatten_gate is not None:
            await self.flatten_gate.wait()
        for symbol, p in list(self.positions.items()):
            self.trades.append({"symbol": symbol, "qty": p["qty"], "pnl": p["unrealized"],
                                "exit_reason": "flatten"})
        self.positions.clear()
        self.flattening = False
        self.flat_at = self.now.isoformat()
