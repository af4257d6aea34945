"""Trading performance metrics: one implementation for the day trader's history, the nightly
improvement cycle and the backtester.

Pure functions over plain records (`TradeRecord` and a per-session net P&L series), so a live
day read from the history DB and a replayed day from the backtester are measured by the same
code. The thin DB adapter at the bottom reads `trades` and writes `daily_metrics`.

P&L: a trade's `gross_pnl` is (exit - entry) x qty; `commission` is the round trip's
commissions; `net_pnl = gross_pnl - commission` (the DB's `trades.pnl` and the run log's `pnl`:
one definition everywhere, net of commissions). Every metric
here is on NET P&L except `gross_pnl` itself. A trade is a win when its net P&L is > 0, otherwise
a loss (a break-even trade still paid its commission).

Undefined values (no trades, no losing trade, zero variance, fewer than two sessions) are None,
never NaN or infinity, so every `as_dict()` is valid JSON. The Sharpe-type statistics live in
`evaluation.sharpe`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from evaluation.sharpe import (
    TRADING_DAYS,
    deflated_sharpe_ratio,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
    sortino_ratio,
)
from observability.history import HistoryDB
from observability.schema import DailyMetricsRow, TradeRow

SESSION_MINUTES = 390.0  # a regular NYSE session, 09:30-16:00
DAY_TRADER = "day_trader"
INTRADAY_BOOK = "intraday"


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One closed round trip (long: bought at entry, sold at exit)."""

    symbol: str
    trading_date: date
    entry_time: datetime
    exit_time: datetime
    qty: int
    entry_price: float
    exit_price: float
    gross_pnl: float
    commission: float = 0.0
    variant: str = ""
    exit_reason: str = ""

    @property
    def net_pnl(self) -> float:
        return self.gross_pnl - self.commission

    @property
    def notional(self) -> float:
        return abs(self.entry_price * self.qty)

    @property
    def return_pct(self) -> float:
        """Net P&L per dollar put to work (the A/B test's per-trade return)."""
        return self.net_pnl / self.notional if self.notional else 0.0

    @property
    def minutes(self) -> float:
        return max((self.exit_time - self.entry_time).total_seconds() / 60.0, 0.0)

    @classmethod
    def from_row(cls, row: TradeRow) -> TradeRecord:
        return cls(row.symbol, row.trading_date, row.entry_time, row.exit_time, row.qty,
                   row.entry_price, row.exit_price, row.gross_pnl, row.commission, row.variant,
                   row.exit_reason)


@dataclass(frozen=True, slots=True)
class Metrics:
    """Performance over a period. Money in account currency; `*_pct` and ratios as fractions."""

    trades: int
    wins: int
    losses: int
    sessions: int
    gross_pnl: float
    commissions: float
    net_pnl: float
    return_pct: float | None
    win_rate: float | None
    avg_win: float | None
    avg_loss: float | None
    profit_factor: float | None
    expectancy: float | None
    risk_reward: float | None
    best_trade: float | None
    worst_trade: float | None
    longest_losing_streak: int
    avg_trade_minutes: float | None
    max_drawdown: float
    max_drawdown_pct: float
    sharpe: float | None
    sortino: float | None
    psr: float | None
    dsr: float | None
    exposure_pct: float | None
    capital_efficiency: float | None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (floats rounded to 10 decimals; NaN and infinity never appear)."""
        return {k: _clean(v) for k, v in asdict(self).items()}


def compute_metrics(
    trades: Sequence[TradeRecord],
    daily_pnl: Sequence[tuple[date, float]] | None,
    starting_equity: float,
    allocation: float,
    *,
    session_minutes: float | None = None,
    trial_sharpes: Sequence[float] | None = None,
) -> Metrics:
    """Metrics of `trades` (any order; sorted by exit time here) over the sessions of `daily_pnl`.

    - `daily_pnl`: (session, net P&L) for EVERY session of the period, zero for sessions without
      trades (a quiet day is part of the record). None: derived from the trades' dates.
    - Sharpe = mean(r) / std(r) x sqrt(252), with r_d = net P&L of session d / `starting_equity`
      (returns on the period's starting equity, not compounded; std with ddof=1).
    - Sortino = mean(r) / sqrt(mean(min(r, 0)^2)) x sqrt(252) (downside deviation, target 0).
    - PSR = P(true Sharpe > 0) per Bailey & Lopez de Prado (2012), on the per-session returns;
      DSR the same against the expected maximum Sharpe of `trial_sharpes` (every trial counted).
    - max drawdown: largest fall of equity (starting equity + cumulative net P&L, trade by trade
      in exit order) from its running peak, in money and as a fraction of that peak.
    - exposure_pct: time-weighted capital in positions / (starting equity x allocation), i.e.
      sum(notional x minutes held) / (allocation capital x market minutes of the period);
      `session_minutes` defaults to 390 per session.
    - capital_efficiency: net P&L / time-weighted average capital in positions (return on the
      money actually at work; None without exposure).
    - profit factor = gross wins / |gross losses| (of net P&L); risk/reward = avg win / |avg loss|;
      expectancy = net P&L per trade.
    """
    ordered = sorted(trades, key=lambda t: (t.exit_time, t.entry_time, t.symbol))
    nets = [t.net_pnl for t in ordered]
    wins = [n for n in nets if n > 0]
    losses = [n for n in nets if n <= 0]
    daily = list(daily_pnl) if daily_pnl is not None else _daily_from_trades(ordered)
    returns = [pnl / starting_equity for _, pnl in daily] if starting_equity > 0 else []
    sessions = len(daily)
    minutes = session_minutes if session_minutes is not None else SESSION_MINUTES * sessions
    drawdown, drawdown_pct = _max_drawdown(nets, starting_equity)
    net = sum(nets)
    loss_sum = -sum(losses)
    avg_win = sum(wins) / len(wins) if wins else None
    avg_loss = sum(losses) / len(losses) if losses else None
    exposure_pct = capital_efficiency = None
    deployed = sum(t.notional * t.minutes for t in ordered)
    if minutes > 0 and starting_equity > 0 and allocation > 0:
        exposure_pct = deployed / (starting_equity * allocation * minutes)
        capital_efficiency = net / (deployed / minutes) if deployed > 0 else None
    sharpe = sharpe_ratio(returns)
    sortino = sortino_ratio(returns)
    return Metrics(
        trades=len(ordered),
        wins=len(wins),
        losses=len(losses),
        sessions=sessions,
        gross_pnl=sum(t.gross_pnl for t in ordered),
        commissions=sum(t.commission for t in ordered),
        net_pnl=net,
        return_pct=net / starting_equity if starting_equity > 0 else None,
        win_rate=len(wins) / len(nets) if nets else None,
        avg_win=avg_win,
        avg_loss=avg_loss,
        profit_factor=sum(wins) / loss_sum if loss_sum > 0 else None,
        expectancy=net / len(nets) if nets else None,
        risk_reward=avg_win / -avg_loss if avg_win is not None and avg_loss else None,
        best_trade=max(nets) if nets else None,
        worst_trade=min(nets) if nets else None,
        longest_losing_streak=_longest_losing_streak(nets),
        avg_trade_minutes=sum(t.minutes for t in ordered) / len(ordered) if ordered else None,
        max_drawdown=drawdown,
        max_drawdown_pct=drawdown_pct,
        sharpe=sharpe * math.sqrt(TRADING_DAYS) if sharpe is not None else None,
        sortino=sortino * math.sqrt(TRADING_DAYS) if sortino is not None else None,
        psr=probabilistic_sharpe_ratio(returns),
        dsr=deflated_sharpe_ratio(returns, trial_sharpes) if trial_sharpes else None,
        exposure_pct=exposure_pct,
        capital_efficiency=capital_efficiency,
    )


def metrics_by_label(
    trades: Sequence[TradeRecord],
    daily_pnl: Sequence[tuple[date, float]],
    labels: Mapping[date, str],
    starting_equity: float,
    allocation: float,
) -> dict[str, dict[str, Any]]:
    """Metrics per session label (the A/B variant, or the regime the session traded in): each
    group is its labelled sessions and the trades of those sessions. Unlabelled sessions are
    left out."""
    groups: dict[str, list[date]] = {}
    for day, _ in daily_pnl:
        if labels.get(day):
            groups.setdefault(labels[day], []).append(day)
    out: dict[str, dict[str, Any]] = {}
    for label, days in sorted(groups.items()):
        chosen = set(days)
        out[label] = compute_metrics(
            [t for t in trades if t.trading_date in chosen],
            [(d, p) for d, p in daily_pnl if d in chosen], starting_equity, allocation,
        ).as_dict()
    return out


def _daily_from_trades(trades: Sequence[TradeRecord]) -> list[tuple[date, float]]:
    by_day: dict[date, float] = {}
    for t in trades:
        by_day[t.trading_date] = by_day.get(t.trading_date, 0.0) + t.net_pnl
    return sorted(by_day.items())


def _max_drawdown(nets: Sequence[float], starting_equity: float) -> tuple[float, float]:
    equity = peak = starting_equity
    worst = worst_pct = 0.0
    for pnl in nets:
        equity += pnl
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
        if peak > 0:
            worst_pct = max(worst_pct, (peak - equity) / peak)
    return worst, worst_pct


def _longest_losing_streak(nets: Sequence[float]) -> int:
    longest = run = 0
    for pnl in nets:
        run = run + 1 if pnl <= 0 else 0
        longest = max(longest, run)
    return longest


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 10) if math.isfinite(value) else None
    return value


# -- the history DB adapter ---------------------------------------------------------------------
def trade_records(db: HistoryDB, first: date, last: date,
                  book: str = INTRADAY_BOOK) -> list[TradeRecord]:
    """The book's round trips of sessions `first`..`last` (DB `pnl` is net; see above)."""
    return [TradeRecord.from_row(r) for r in db.trades_between(first, last, book)]


def daily_pnl_series(trades: Sequence[TradeRecord],
                     sessions: Sequence[date]) -> list[tuple[date, float]]:
    """(session, net P&L) for every session in `sessions`, zero where nothing traded."""
    by_day = dict(_daily_from_trades(trades))
    return [(day, by_day.get(day, 0.0)) for day in sessions]


SHARPE_SESSIONS = 20


def trailing_metrics(trades: Sequence[TradeRecord], sessions: Sequence[date], equity: float,
                     allocation: float) -> Metrics:
    """THE trailing window of `daily_metrics.sharpe`, one definition for every row (a run's row
    and the day's row alike): `sessions` are the last `SHARPE_SESSIONS` NYSE sessions up to and
    including the day (every one of them, zero P&L where the bot made no trade or did not run:
    the account's record), all of the book's trades in them (every run), returns on the day's
    starting `equity`. The caller lists the sessions (the calendar lives above this layer)."""
    return compute_metrics(trades, daily_pnl_series(trades, sessions), equity, allocation)


def record_day_metrics(db: HistoryDB, day: date, metrics: Metrics, *, variant: str = "",
                       window_sharpe: float | None = None, extra: Mapping[str, Any] | None = None,
                       bot: str = DAY_TRADER) -> DailyMetricsRow:
    """Write the day's metrics to `daily_metrics` (replacing the day's row). A single session
    has no Sharpe of its own, so the `sharpe` column holds the trailing window's
    (`trailing_metrics`, the same definition as a run's row); every metric of `Metrics` goes
    into `extra` as well."""
    row = DailyMetricsRow(
        trading_date=day, bot=bot, trades=metrics.trades, wins=metrics.wins,
        win_rate=metrics.win_rate or 0.0, total_pnl=round(metrics.net_pnl, 6),
        max_drawdown=round(metrics.max_drawdown, 6), commissions=round(metrics.commissions, 6),
        sharpe=_clean(window_sharpe), profit_factor=_clean(metrics.profit_factor),
        variant=variant, extra={**metrics.as_dict(), **dict(extra or {})},
    )
    db.record_daily_metrics(row)
    return row
