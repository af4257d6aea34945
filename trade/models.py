"""Plain dataclasses shared by the trading core, the simulator and the broker adapters.

Nothing here knows about IB types: adapters translate IB objects into these, so the strategy,
risk and intraday layers run unchanged against IB, the Gateway simulator and the in-process
paper broker. All datetimes are timezone-aware (America/New_York for market logic).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"


class OrderStatus(StrEnum):
    """IB's order states, as `orderStatus` reports them."""

    PENDING_SUBMIT = "PendingSubmit"
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    INACTIVE = "Inactive"
    API_CANCELLED = "ApiCancelled"

    @property
    def is_working(self) -> bool:
        return self in (
            OrderStatus.PENDING_SUBMIT,
            OrderStatus.PRE_SUBMITTED,
            OrderStatus.SUBMITTED,
        )

    @property
    def is_final(self) -> bool:
        """Done for good. `Inactive` is not: IB's "not currently working" (a rejection, or an
        order held outside its conditions) may become working again, so an Inactive order of the
        bot is cancelled explicitly before anything replaces it."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.API_CANCELLED)


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. `start` is the bar start (the 09:30 bar covers 09:30:00-09:30:59)."""

    symbol: str
    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    seconds: int = 60

    @property
    def end(self) -> datetime:
        """The moment the bar is complete and may be acted on (no look-ahead before this)."""
        return self.start + timedelta(seconds=self.seconds)


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    qty: int
    avg_cost: float
    account: str = ""


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    net_liquidation: float
    cash: float
    buying_power: float
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    simulated: bool = False  # the Gateway simulator said so: its records are kept apart
    simulator_id: str | None = None  # which simulator (trade/records_routing.py: its namespace)

    @property
    def is_paper(self) -> bool:
        """IB paper accounts start with `DU`; live ones do not."""
        return self.account_id.upper().startswith("DU")

    @property
    def masked_id(self) -> str:
        """The account id safe for logs, spans and reports: only the last 4 characters."""
        return "****" + self.account_id[-4:]


@dataclass(slots=True)
class OrderTicket:
    """A working or finished order as the broker reports it."""

    order_id: int
    order_ref: str
    symbol: str
    side: Side
    qty: int
    order_type: OrderType
    status: OrderStatus = OrderStatus.PENDING_SUBMIT
    limit_price: float | None = None
    stop_price: float | None = None
    parent_id: int = 0
    oca_group: str = ""
    filled: int = 0
    avg_fill_price: float = 0.0
    perm_id: int = 0
    good_after: datetime | None = None  # held at the broker until then (IB goodAfterTime)
    account: str = ""
    client_id: int = 0  # the API client that placed it (0: unknown, or TWS itself)
    rejected: int = 0  # IB's error code when the order ended because IB refused it

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


@dataclass(frozen=True, slots=True)
class ExitTickets:
    """One OCA group of exits for a long position: take-profit limit, stop and, when asked for,
    the broker-held backstop flatten (a market sell held until the backstop time)."""

    take_profit: OrderTicket
    stop_loss: OrderTicket
    backstop: OrderTicket | None = None

    @property
    def legs(self) -> tuple[OrderTicket, ...]:
        legs = (self.take_profit, self.stop_loss)
        return legs if self.backstop is None else (*legs, self.backstop)



@dataclass(frozen=True, slots=True)
class BracketTickets:
    """The legs of a bracket: the entry and its OCA exit children (target, stop, backstop)."""

    entry: OrderTicket
    take_profit: OrderTicket
    stop_loss: OrderTicket
    backstop: OrderTicket | None = None

    @property
    def exits(self) -> ExitTickets:
        return ExitTickets(self.take_profit, self.stop_loss, self.backstop)

    @property
    def legs(self) -> tuple[OrderTicket, ...]:
        return (self.entry, *self.exits.legs)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. `exec_id` is the broker's id and the key for exactly-once recording.

    `commission` is None until the broker's commission report for it has come: IB sends the
    report after the execution (seconds later at times, with other messages between), so an
    execution is applied when it is reported and its commission attached when that comes."""

    exec_id: str
    order_id: int
    order_ref: str
    symbol: str
    side: Side
    qty: int
    price: float
    time: datetime
    commission: float | None = 0.0
    realized_pnl: float | None = None

    @property
    def cost(self) -> float:
        """The commission as far as it is known (0 until its report comes)."""
        return self.commission or 0.0


class SignalAction(StrEnum):
    ENTER = "enter"
    EXIT = "exit"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy decision. Every decision, including "do nothing", carries a human reason."""

    symbol: str
    action: SignalAction
    reason: str
    price: float
    time: datetime
    exit_reason: str | None = None  # "target" | "stop" | "flatten" when action is EXIT


ATR_TIMEFRAMES = ("1 day", "1 min")
COOLDOWN_MAX_MINUTES = 120
WHOLE_NUMBER_PARAMS = frozenset({"vwap_period", "rsi_period", "atr_period", "cooldown_minutes"})


@dataclass(frozen=True, slots=True)
class Params:
    """The strategy's tunable parameters. Defaults are the specified VWAP momentum rules.

    `atr_min_pct` is compared with the daily ATR(14)/previous close when `atr_timeframe` is
    "1 day" (the default: a volatility screen known before the open, fixed for the day), or with
    the 1-minute ATR(14)/close of each bar when it is "1 min". `cooldown_minutes` (0 = none)
    blocks a new entry in a symbol for that long after its last exit."""

    profit_target: float = 0.014
    stop_loss: float = 0.008
    rsi_max: float = 60.0
    atr_min_pct: float = 0.015
    vwap_period: int = 20
    rsi_period: int = 14
    atr_period: int = 14
    position_pct: float | None = None  # None = equal split; else a fraction of net liquidation
    cooldown_minutes: int = 0  # no re-entry in a symbol this long after its last exit
    atr_timeframe: str = "1 day"  # "1 day": daily volatility screen; "1 min": per-bar ATR

    def __post_init__(self) -> None:
        checks: dict[str, tuple[Any, str]] = {
            "profit_target": (0 < self.profit_target < 1, "a fraction such as 0.014"),
            "stop_loss": (0 < self.stop_loss < 1, "a fraction such as 0.008"),
            "rsi_max": (0 < self.rsi_max <= 100, "a value in (0, 100]"),
            "atr_min_pct": (0 <= self.atr_min_pct < 1, "a fraction such as 0.015"),
            "vwap_period": (self.vwap_period >= 1, "a whole number of bars >= 1"),
            "rsi_period": (self.rsi_period >= 2, "a whole number of bars >= 2"),
            "atr_period": (self.atr_period >= 1, "a whole number of bars >= 1"),
            "position_pct": (
                self.position_pct is None or 0 < self.position_pct <= 1,
                "null (equal split) or a fraction of net liquidation in (0, 1]",
            ),
            "cooldown_minutes": (0 <= self.cooldown_minutes <= COOLDOWN_MAX_MINUTES,
                                 f"a whole number of minutes in 0..{COOLDOWN_MAX_MINUTES}"),
            "atr_timeframe": (self.atr_timeframe in ATR_TIMEFRAMES,
                              " or ".join(repr(t) for t in ATR_TIMEFRAMES)),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise ValueError(f"Params.{name}={getattr(self, name)!r} is invalid: use {expected}")

    def with_overrides(self, overrides: dict[str, Any]) -> Params:
        """A copy with some fields replaced; unknown names and bad types name the field."""
        known = {f.name: f for f in dataclasses.fields(self)}
        clean: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in known:
                raise ValueError(
                    f"unknown parameter {name!r}: use one of {', '.join(sorted(known))}"
                )
            if name in WHOLE_NUMBER_PARAMS:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"parameter {name!r} must be a whole number, got {value!r}")
            elif name == "atr_timeframe":
                if not isinstance(value, str):
                    raise ValueError(f"parameter {name!r} must be '1 day' or '1 min', got {value!r}")
            elif value is not None or name != "position_pct":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"parameter {name!r} must be a number, got {value!r}")
                value = float(value)
            clean[name] = value
        return dataclasses.replace(self, **clean)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_ORDER_REF = re.compile(
    r"^(?P<bot>[A-Za-z]+)-(?P<day>\d{8})-(?P<symbol>[A-Z0-9.]+)-(?P<seq>\d+)-(?P<leg>[A-Z]+)$"
)


@dataclass(frozen=True, slots=True)
class OrderRef:
    """Deterministic order reference: bot, trading date, symbol, sequence, leg.

    IB echoes `orderRef` on open orders and executions, so after a reconnect or restart the bot
    recognises its own orders by parsing it, and knows which sequence numbers are already used:
    the same intent is never sent twice. Example: `DT-20250703-SPY-2-TP`.
    """

    bot: str
    day: str  # YYYYMMDD
    symbol: str
    seq: int
    leg: str  # ENTRY | TP | SL | BKS (broker-held backstop) | PROT | FLAT | COVER

    def __str__(self) -> str:
        return f"{self.bot}-{self.day}-{self.symbol}-{self.seq}-{self.leg}"

    @classmethod
    def parse(cls, text: str) -> OrderRef | None:
        """The ref, or None for an order that is not ours (manual, or another tool's)."""
        match = _ORDER_REF.match(text or "")
        if match is None:
            return None
        return cls(
            bot=match["bot"],
            day=match["day"],
            symbol=match["symbol"],
            seq=int(match["seq"]),
            leg=match["leg"],
        )

    def sibling(self, leg: str) -> OrderRef:
        return dataclasses.replace(self, leg=leg)
