"""`python -m improvement.calibration --effects`: the true effect of every change the cycle can
try, on long stretches of each kind of calibration market, so the claim about the markets
("nothing helps by more than ... in the null market", "the planted change is worth +0.1% per
trade") is a measurement, not a hope.

For each seed and market kind the current params and each neighbour of the search
(improvement/suggestions.py) trade `SESSIONS` sessions with the fast engine; the effect is the
mean per-session P&L difference, also per trade (over the current params' trades per session
and mean position notional), with a 95% interval across sessions. A sizing change is scaled to
the current exposure, as the gate judges it.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from improvement.calibration_markets import (
    ALLOCATION,
    EQUITY,
    KINDS,
    OVERRIDES,
    SYMBOLS,
    base_market,
    market,
)
from improvement.calibration_run import START, WARMUP
from improvement.fast_replay import BacktestReplayer
from improvement.gate import differences, sizing_scale
from improvement.replay import ReplayConfig
from improvement.suggestions import search_suggestions
from trade.calendar import MarketCalendar
from trade.models import Params

SESSIONS = 250


def _days(count: int) -> list[Any]:
    calendar = MarketCalendar()
    out = [calendar.session(START).date]
    while len(out) < count:
        out.append(calendar.next_session(out[-1]).date)
    return out


def seed_effects(seed: int) -> list[dict[str, Any]]:
    days = _days(WARMUP + SESSIONS)
    base = base_market(seed, days)
    out = []
    for kind in (None, *KINDS):
        replayer = BacktestReplayer(market(seed, days, kind, base), SYMBOLS,
                                    ReplayConfig(allocation=ALLOCATION, equity=EQUITY),
                                    OVERRIDES)
        use = days[WARMUP:]
        current = Params()
        now = replayer.replay(current, use)
        trades = now.trades
        per_trade = (len(trades) / len(use)) * (sum(t.notional for t in trades) / len(trades))
        for s in search_suggestions(current, ALLOCATION / len(SYMBOLS)):
            result = replayer.replay(current.with_overrides({s.parameter: s.new}), use)
            scale = sizing_scale(now, result) if s.parameter == "position_pct" else 1.0
            d = np.asarray(differences(now, result, scale))
            half = 1.96 * float(d.std(ddof=1)) / math.sqrt(len(d))
            out.append({"seed": seed, "market": kind or "null", "parameter": s.parameter,
                        "old": s.old, "new": s.new, "per_session": round(float(d.mean()), 2),
                        "interval": [round(float(d.mean()) - half, 2),
                                     round(float(d.mean()) + half, 2)],
                        "per_trade_pct": round(100 * float(d.mean()) / per_trade, 4)})
    return out


def effects(seeds: Sequence[int], workers: int) -> dict[str, Any]:
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            rows = [r for part in pool.map(seed_effects, seeds) for r in part]
    else:
        rows = [r for s in seeds for r in seed_effects(s)]
    summary: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = f"{r['market']}: {r['parameter']} {r['old']} -> {r['new']}"
        summary.setdefault(key, {"per_trade_pct": []})["per_trade_pct"].append(r["per_trade_pct"])
    for value in summary.values():
        values = value.pop("per_trade_pct")
        value.update({"mean_per_trade_pct": round(sum(values) / len(values), 4),
                      "min": min(values), "max": max(values), "seeds": len(values)})
    return {"sessions_per_market": SESSIONS, "summary": summary, "rows": rows}
