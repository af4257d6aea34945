"""`PaperBroker`: the Broker port straight over the matching engine, in-process, for backtests.

No sockets and no IB types: orders go to `MatchingEngine`, engine events come back as
`trade.models` values through the port's synchronous callbacks. Time is the replay clock in
stepping mode; `step_to` / `run_session` move it bar by bar so that, for each minute:

    1. the engine matches working orders along the price path up to the bar's end;
    2. subscribers receive every bar whose `end <= now` (never earlier: no look-ahead).

So a bot sees the 09:30 bar at 09:31:00 and its market order fills at the 09:31 bar's open, as
it would at IB.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sim.engine.exchange import Execution, MatchingEngine, OrderReject, SimOrder
from sim.market.replay import MarketReplay
from trade.broker import (
    BarHandler,
    BrokerError,
    CommissionHandler,
    ConnectionHandler,
    DataRefusedHandler,
    FillHandler,
    OrderRejected,
    OrderStatusHandler,
    PositionHandler,
    UnknownSymbol,
    exit_submission_order,
)
from trade.models import (
    Account,
    Bar,
    BracketTickets,
    ExitTickets,
    Fill,
    OrderRef,
    OrderStatus,
    OrderTicket,
    OrderType,
    Position,
    Side,
)
from trade.ticks import round_to_tick


def to_ticket(order: SimOrder) -> OrderTicket:
    """The port's view of an engine order."""
    return OrderTicket(
        order_id=order.order_id,
        order_ref=order.order_ref,
        symbol=order.symbol,
        side=Side(order.action),
        qty=int(order.total_qty),
        order_type=OrderType(order.order_type),
        status=OrderStatus(order.status or "PendingSubmit"),
        limit_price=order.lmt_price,
        stop_price=order.aux_price,
        parent_id=order.parent_id,
        oca_group=order.oca_group,
        filled=int(order.filled),
        avg_fill_price=order.avg_fill_price,
        perm_id=order.perm_id,
        good_after=order.good_after,
        account=order.account,
    )


def to_fill(execution: Execution) -> Fill:
    """The port's view of an engine execution (commission and realized P&L included)."""
    return Fill(
        exec_id=execution.exec_id,
        order_id=execution.order_id,
        order_ref=execution.order_ref,
        symbol=execution.symbol,
        side=Side.BUY if execution.side == "BOT" else Side.SELL,
        qty=int(execution.shares),
        price=execution.price,
        time=execution.time,
        commission=execution.commission,
        realized_pnl=execution.realized_pnl,
    )


EXIT_OCA_TYPE = 2  # IB "reduce with block": a partial fill of one exit shrinks the others


def leg_refs(order_ref: str) -> tuple[str, str, str]:
    """(take-profit, stop, backstop) refs for an entry ref: `OrderRef.sibling` for ours."""
    parsed = OrderRef.parse(order_ref)
    if parsed is None:
        return f"{order_ref}-TP", f"{order_ref}-SL", f"{order_ref}-BKS"
    return str(parsed.sibling("TP")), str(parsed.sibling("SL")), str(parsed.sibling("BKS"))


class PaperBroker:
    """The `Broker` port over `MatchingEngine` + `MarketReplay` (stepping clock, full speed)."""

    def __init__(self, engine: MatchingEngine, client_id: int = 0) -> None:
        self.engine = engine
        self.client_id = client_id
        self._next_id = engine.next_valid_id()
        self._bar_handlers: dict[str, BarHandler] = {}
        self._delivered: dict[str, int] = {}
        self._bars_cache: dict[str, tuple[MarketReplay, list[Bar]]] = {}
        self._fill_handlers: list[FillHandler] = []
        self._commission_handlers: list[CommissionHandler] = []
        self._status_handlers: list[OrderStatusHandler] = []
        self._connection_handlers: list[ConnectionHandler] = []
        engine.add_listener(self)

    @property
    def replay(self) -> MarketReplay:
        return self.engine.replay

    # ------------------------------------------------------------------ the Broker port

    def now(self) -> datetime:
        return self.replay.clock.now()

    async def server_now(self) -> datetime:
        return self.now()

    async def account(self) -> Account:
        values = self.engine.account_values()
        return Account(
            account_id=self.engine.account_id,
            net_liquidation=values["NetLiquidation"],
            cash=values["TotalCashValue"],
            buying_power=values["BuyingPower"],
            realized_pnl=values["RealizedPnL"],
            unrealized_pnl=values["UnrealizedPnL"],
            simulated=True,
        )

    async def positions(self) -> list[Position]:
        return [
            Position(symbol, int(qty), avg, self.engine.account_id)
            for symbol, (qty, avg) in sorted(self.engine.positions().items())
        ]

    async def open_orders(self) -> list[OrderTicket]:
        return [to_ticket(o) for o in self.engine.open_orders()]

    async def all_open_orders(self) -> list[OrderTicket]:
        """One client in-process: every open order is this client's."""
        return await self.open_orders()

    async def completed_orders(self) -> list[OrderTicket]:
        """One client in-process: every finished order is this client's."""
        working = {o.order_id for o in self.engine.open_orders()}
        return [to_ticket(o) for o in self.engine.orders() if o.order_id not in working]

    async def executions(self, since: datetime | None = None) -> list[Fill]:
        return [
            to_fill(e) for e in self.engine.executions() if since is None or e.time >= since
        ]

    async def qualify(self, symbols: Sequence[str]) -> dict[str, bool]:
        known = self.replay.known_symbols()
        return {s: s.upper() in known for s in symbols}

    async def history(self, symbol: str, duration: str, bar_size: str = "1 min") -> list[Bar]:
        self._require_known(symbol)
        return self.replay.history(symbol, self.now(), duration, bar_size)

    async def subscribe_bars(self, symbol: str, on_bar: BarHandler) -> None:
        """Deliver each bar completed after now (like keepUpToDate after a history request)."""
        symbol = symbol.upper()
        self._require_known(symbol)
        self._bar_handlers[symbol] = on_bar
        self._delivered[symbol] = self.replay.completed_count(symbol, self.now())

    async def unsubscribe_bars(self, symbol: str) -> None:
        self._bar_handlers.pop(symbol.upper(), None)
        self._delivered.pop(symbol.upper(), None)

    def last_price(self, symbol: str) -> float | None:
        return self.replay.price_at(symbol, self.now())

    async def place_bracket(
        self,
        symbol: str,
        qty: int,
        entry_limit: float | None,
        take_profit: float,
        stop_loss: float,
        order_ref: str,
        backstop_at: datetime | None = None,
    ) -> BracketTickets:
        return self.submit_bracket(symbol, qty, entry_limit, take_profit, stop_loss, order_ref,
                                   backstop_at)

    def submit_bracket(
        self,
        symbol: str,
        qty: int,
        entry_limit: float | None,
        take_profit: float,
        stop_loss: float,
        order_ref: str,
        backstop_at: datetime | None = None,
    ) -> BracketTickets:
        tp_ref, sl_ref, bks_ref = leg_refs(order_ref)
        parent_id = self._take_id()
        oca = f"BRK-{parent_id}-{order_ref}"
        entry = self._order(parent_id, symbol, "BUY", qty, "MKT" if entry_limit is None else "LMT",
                            lmt=entry_limit, ref=order_ref, transmit=False)
        legs = [
            self._order(self._take_id(), symbol, "SELL", qty, "LMT", lmt=take_profit, ref=tp_ref,
                        parent=parent_id, oca=oca, transmit=False),
            self._order(self._take_id(), symbol, "SELL", qty, "STP", aux=stop_loss, ref=sl_ref,
                        parent=parent_id, oca=oca, transmit=backstop_at is None),
        ]
        if backstop_at is not None:
            legs.append(self._order(self._take_id(), symbol, "SELL", qty, "MKT", ref=bks_ref,
                                    parent=parent_id, oca=oca, good_after=backstop_at))
        self._submit(entry)
        try:
            for leg in legs:
                self._submit(leg)
        except BrokerError:
            if entry.is_working:
                self.engine.cancel(entry.order_id)
            raise
        backstop = to_ticket(legs[2]) if backstop_at is not None else None
        return BracketTickets(to_ticket(entry), to_ticket(legs[0]), to_ticket(legs[1]), backstop)

    async def place_exits(
        self, symbol: str, qty: int, take_profit: float, stop_loss: float, order_ref: str,
        backstop_at: datetime | None = None,
    ) -> ExitTickets:
        tp_ref, sl_ref, bks_ref = leg_refs(order_ref)
        first = self._take_id()
        oca = f"EXT-{first}-{order_ref}"
        legs = [
            self._order(first, symbol, "SELL", qty, "LMT", lmt=take_profit, ref=tp_ref, oca=oca),
            self._order(self._take_id(), symbol, "SELL", qty, "STP", aux=stop_loss, ref=sl_ref,
                        oca=oca),
        ]
        if backstop_at is not None:
            legs.append(self._order(self._take_id(), symbol, "SELL", qty, "MKT", ref=bks_ref,
                                    oca=oca, good_after=backstop_at))
        by_leg = dict(zip(("TP", "SL", "BKS"), legs, strict=False))
        placed: list[SimOrder] = []
        try:
            for name in exit_submission_order(self.last_price(symbol), take_profit):
                if name in by_leg:
                    self._submit(by_leg[name])
                    placed.append(by_leg[name])
        except BrokerError:
            for leg in placed:  # never leave half a group: an exit alone is not protection
                if leg.is_working:
                    self.engine.cancel(leg.order_id)
            raise
        backstop = to_ticket(legs[2]) if backstop_at is not None else None
        return ExitTickets(to_ticket(legs[0]), to_ticket(legs[1]), backstop)

    async def modify_order(
        self, order_id: int, *, qty: int | None = None, limit_price: float | None = None,
        stop_price: float | None = None, release_now: bool = False,
    ) -> None:
        current = self.engine.order(order_id)
        if current is None or not current.is_working:
            raise OrderRejected(f"order {order_id} is not working: nothing to modify", 104)
        changes: dict[str, Any] = {"good_after": None} if release_now else {}
        if qty is not None:
            changes["total_qty"] = float(qty)
        if limit_price is not None:
            changes["lmt_price"] = limit_price
        if stop_price is not None:
            changes["aux_price"] = stop_price
        self._submit(dataclasses.replace(current, **changes))

    async def place_market(self, symbol: str, side: Side, qty: int, order_ref: str) -> OrderTicket:
        order = self._order(self._take_id(), symbol, str(side), qty, "MKT", ref=order_ref)
        self._submit(order)
        return to_ticket(order)

    async def place_limit(
        self, symbol: str, side: Side, qty: int, limit_price: float, order_ref: str,
        tif: str = "DAY",
    ) -> OrderTicket:
        order = self._order(self._take_id(), symbol, str(side), qty, "LMT",
                            lmt=round_to_tick(limit_price), ref=order_ref)
        order.tif = tif
        self._submit(order)
        return to_ticket(order)

    async def cancel(self, order_id: int) -> None:
        try:
            self.engine.cancel(order_id)
        except OrderReject as exc:
            raise BrokerError(exc.message, exc.code) from exc

    async def cancel_all(self) -> None:
        self.engine.cancel_all()

    def add_fill_handler(self, handler: FillHandler) -> None:
        self._fill_handlers.append(handler)

    def add_commission_handler(self, handler: CommissionHandler) -> None:
        """Kept for the port: in-process, an execution carries its commission already."""
        self._commission_handlers.append(handler)

    def add_order_status_handler(self, handler: OrderStatusHandler) -> None:
        self._status_handlers.append(handler)

    def add_data_refused_handler(self, handler: DataRefusedHandler) -> None:
        """Kept for the port: the in-process replay serves every symbol's bars."""

    def add_position_handler(self, handler: PositionHandler) -> None:
        """Kept for the port: in-process, positions change only by the bot's own executions."""

    def add_connection_handler(self, handler: ConnectionHandler) -> None:
        """Kept for the port; an in-process broker never loses its connection."""
        self._connection_handlers.append(handler)

    def remove_handlers(self, *handlers: object) -> None:
        registries: tuple[list[Any], ...] = (self._fill_handlers, self._commission_handlers,
                                             self._status_handlers, self._connection_handlers)
        for registry in registries:
            registry[:] = [h for h in registry if h not in handlers]

    # ------------------------------------------------------------------ driving the backtest

    async def step_to(self, t: datetime) -> None:
        """Move the stepping clock to `t` minute by minute: match orders, then deliver bars."""
        clock = self.replay.clock
        if not clock.is_stepping:
            raise RuntimeError("step_to needs a stepping ReplayClock (speed=None); "
                               "real-time clocks are driven by the gateway")
        while clock.now() < t:
            now = clock.now()
            boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            target = min(t, boundary)
            clock.advance_to(target)
            self.engine.advance(target)
            self._deliver_bars(target)
            await asyncio.sleep(0)

    async def run_session(self, until: datetime | None = None) -> None:
        """Step through the rest of the session (or to `until`); DAY orders expire at the close."""
        await self.step_to(until or self.replay.session_close)

    # ------------------------------------------------------------------ engine listener

    def on_execution(self, execution: Execution) -> None:
        fill = to_fill(execution)
        for handler in list(self._fill_handlers):
            handler(fill)

    def on_order_status(self, order: SimOrder) -> None:
        ticket = to_ticket(order)
        for handler in list(self._status_handlers):
            handler(ticket)

    def on_open_order(self, order: SimOrder) -> None:
        """Order snapshots reach the port through `on_order_status`; nothing extra to do."""

    # ------------------------------------------------------------------ internals

    def _deliver_bars(self, now: datetime) -> None:
        ts = now.timestamp()
        for symbol, handler in list(self._bar_handlers.items()):
            count = self.replay.completed_count(symbol, ts)
            start = self._delivered.get(symbol, 0)
            if count <= start:
                continue
            self._delivered[symbol] = count
            for bar in self._day_bars(symbol)[start:count]:
                handler(bar)

    def _day_bars(self, symbol: str) -> list[Bar]:
        cached = self._bars_cache.get(symbol)
        if cached is None or cached[0] is not self.replay:
            cached = (self.replay, self.replay.bars(symbol))
            self._bars_cache[symbol] = cached
        return cached[1]

    def _require_known(self, symbol: str) -> None:
        if symbol.upper() not in self.replay.known_symbols():
            raise UnknownSymbol(
                f"symbol {symbol!r} has no data in this replay: add it to the replay's symbols",
                200,
            )

    def _take_id(self) -> int:
        self._next_id = max(self._next_id, self.engine.next_valid_id())
        order_id = self._next_id
        self._next_id += 1
        return order_id

    def _order(self, order_id: int, symbol: str, action: str, qty: int, kind: str, *,
               lmt: float | None = None, aux: float | None = None, ref: str = "",
               parent: int = 0, oca: str = "", transmit: bool = True,
               good_after: datetime | None = None) -> SimOrder:
        return SimOrder(order_id, self.client_id, self.engine.account_id, symbol.upper(), action,
                        float(qty), kind, lmt, aux, oca_group=oca,
                        oca_type=EXIT_OCA_TYPE if oca else 0, parent_id=parent,
                        transmit=transmit, order_ref=ref, good_after=good_after)

    def _submit(self, order: SimOrder) -> None:
        try:
            self.engine.place(order)
        except OrderReject as exc:
            error: Callable[[str, int], BrokerError] = (
                UnknownSymbol if exc.code == 200 else OrderRejected
            )
            raise error(exc.message, exc.code) from exc
