"""The trader's controls for the live status page (ui/status): its state as one JSON-ready
dict, pause/resume of entries, flatten now.

Built only when asked (the page polls a few times a second at most), never on the per-bar path:
the per-bar path keeps only the cheap raw facts (each symbol's last verdict and the indicator
values it compared), and the human reasons ("hold: rsi 64.0 >= 60") are spelled out here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from trade import strategy
from trade.broker import ConnectionState
from trade.intraday.protection import exit_orders
from trade.models import OrderTicket

if TYPE_CHECKING:
    from trade.intraday.trader import IntradayTrader

log = logging.getLogger(__name__)


def _order(o: OrderTicket) -> dict[str, Any]:
    return {
        "order_id": o.order_id, "order_ref": o.order_ref, "symbol": o.symbol,
        "side": o.side.value, "type": o.order_type.value, "qty": o.qty, "remaining": o.remaining,
        "limit": o.limit_price, "stop": o.stop_price, "status": o.status.value,
        "good_after": o.good_after.isoformat() if o.good_after else None,
    }


def snapshot(trader: IntradayTrader) -> dict[str, Any]:
    now = trader.broker.now()
    orders = list(trader.orders.values())
    positions, unrealized_total = [], 0.0
    for symbol, book in sorted(trader.books.items()):
        if book.qty == 0:
            continue
        last = trader.broker.last_price(symbol) or book.avg_cost
        unrealized = (last - book.avg_cost) * book.qty
        unrealized_total += unrealized
        exits = [{k: v for k, v in _order(o).items() if k not in ("symbol", "side", "order_id")}
                 for o in exit_orders("DT", symbol, orders)]
        positions.append({"symbol": symbol, "qty": book.qty, "avg_cost": round(book.avg_cost, 4),
                          "last": last, "unrealized": round(unrealized, 2), "exits": exits})
    decisions = {}
    for symbol, decision in trader.entries.decisions.items():
        book = trader.books[symbol]
        if decision.verdict is None:
            reason, verdict = f"risk says no: {decision.risk_reason}", "RISK"
        else:
            reason = strategy.explain(decision.verdict, decision, book.params, decision.time,
                                      trader.session, daily_atr_pct=book.daily_atr_pct)
            verdict = decision.verdict.name
        decisions[symbol] = {"time": decision.time.isoformat(), "verdict": verdict,
                             "reason": reason}
    return {
        "time": now.isoformat(),
        "day": trader.day.isoformat(),
        "connection": trader.connection_state.value,
        "reconnects": trader.run_log.reconnects,
        "entries_paused": trader.entries_paused,
        "flattening": trader.flattening,
        "flat_at": trader.run_log.flat_at.isoformat() if trader.run_log.flat_at else None,
        "positions": positions,
        "working_orders": [_order(o) for o in sorted(orders, key=lambda o: o.order_id)
                           if o.status.is_working],
        "realized_pnl": round(trader.fills.realized_pnl, 2),
        "unrealized_pnl": round(unrealized_total, 2),
        "trades": list(trader.run_log.trades),
        "decisions": decisions,
        "health": trader.health.last,
    }


class TraderControls:
    """What the status page may ask of the trader (mixed into `IntradayTrader`, whose state
    these methods read and set; the page itself lives in ui/ and reaches the trader only
    through these four calls)."""

    broker: Any
    session: Any
    _entries_paused: str | None
    _paused_by: str | None = None
    _flattening: bool
    _flat_confirmed: bool
    _flatten_requested: str | None
    _flat_event: asyncio.Event
    _connection: ConnectionState

    def status_snapshot(self) -> dict[str, Any]:
        """Positions with their exits, working orders, P&L, trades, last decisions, health."""
        return snapshot(self)  # type: ignore[arg-type]

    def pause_entries(self, by: str) -> None:
        """No new entries until resumed; positions keep their broker-held exits."""
        if self._entries_paused is None:
            self._entries_paused = by  # the reason shown is who paused: "status page"
            self._paused_by = by
        log.warning("entries paused by %s", by)

    def resume_entries(self, by: str) -> None:
        """Entries allowed again after a pause or a manual flatten by a person (a pause for
        another reason — a lost connection, the flatten time — stays)."""
        if self._entries_paused is None or self._entries_paused != self._paused_by:
            log.warning("resume by %s: entries stay paused (%s)", by, self._entries_paused)
            return
        if self._flatten_requested and self._flat_confirmed:
            self._flat_confirmed = False  # the flatten time still flattens whatever comes next
            self._flatten_requested = None
            self._flat_event.clear()
        self._entries_paused = self._paused_by = None
        log.warning("entries resumed by %s", by)

    async def flatten_now(self, by: str, timeout_s: float = 60.0) -> None:
        """Cancel own orders and flatten now, through the same double safety net as the
        flatten time; no new entries afterwards until resumed."""
        log.warning("flatten requested by %s", by)
        self._flatten_requested = by
        try:
            await asyncio.wait_for(self._flat_event.wait(), timeout_s)
        except TimeoutError:
            log.error("flatten requested by %s not confirmed within %.0fs; still trying", by,
                      timeout_s)

    @property
    def entries_paused(self) -> str | None:
        return self._entries_paused

    @property
    def flattening(self) -> bool:
        return self._flattening

    @property
    def connection_state(self) -> ConnectionState:
        return self._connection

