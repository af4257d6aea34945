"""The history DB's rows as plain dataclasses, and how times and days are stored.

Times are stored as UTC ISO-8601 text with a fixed width and an explicit offset
(`2025-07-03T13:31:00.000000+00:00`): fixed width makes text order equal time order, so indexes
and `ORDER BY` work on the text, and UTC avoids the NY DST jump reordering rows. Times come back
as aware UTC datetimes; convert with `.astimezone(ZoneInfo("America/New_York"))` for display.
Trading days are NY calendar days stored as `YYYY-MM-DD` (the caller knows the session's day; a
UTC timestamp alone does not say it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol


class SchemaValueError(ValueError):
    """A row value that cannot be stored as given (e.g. a naive datetime)."""


def to_db_time(moment: datetime, name: str = "time") -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SchemaValueError(
            f"{name}={moment.isoformat()} is naive: pass an aware datetime (broker.now() or a bar time)"
        )
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def to_db_day(day: date) -> str:
    if isinstance(day, datetime):
        raise SchemaValueError(f"trading day {day!r} is a datetime: pass a date (the NY session day)")
    return day.isoformat()


class IntentState(StrEnum):
    """Life of an order intent. Terminal states are never 'open' again."""

    PENDING = "pending"  # decided, not yet acknowledged by the broker
    WORKING = "working"  # entry order live at the broker
    OPEN = "open"  # entry filled, position held, exits (take-profit/stop) working
    CLOSED = "closed"  # position exited
    CANCELLED = "cancelled"  # entry cancelled before any fill
    REJECTED = "rejected"  # refused by risk or by the broker

    @property
    def is_terminal(self) -> bool:
        return self in (IntentState.CLOSED, IntentState.CANCELLED, IntentState.REJECTED)


TERMINAL_INTENT_STATES = tuple(s.value for s in IntentState if s.is_terminal)


@dataclass(slots=True)
class TradeRow:
    """One round trip. `pnl` is NET of commissions (the run log's definition: what the trade
    made after costs); `gross_pnl` (the price difference x qty) adds the commission back."""

    trading_date: date
    book: str
    symbol: str
    side: str  # side of the entry: BUY = long round trip, SELL = short
    qty: int
    entry_time: datetime
    entry_price: float
    exit_time: datetime
    exit_price: float
    pnl: float
    commission: float = 0.0
    variant: str = ""
    rsi: float | None = None
    vwap: float | None = None
    atr: float | None = None
    reason: str = ""
    exit_reason: str = ""
    order_ref: str = ""
    run_id: str = ""
    id: int | None = None

    @property
    def net_pnl(self) -> float:
        return self.pnl

    @property
    def gross_pnl(self) -> float:
        return self.pnl + self.commission


@dataclass(frozen=True, slots=True)
class DailySummary:
    """A day's trades in exit-time order. `max_drawdown` is the largest peak-to-trough fall of
    cumulative net P&L (starting from 0), as a positive dollar amount."""

    trading_date: date
    trades: int
    wins: int
    losses: int
    win_rate: float
    gross_pnl: float
    commissions: float
    total_pnl: float  # net of commissions
    max_drawdown: float


@dataclass(slots=True)
class DailyMetricsRow:
    trading_date: date
    bot: str
    trades: int
    wins: int
    win_rate: float
    total_pnl: float
    max_drawdown: float
    commissions: float = 0.0
    sharpe: float | None = None
    profit_factor: float | None = None
    variant: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""  # "" = the whole trading day across runs; a run's own row carries its id


@dataclass(slots=True)
class HealthRow:
    time: datetime
    agent: str
    status: str  # normal | warning | critical
    cpu_pct: float
    memory_mb: float
    connected: bool
    event_loop_lag_ms: float
    data_staleness_s: float
    connection_status: str = ""
    actions: list[str] = field(default_factory=list)
    detail: str = ""
    run_id: str = ""


HEALTH_STATUSES = ("normal", "warning", "critical")


@dataclass(slots=True)
class ParameterChangeRow:
    """A proposed parameter change and what became of it (`status`: applied | rejected)."""

    time: datetime
    parameter: str
    old_value: Any
    new_value: Any
    reason: str
    source: str  # rule | regime | llm | manual | ab_test
    status: str
    variant: str = ""


PARAMETER_CHANGE_STATUSES = ("applied", "rejected")


@dataclass(slots=True)
class EvaluationRow:
    time: datetime
    kind: str  # llm | rule
    content: Any  # JSON-shaped insights
    status: str = "ok"
    id: int | None = None


EVALUATION_KINDS = ("llm", "rule")


@dataclass(slots=True)
class IntentRow:
    """What the bot meant to do with one `order_ref` (the entry leg's ref), so a restart can
    tell its own orders, positions and executions apart and never repeat a sequence number."""

    order_ref: str
    bot: str
    trading_date: date
    symbol: str
    seq: int
    side: str
    qty: int
    entry_price: float
    target_price: float | None
    stop_price: float | None
    book: str
    created_time: datetime
    variant: str = ""
    state: IntentState = IntentState.PENDING
    updated_time: datetime | None = None
    run_id: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    exec_id: str
    order_ref: str
    symbol: str
    side: str
    qty: float
    price: float
    time: datetime
    commission: float
    book: str
    account: str = ""  # masked: last 4 characters only
    run_id: str = ""
    commission_pending: bool = False  # its commission report had not come when recorded


@dataclass(frozen=True, slots=True)
class BookPosition:
    book: str
    symbol: str
    qty: int
    avg_cost: float


@dataclass(slots=True)
class WeeklyCycleRow:
    """One weekly rebalance (one per NY trading day). `budget` is allocation x net liquidation
    when the targets were fixed; `analysis` keeps what the report needs after a restart
    (candidates with scores and Monte Carlo figures, screener verdicts, the LLM's status)."""

    cycle_date: date
    status: str  # trading | done | failed
    allocation: float
    budget: float
    started_time: datetime
    llm: str = ""  # provider:model, or "none"
    llm_status: str = ""  # ok | skipped: ... | error: ...
    analysis: dict[str, Any] = field(default_factory=dict)
    book_before: dict[str, Any] = field(default_factory=dict)
    report_path: str = ""
    updated_time: datetime | None = None


WEEKLY_CYCLE_STATUSES = ("trading", "done", "failed")


@dataclass(slots=True)
class WeeklyTargetRow:
    """One name of a cycle's target portfolio. `planned` is the side the cycle trades it toward
    `qty` (BUY/SELL), or "" when it was inside the drift band (or below the minimum order)."""

    cycle_date: date
    symbol: str
    weight: float
    qty: int
    ref_price: float
    planned: str = ""
    reason: str = ""


# -- column order of the SELECTs in history.py, and the decoders that rely on it --------
TRADE_COLUMNS = (
    "trading_date, book, symbol, side, qty, entry_time, entry_price, exit_time, exit_price, "
    "pnl, commission, variant, rsi, vwap, atr, reason, exit_reason, order_ref, run_id"
)
INTENT_COLUMNS = (
    "order_ref, bot, trading_date, symbol, seq, side, qty, entry_price, target_price, "
    "stop_price, variant, book, state, created_time, updated_time, run_id"
)
EXEC_COLUMNS = (
    "exec_id, order_ref, symbol, side, qty, price, time, commission, book, account, run_id, "
    "commission_pending"
)


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SchemaValueError(f"{name}={value!r} is invalid: use one of {', '.join(allowed)}")


def intent_state(value: IntentState | str) -> IntentState:
    try:
        return IntentState(value)
    except ValueError:
        allowed = ", ".join(s.value for s in IntentState)
        raise SchemaValueError(f"state={value!r} is invalid: use one of {allowed}") from None


def trade_from_db(r: Sequence[Any]) -> TradeRow:
    return TradeRow(
        id=r[0], trading_date=date.fromisoformat(r[1]), book=r[2], symbol=r[3], side=r[4],
        qty=r[5], entry_time=from_db_time(r[6]), entry_price=r[7], exit_time=from_db_time(r[8]),
        exit_price=r[9], pnl=r[10], commission=r[11], variant=r[12], rsi=r[13], vwap=r[14],
        atr=r[15], reason=r[16], exit_reason=r[17], order_ref=r[18], run_id=r[19],
    )


def intent_from_db(r: Sequence[Any]) -> IntentRow:
    return IntentRow(
        order_ref=r[0], bot=r[1], trading_date=date.fromisoformat(r[2]), symbol=r[3], seq=r[4],
        side=r[5], qty=r[6], entry_price=r[7], target_price=r[8], stop_price=r[9], variant=r[10],
        book=r[11], state=IntentState(r[12]), created_time=from_db_time(r[13]),
        updated_time=from_db_time(r[14]), run_id=r[15],
    )


def execution_from_db(r: Sequence[Any]) -> ExecutionRow:
    return ExecutionRow(r[0], r[1], r[2], r[3], r[4], r[5], from_db_time(r[6]), r[7], r[8], r[9],
                        r[10], bool(r[11]))


# -- minute bars (the daily report's price charts) ---------------------------------------
class MinuteBarLike(Protocol):
    """What `record_minute_bars` reads from a bar; `trade.models.Bar` has it (observability may
    not import trade, so the shape is named here instead of the class)."""

    @property
    def symbol(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> float: ...


@dataclass(frozen=True, slots=True)
class MinuteBarRow:
    """One stored 1-minute bar. `start` is the bar start in America/New_York (bars are market
    objects: the report draws them in exchange time, unlike the UTC row times elsewhere)."""

    symbol: str
    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
# -- the nightly improvement cycle (improvement/) -------------------------------------------
@dataclass(slots=True)
class TuningTrialRow:
    """One candidate parameter set replayed by the nightly cycle. Every row counts as a trial in
    the deflated Sharpe ratio of later candidates, so rows are never deleted."""

    cycle_date: date
    candidate: dict[str, Any]  # the tuned values tried, parameter -> value
    parameter: str  # the parameter the suggestion changed
    source: str  # rule | regime | llm | manual | ab_test
    sessions: int  # sessions replayed
    sharpe: float | None  # per-session (not annualised) Sharpe over the whole replay window
    oos_pnl: float | None  # the candidate's net P&L out of sample
    current_oos_pnl: float | None  # the current params' net P&L over the same sessions
    dsr: float | None
    verdict: str  # applied | validated | rejected: <why>
    time: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(slots=True)
class ParamsScheduleRow:
    """The tuned values a session trades with (on top of the configured defaults)."""

    trading_date: date
    overrides: dict[str, Any]  # what this session trades with (B's values on a B day)
    current: dict[str, Any]  # the current params (A) at that point
    cycle_date: date  # the cycle that decided it
    time: datetime
    variant: str = ""  # "" outside an A/B test, else "A" or "B"
    regime: str = ""  # the regime classified at the previous close
    ab_test_id: int | None = None


AB_TEST_STATUSES = ("running", "promoted", "retired", "stopped")


@dataclass(slots=True)
class ABTestRow:
    started: date  # first trading day of the test (an A day)
    parameter: str
    a_values: dict[str, Any]  # tuned values of A (the current params when the test began)
    b_values: dict[str, Any]  # tuned values of the challenger
    time: datetime
    status: str = "running"
    looks: int = 0  # interim analyses done so far (each spends part of the 5% error budget)
    ended: date | None = None
    reason: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ABTestUpdate:
    id: int
    status: str
    looks: int
    reason: str
    ended: date | None = None


@dataclass(slots=True)
class ImprovementCycleCommit:
    """Everything one nightly cycle decides, written in one transaction: a cycle either happened
    completely or not at all, so running it again after a crash redoes it cleanly."""

    cycle_date: date
    time: datetime
    report: dict[str, Any]
    trials: list[TuningTrialRow] = field(default_factory=list)
    changes: list[ParameterChangeRow] = field(default_factory=list)
    evaluation: EvaluationRow | None = None
    schedule: ParamsScheduleRow | None = None
    ab_start: ABTestRow | None = None  # its id becomes the schedule row's ab_test_id
    ab_update: ABTestUpdate | None = None
