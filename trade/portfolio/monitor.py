"""The monitor: what the rebalance did, measured after the orders settle, as the weekly report.

`reports/weekly/weekly_report_<date>.json` holds the whole day (the cycle and any re-checks):
the candidates with their scores and Monte Carlo figures, the LLM's part (or why there was
none), the targets, every order the bot sent under its refs with its outcome, every fill with
its slippage against the order's reference price, the book before and after, and the figures
below. Everything comes from the history DB (intents, executions, the book), so a report written
after a restart tells the same story as one written without.

Figures: turnover = traded value / budget; slippage in basis points against the reference price
(positive = paid more on a buy or got less on a sell), quantity-weighted; fill rate = filled /
ordered shares; tracking error = half the sum of |weight after - target weight|.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from observability.redaction import redact_json
from observability.schema import ExecutionRow, IntentRow
from trade.portfolio.manager import Target

REPORT_DIR = "weekly"


def book_snapshot(held: Mapping[str, int], avg_cost: Mapping[str, float],
                  prices: Mapping[str, float], budget: float) -> dict[str, Any]:
    positions = {}
    total = 0.0
    for symbol in sorted(held):
        qty = held[symbol]
        price = prices.get(symbol, avg_cost.get(symbol, 0.0))
        value = qty * price
        total += value
        positions[symbol] = {"qty": qty, "avg_cost": round(avg_cost.get(symbol, 0.0), 4),
                             "price": price, "value": round(value, 2),
                             "weight": round(value / budget, 6) if budget > 0 else None}
    return {"positions": positions, "value": round(total, 2),
            "cash_weight": round(1.0 - total / budget, 6) if budget > 0 else None}


def order_rows(intents: Sequence[IntentRow], executions: Sequence[ExecutionRow],
               reasons: Mapping[str, str]) -> list[dict[str, Any]]:
    by_ref: dict[str, list[ExecutionRow]] = {}
    for execution in executions:
        by_ref.setdefault(execution.order_ref, []).append(execution)
    rows = []
    for intent in intents:
        fills = by_ref.get(intent.order_ref, [])
        filled = sum(int(f.qty) for f in fills)
        avg = sum(f.qty * f.price for f in fills) / filled if filled else None
        rows.append({
            "order_ref": intent.order_ref, "symbol": intent.symbol, "side": intent.side,
            "qty": intent.qty, "limit_price": intent.entry_price,
            "ref_price": intent.target_price, "state": intent.state.value, "filled": filled,
            "avg_price": round(avg, 4) if avg is not None else None,
            "sent_at": intent.created_time.isoformat(), "reason": reasons.get(intent.symbol, ""),
        })
    return rows


def slippage_bps(side: str, price: float, reference: float | None) -> float | None:
    if not reference:
        return None
    move = (price - reference) / reference if side == "BUY" else (reference - price) / reference
    return round(move * 10_000.0, 2)


def fill_rows(executions: Sequence[ExecutionRow], intents: Sequence[IntentRow],
              tz: Any) -> list[dict[str, Any]]:
    reference = {i.order_ref: i.target_price for i in intents}
    return [{
        "exec_id": e.exec_id, "order_ref": e.order_ref, "symbol": e.symbol, "side": e.side,
        "qty": int(e.qty), "price": e.price, "time": e.time.astimezone(tz).isoformat(),
        "commission": round(e.commission, 4),
        "slippage_bps": slippage_bps(e.side, e.price, reference.get(e.order_ref)),
    } for e in executions]


def versus_targets(targets: Iterable[Target], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    positions = after.get("positions", {})
    rows = []
    for t in targets:
        held = positions.get(t.symbol, {})
        rows.append({"symbol": t.symbol, "target_qty": t.qty, "held_after": held.get("qty", 0),
                     "gap": t.qty - held.get("qty", 0), "target_weight": round(t.weight, 6),
                     "weight_after": held.get("weight", 0.0)})
    return rows


def figures(orders: Sequence[Mapping[str, Any]], fills: Sequence[Mapping[str, Any]],
            targets: Iterable[Target], before: Mapping[str, Any], after: Mapping[str, Any],
            budget: float) -> dict[str, Any]:
    traded = sum(f["qty"] * f["price"] for f in fills)
    weighted = [(f["slippage_bps"], f["qty"]) for f in fills if f["slippage_bps"] is not None]
    shares = sum(q for _, q in weighted)
    ordered = sum(o["qty"] for o in orders)
    weights_after = {s: p.get("weight") or 0.0 for s, p in after.get("positions", {}).items()}
    target_weights = {t.symbol: t.weight for t in targets}
    names = set(weights_after) | set(target_weights)
    tracking = sum(abs(weights_after.get(s, 0.0) - target_weights.get(s, 0.0)) for s in names) / 2
    return {
        "orders_sent": len(orders), "fills": len(fills),
        "turnover": round(traded / budget, 6) if budget > 0 else None,
        "traded_value": round(traded, 2),
        "commissions": round(sum(f["commission"] for f in fills), 4),
        "avg_slippage_bps": round(sum(b * q for b, q in weighted) / shares, 2) if shares else None,
        "fill_rate": round(sum(o["filled"] for o in orders) / ordered, 4) if ordered else None,
        "book_value_before": before.get("value"), "book_value_after": after.get("value"),
        "cash_weight_after": after.get("cash_weight"),
        "tracking_error_after": round(tracking, 6),
    }


def report_path(reports_dir: Path, day: date, dry_run: bool) -> Path:
    """Where the day's report goes. A dry run never overwrites a real cycle's report."""
    folder = Path(reports_dir) / REPORT_DIR
    real = folder / f"weekly_report_{day.isoformat()}.json"
    if dry_run and real.exists():
        try:
            if not json.loads(real.read_text()).get("dry_run", False):
                return folder / f"weekly_report_{day.isoformat()}_dry_run.json"
        except (OSError, ValueError):
            return folder / f"weekly_report_{day.isoformat()}_dry_run.json"
    return real


def write_report(path: Path, report: Mapping[str, Any]) -> Path:
    """Write atomically (a reader never sees half a file); secrets and account ids redacted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(redact_json(dict(report)), indent=2, default=str) + "\n")
    os.replace(scratch, path)
    return path
