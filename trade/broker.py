"""The Broker port: the one interface the trading core uses to talk to any broker.

Implemented by `IBBroker` (trade/ib/broker.py; a real IB Gateway/TWS or sim/gateway.py) and by
`PaperBroker` (sim/paper_broker.py; the matching engine in-process, for backtests at full speed).
The core never sees IB types, only the dataclasses of `trade.models`.

Events (completed bars, fills, order status, connection state) are delivered through plain
synchronous callbacks so the per-bar path stays a synchronous computation; only requests to the
broker are awaited.

Everything is scoped to the ONE trading account: positions, orders and executions of other
accounts under the same login (an IRA linked to an individual account) are never returned, so
the core cannot adopt, protect or sell shares that are not in the account it trades.

Exits are one OCA group per position: take-profit limit, stop, and the broker-held backstop
flatten — a market sell held at the broker (IB `goodAfterTime`) until `backstop_at`, just after
the bot's own flatten time. If the bot, its host or the Gateway is down at the close, the broker
still sells the position before the close; when the bot is alive it cancels the group and sells
first, so the backstop never fires beside the bot's own flatten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from trade.models import (
    Account,
    Bar,
    BracketTickets,
    ExitTickets,
    Fill,
    OrderTicket,
    Position,
    Side,
)

BarHandler = Callable[[Bar], None]
FillHandler = Callable[[Fill], None]
CommissionHandler = Callable[[str, float], None]  # (exec id, commission) when its report comes
DataRefusedHandler = Callable[[str, int, str], None]  # (symbol, IB code, reason) of refused data
PositionHandler = Callable[[str, int], None]  # the broker pushed this symbol's position (shares)
OrderStatusHandler = Callable[[OrderTicket], None]


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    LOST = "lost"  # socket closed, or IB error 1100
    RESTORED = "restored"  # reconnected (or 1101/1102) and re-synchronised


ConnectionHandler = Callable[[ConnectionState], None]


class BrokerError(Exception):
    """A broker request failed. `code` is the IB error code when there is one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class NotConnected(BrokerError):
    """The broker connection is down right now (it is being restored): try again shortly."""


class BrokerTimeout(BrokerError):
    """A request got no answer within its deadline (a lost reply, a frozen Gateway): the caller
    gives up on this attempt and tries again, it never waits for ever."""


class OrderRejected(BrokerError):
    """The broker refused an order (IB 201, 202-as-reject, 103, ...)."""


class UnknownSymbol(BrokerError):
    """The broker has no contract for the symbol (IB 200)."""


class UnknownAccount(BrokerError):
    """The account asked for is not one the login manages; the message names those it has."""


@runtime_checkable
class Broker(Protocol):
    """What the trading core needs from a broker."""

    def now(self) -> datetime:
        """Current time (tz-aware) by the broker's clock: wall clock, replay clock or bar time."""
        ...

    async def server_now(self) -> datetime:
        """The broker's clock read afresh (a round trip): for the decisions that must not rest
        on an estimate, such as "has the close passed?". Where it cannot be read (disconnected),
        a reading that never runs ahead of real time since the last answer."""
        ...

    async def account(self) -> Account: ...

    async def positions(self) -> list[Position]: ...

    async def open_orders(self) -> list[OrderTicket]:
        """Every working order of this client/account, including ones placed before a restart,
        as the broker reports them now (not a cache that a missed status left stale)."""
        ...

    async def all_open_orders(self) -> list[OrderTicket]:
        """The account's working orders of every API client (IB reqAllOpenOrders): how a bot
        started under another client id finds the exits an earlier run left."""
        ...

    async def completed_orders(self) -> list[OrderTicket]:
        """Today's finished orders of the account (filled or cancelled), of every API client (IB
        reqCompletedOrders), each with its filled quantity: IB shows an execution only to the
        client that placed its order, so this is how a run under another client id learns that
        an earlier run's order executed."""
        ...

    async def executions(self, since: datetime | None = None) -> list[Fill]:
        """Executions since `since`, or all the broker still reports; each with its commission
        when the report has come (None otherwise)."""
        ...

    async def qualify(self, symbols: Sequence[str]) -> dict[str, bool]:
        """Which symbols the broker knows as tradeable stocks/ETFs."""
        ...

    async def history(self, symbol: str, duration: str, bar_size: str = "1 min") -> list[Bar]:
        """Completed historical bars ending at `now()`, IB duration syntax (`"2 D"`, `"1 Y"`)."""
        ...

    async def subscribe_bars(self, symbol: str, on_bar: BarHandler) -> None:
        """Deliver each completed 1-minute bar of `symbol` to `on_bar`, in order."""
        ...

    async def unsubscribe_bars(self, symbol: str) -> None: ...

    def last_price(self, symbol: str) -> float | None:
        """The latest traded price seen for `symbol` (between bars), if any."""
        ...

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
        """A long entry (market if `entry_limit` is None) with take-profit limit and stop (and,
        with `backstop_at`, the backstop market sell held until then) as OCA children held at
        the broker, so an exit survives a crash of the bot. `order_ref` is the entry's ref; the
        children get the `-TP` / `-SL` / `-BKS` siblings. Children of an entry that is rejected
        or cancelled before it fills never become active."""
        ...

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
        """`place_bracket` without awaiting: every leg is handed to the broker before it returns.
        IB's placeOrder is fire-and-forget (acknowledgements and rejections arrive later as
        order-status events), so the per-bar path sends an entry the moment it decides instead
        of one event-loop turn later, behind every other bar of the same burst."""
        ...

    async def place_exits(
        self, symbol: str, qty: int, take_profit: float, stop_loss: float, order_ref: str,
        backstop_at: datetime | None = None,
    ) -> ExitTickets:
        """Protective OCA exits (take-profit limit + stop [+ backstop]) for a held long position."""
        ...

    async def modify_order(
        self, order_id: int, *, qty: int | None = None, limit_price: float | None = None,
        stop_price: float | None = None, release_now: bool = False,
    ) -> None:
        """Change a working order in place (IB: placeOrder again with the same id): used to
        move a bracket's exits to the entry's fill price and to resize them, and
        (`release_now`: its goodAfterTime cleared) to let the held backstop sell at once.
        Returns once the broker acknowledged it (or after a short wait without a word); raises
        `OrderRejected` when refused (IB 103/104: the order finished meanwhile; 201/105: the
        modification itself refused)."""
        ...

    async def place_market(self, symbol: str, side: Side, qty: int, order_ref: str) -> OrderTicket:
        ...

    async def place_limit(
        self, symbol: str, side: Side, qty: int, limit_price: float, order_ref: str,
        tif: str = "DAY",
    ) -> OrderTicket:
        """A plain limit order (the weekly rebalancer's bounded-slippage order). The price is
        rounded to the tick (0.01 at or above $1, 0.0001 below): IB rejects off-tick prices."""
        ...

    async def cancel(self, order_id: int) -> None: ...

    async def cancel_all(self) -> None:
        """Global cancel: every working order of the account (IB reqGlobalCancel)."""
        ...

    def add_fill_handler(self, handler: FillHandler) -> None:
        """Each execution as the broker reports it (IB execDetails), commission usually None."""
        ...

    def add_commission_handler(self, handler: CommissionHandler) -> None:
        """Each commission report, after its execution (IB commissionReport)."""
        ...

    def add_order_status_handler(self, handler: OrderStatusHandler) -> None: ...

    def add_connection_handler(self, handler: ConnectionHandler) -> None: ...

    def add_data_refused_handler(self, handler: DataRefusedHandler) -> None:
        """A symbol's real-time data refused (IB 354: no market data subscription, ...)."""
        ...

    def add_position_handler(self, handler: PositionHandler) -> None:
        """A position of the account changed at the broker (IB pushes them to a subscriber of
        reqPositions): a sale the bot did not make is looked at once, not at the next poll."""
        ...

    def remove_handlers(self, *handlers: object) -> None:
        """Stop delivering events to these handlers (a trading day that ended, in a process
        that goes on: the next day's trader must be the only one hearing the fills)."""
        ...


def exit_submission_order(last_price: float | None, take_profit: float) -> tuple[str, ...]:
    """The order in which a group of exits for an existing position is sent: "BKS", "TP", "SL".

    Exits for a position already held are separate orders joined only by their OCA group, each
    transmitted on its own. A leg marketable on arrival (the price already through the stop when
    a repair places it) fills before the legs after it exist, and those then rest alone: a
    backstop that sells again at flatten + 2 min, a short (chaos campaign, seed 147). So the
    held backstop goes first (it cannot fill before its time), and a leg marketable at the last
    price goes last, into a group whose members are all there to be cancelled (a marketable stop
    already is last in the usual order)."""
    target_marketable = last_price is not None and last_price >= take_profit
    return ("BKS", "SL", "TP") if target_marketable else ("BKS", "TP", "SL")
