"""The only surface through which the status page sees and steers a running trader.

`IntradayTrader` implements it; the page never reaches into the trader's parts. The snapshot is
built by the trader on request (a few times a second at most, never on the per-bar path) and is
JSON-ready:

    {"time", "day", "connection": "connected" | "lost" | "restored", "reconnects",
     "entries_paused": str | None, "flattening": bool, "flat_at": str | None,
     "positions": [{"symbol", "qty", "avg_cost", "last", "unrealized",
                    "exits": [{"order_ref", "type", "qty", "limit", "stop", "status", "good_after"}]}],
     "working_orders": [{"order_id", "order_ref", "symbol", "side", "type", "qty", "remaining",
                         "limit", "stop", "status"}],
     "realized_pnl", "unrealized_pnl", "trades": [run-log trade dicts],
     "decisions": {symbol: {"time", "verdict", "reason"}},
     "health": {"status", "detail", "time"} | None,
     "foreign_shares": {symbol: shares}}
"""

from __future__ import annotations

from typing import Any, Protocol


class TraderControls(Protocol):
    def status_snapshot(self) -> dict[str, Any]:
        """The trader's state now, JSON-ready (shape above)."""
        ...

    def pause_entries(self, by: str) -> None:
        """No new entries until resumed; positions keep their broker-held exits. `by` says who."""
        ...

    def resume_entries(self, by: str) -> None:
        """Allow entries again (a pause for another reason, e.g. a lost connection, stays)."""
        ...

    async def flatten_now(self, by: str) -> None:
        """Cancel the bot's own orders and sell what it owns now, re-querying until flat (the
        same double safety net as the flatten time)."""
        ...
