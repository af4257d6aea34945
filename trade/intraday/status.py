"""The trader's state as one JSON-ready dict for the live status page (ui/status).

Built only when asked (the page polls a few times a second at most), never on the per-bar path:
the per-bar path keeps only the cheap raw facts (each symbol's last verdict and the indicator
values it compared), and the human reasons ("hold: rsi 64.0 >= 60") are spelled out here.
"""

from __future__ import annotations

from typing import Any

from trade import strategy
from trade.intraday.context import TraderContext
from trade.intraday.entries import EntryDesk
from trade.intraday.fill_recorder import FillRecorder
from trade.intraday.protection import exit_orders
from trade.models import OrderTicket


def _order(o: OrderTicket) -> dict[str, Any]:
    return {
        "order_id": o.order_id, "order_ref": o.order_ref, "symbol": o.symbol,
        "side": o.side.value, "type": o.order_type.value, "qty": o.qty, "remaining": o.remaining,
        "limit": o.limit_price, "stop": o.stop_price, "status": o.status.value,
        "good_after": o.good_after.isoformat() if o.good_after else None,
    }


def snapshot(ctx: TraderContext, entries: EntryDesk, fills: FillRecorder,
             health: dict[str, Any] | None) -> dict[str, Any]:
    """Positions with their exits, working orders, P&L, trades, last decisions, health."""
    now = ctx.broker.now()
    orders = list(ctx.orders.values())
    positions, unrealized_total = [], 0.0
    for symbol, book in sorted(ctx.books.items()):
        if book.qty == 0:
            continue
        last = ctx.broker.last_price(symbol) or book.avg_cost
        unrealized = (last - book.avg_cost) * book.qty
        unrealized_total += unrealized
        exits = [{k: v for k, v in _order(o).items() if k not in ("symbol", "side", "order_id")}
                 for o in exit_orders(ctx.bot, symbol, orders)]
        positions.append({"symbol": symbol, "qty": book.qty, "avg_cost": round(book.avg_cost, 4),
                          "last": last, "unrealized": round(unrealized, 2), "exits": exits})
    decisions = {}
    for symbol, decision in entries.decisions.items():
        book = ctx.books[symbol]
        if decision.verdict is None:
            reason, verdict = f"risk says no: {decision.risk_reason}", "RISK"
        else:
            reason = strategy.explain(decision.verdict, decision, book.params, decision.time,
                                      ctx.session, daily_atr_pct=book.daily_atr_pct)
            verdict = decision.verdict.name
        decisions[symbol] = {"time": decision.time.isoformat(), "verdict": verdict,
                             "reason": reason}
    return {
        "time": now.isoformat(),
        "day": ctx.day.isoformat(),
        "connection": ctx.state.connection.value,
        "reconnects": ctx.run_log.reconnects,
        "entries_paused": ctx.state.pause_shown,
        "flattening": ctx.state.flattening,
        # the last flat the broker confirmed (a person's flatten included) while nothing is held
        # since; the run log keeps only the day's own flatten
        "flat_at": (ctx.state.flat_at.isoformat() if ctx.state.flat_at and not positions
                    else None),
        "positions": positions,
        "working_orders": [_order(o) for o in sorted(orders, key=lambda o: o.order_id)
                           if o.status.is_working],
        "realized_pnl": round(fills.realized_pnl, 2),
        "unrealized_pnl": round(unrealized_total, 2),
        "trades": list(ctx.run_log.trades),
        "decisions": decisions,
        "health": health,
        # shares at the broker that are not the bot's (the owner's, another book's): never touched
        "foreign_shares": dict(ctx.run_log.extra.get("foreign_shares", {})),
    }
