"""Backtest and sweep JSON in the backtester's format, generated from a seed (no hand-written
files): what `ui.tearsheet` is tested against until `sim.backtest` writes the real thing."""

from __future__ import annotations

import json
import math
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
PARAMS = {"profit_target": 0.014, "stop_loss": 0.008, "rsi_max": 60.0, "atr_min_pct": 0.0015,
          "vwap_period": 20, "rsi_period": 14, "atr_period": 14, "position_pct": None}


def sessions(first: date, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def make_backtest(*, seed: int = 7, sessions_count: int = 60, symbols: tuple[str, ...] = ("SPY", "QQQ", "NVDA"),
                  first: date = date(2025, 3, 3), starting_equity: float = 100_000.0,
                  with_kind: bool = True) -> dict[str, Any]:
    rng = random.Random(seed)
    days, trades = [], []
    for day in sessions(first, sessions_count):
        day_trades: list[dict[str, Any]] = []
        for _ in range(rng.randint(0, 5)):
            symbol = rng.choice(symbols)
            price = {"SPY": 560.0, "QQQ": 480.0, "NVDA": 120.0}.get(symbol, 100.0) * (1 + rng.uniform(-0.05, 0.05))
            qty = max(1, int(8000 / price))
            reason = rng.choices(["target", "stop", "flatten"], weights=[4, 5, 2])[0]
            move = {"target": 0.014, "stop": -0.008, "flatten": rng.uniform(-0.006, 0.01)}[reason]
            entry = datetime(day.year, day.month, day.day, 9, 45, tzinfo=NY) + timedelta(minutes=rng.randint(0, 300))
            exit_ = entry + timedelta(minutes=rng.randint(3, 60))
            commission = round(max(1.0, 0.005 * qty) * 2, 4)
            pnl = round(qty * price * move - commission, 2)
            day_trades.append({
                "date": day.isoformat(), "symbol": symbol, "qty": qty,
                "entry_time": entry.isoformat(), "entry_price": round(price, 2),
                "exit_time": exit_.isoformat(), "exit_price": round(price * (1 + move), 2),
                "exit_reason": reason, "pnl": pnl, "commission": commission,
            })
        trades.extend(day_trades)
        flat = datetime(day.year, day.month, day.day, 15, 55, 4, tzinfo=NY).isoformat()
        days.append({"date": day.isoformat(), "pnl": round(sum(t["pnl"] for t in day_trades), 2),
                     "trades": len(day_trades), "flat_at": flat})
    data: dict[str, Any] = {
        "starting_equity": starting_equity, "allocation": 0.25, "params": dict(PARAMS),
        "engine": "event", "days": days, "trades": trades, "metrics": metrics_of(days, trades),
    }
    if with_kind:
        data = {"kind": "backtest", **data}
    return data


def metrics_of(days: list[dict[str, Any]], trades: list[dict[str, Any]]) -> dict[str, Any]:
    pnl = [t["pnl"] for t in trades]
    wins = [p for p in pnl if p > 0]
    losses = [-p for p in pnl if p < 0]
    equity = peak = drawdown = 0.0
    for d in days:
        equity += d["pnl"]
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)
    daily = [d["pnl"] for d in days]
    mean = sum(daily) / len(daily)
    sd = math.sqrt(sum((x - mean) ** 2 for x in daily) / max(len(daily) - 1, 1))
    return {
        "net_pnl": round(sum(pnl), 2), "trades": len(trades),
        "win_rate": round(len(wins) / len(trades), 4) if trades else 0.0,
        "profit_factor": round(sum(wins) / sum(losses), 3) if losses else None,
        "max_drawdown": round(drawdown, 2),
        "sharpe": round(mean / sd * math.sqrt(252), 3) if sd else None,
    }


def make_sweep(*, seed: int = 3, targets: tuple[float, ...] = (0.008, 0.01, 0.012, 0.014, 0.016),
               stops: tuple[float, ...] = (0.005, 0.008, 0.011), rsi: tuple[float, ...] = (60.0,)) -> dict[str, Any]:
    rng = random.Random(seed)
    rows = []
    for target in targets:
        for stop in stops:
            for rsi_max in rsi:
                edge = 2000 * (target - 0.012) * -1 * (target - 0.012) * 1e3 + 400 * (stop - 0.008) / 0.003
                rows.append({
                    "params": {**PARAMS, "profit_target": target, "stop_loss": stop, "rsi_max": rsi_max},
                    "metrics": {"net_pnl": round(edge + rng.uniform(-50, 50), 2),
                                "trades": rng.randint(80, 140),
                                "win_rate": round(rng.uniform(0.35, 0.6), 3),
                                "profit_factor": round(rng.uniform(0.8, 1.4), 3),
                                "max_drawdown": round(rng.uniform(300, 900), 2),
                                "sharpe": round(rng.uniform(-0.5, 1.5), 3)},
                })
    return {"kind": "sweep", "engine": "fast",
            "sessions": {"symbols": ["SPY", "QQQ"], "from": "2025-03-03", "to": "2025-05-23"},
            "rows": rows}


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=1))
    return path
