"""The VWAP momentum rules as pure functions: indicators, position, Params and time in, a decision out.

Entry (flat symbol, all strict, as specified):
    close > VWAP(20)  and  RSI(14) < rsi_max  and  ATR% > atr_min_pct
    and capital is available and the time is before the session's entry cutoff.
ATR% is the daily volatility screen by default (`atr_timeframe="1 day"`): ATR(14) over the last
14 completed daily sessions (Wilder) divided by the previous close, computed before the open and
fixed for the day; with `atr_timeframe="1 min"` it is the 1-minute ATR(14) / close of each bar.
Exit (long position):
    close >= take-profit (entry + profit_target)  or  close <= stop (entry - stop_loss), both at
    the tick-rounded bracket prices the broker holds, so the strategy's view of "target hit" is
    the same price the resting OCA child would fill at; and everything at the flatten time.

No I/O and no clock reads: time is a parameter, so the same rules run live, in the simulator and
in backtests. The per-bar cost matters (backtests call this per bar per symbol), so the checks
are split in two: `entry_verdict` / `exit_verdict` return a `Verdict` code with no allocation and
no string work, and `decide` (or `signal_for`) builds the `Signal` with its human reason only when
asked. A trader that only needs to act on non-HOLD bars calls the verdict functions first.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import IntEnum
from typing import Protocol

from trade.models import Params, Position, Signal, SignalAction
from trade.ticks import round_to_tick


class IndicatorView(Protocol):
    """What the rules read from the indicators (`trade.indicators.IndicatorState` fits)."""

    @property
    def close(self) -> float: ...
    @property
    def vwap(self) -> float: ...
    @property
    def rsi(self) -> float: ...
    @property
    def atr(self) -> float: ...


class SessionTimes(Protocol):
    """The session's two deadlines (`trade.calendar.Session` fits)."""

    @property
    def entry_cutoff(self) -> datetime: ...  # no new entries at or after this
    @property
    def flatten_at(self) -> datetime: ...  # every position is closed from here on


class Verdict(IntEnum):
    """Why the rules decided what they decided; `decide` turns it into a `Signal`."""

    ENTER = 0
    HOLD_AFTER_CUTOFF = 1
    HOLD_WARMING_UP = 2
    HOLD_NO_CAPITAL = 3
    HOLD_BELOW_VWAP = 4
    HOLD_RSI_HIGH = 5
    HOLD_ATR_LOW = 6
    HOLD_IN_POSITION = 7
    HOLD_SHORT_POSITION = 8
    EXIT_TARGET = 9
    EXIT_STOP = 10
    EXIT_FLATTEN = 11

    @property
    def action(self) -> SignalAction:
        if self is Verdict.ENTER:
            return SignalAction.ENTER
        if self >= Verdict.EXIT_TARGET:
            return SignalAction.EXIT
        return SignalAction.HOLD


_EXIT_REASON = {
    Verdict.EXIT_TARGET: "target",
    Verdict.EXIT_STOP: "stop",
    Verdict.EXIT_FLATTEN: "flatten",
}


def bracket_prices(entry_price: float, params: Params) -> tuple[float, float]:
    """(take_profit, stop_loss) for a long entry, each rounded to its own tick."""
    if not entry_price > 0.0:
        raise ValueError(f"entry_price={entry_price!r} is invalid: use the positive fill price")
    take_profit = round_to_tick(entry_price * (1.0 + params.profit_target))
    stop_loss = round_to_tick(entry_price * (1.0 - params.stop_loss))
    return take_profit, stop_loss


def _has_capital(capital: bool | float, price: float) -> bool:
    if capital is True or capital is False:
        return capital
    return capital >= price  # an amount: it must buy at least one share


def atr_pct(atr: float, price: float, params: Params, daily_atr_pct: float | None) -> float:
    """The volatility the ATR rule compares with `atr_min_pct` (NaN when unknown)."""
    if params.atr_timeframe == "1 day":
        return daily_atr_pct if daily_atr_pct is not None else math.nan
    return atr / price if price > 0.0 else math.nan


def entry_verdict(
    price: float,
    vwap: float,
    rsi: float,
    atr: float,
    params: Params,
    now: datetime,
    times: SessionTimes,
    capital: bool | float,
    daily_atr_pct: float | None = None,
) -> Verdict:
    """The entry rules for a flat symbol, cheapest and most decisive checks first.

    `atr` is the 1-minute ATR (used with `atr_timeframe="1 min"`); `daily_atr_pct` the day's
    screen value (used with "1 day"; unknown means the rule cannot pass)."""
    if now >= times.entry_cutoff:
        return Verdict.HOLD_AFTER_CUTOFF
    # NaN compares False with everything: a warm-up value must not pass (or fail) a rule.
    if vwap != vwap or rsi != rsi or not price > 0.0:
        return Verdict.HOLD_WARMING_UP
    volatility = atr_pct(atr, price, params, daily_atr_pct)
    if volatility != volatility and params.atr_timeframe == "1 min":
        return Verdict.HOLD_WARMING_UP
    if not _has_capital(capital, price):
        return Verdict.HOLD_NO_CAPITAL
    if not price > vwap:
        return Verdict.HOLD_BELOW_VWAP
    if not rsi < params.rsi_max:
        return Verdict.HOLD_RSI_HIGH
    if not volatility > params.atr_min_pct:  # NaN (no daily ATR) never passes
        return Verdict.HOLD_ATR_LOW
    return Verdict.ENTER


def exit_verdict(
    price: float, take_profit: float, stop_loss: float, now: datetime, times: SessionTimes
) -> Verdict:
    """The exit rules for a long position with its bracket prices."""
    if now >= times.flatten_at:
        return Verdict.EXIT_FLATTEN
    if price >= take_profit:
        return Verdict.EXIT_TARGET
    if price <= stop_loss:
        return Verdict.EXIT_STOP
    return Verdict.HOLD_IN_POSITION


def decide(
    symbol: str,
    state: IndicatorView,
    position: Position | None,
    params: Params,
    now: datetime,
    times: SessionTimes,
    capital: bool | float = True,
    entry_price: float | None = None,
    daily_atr_pct: float | None = None,
) -> Signal:
    """One bar's decision for one symbol, with its reason.

    `position` is the bot's own position in the symbol (None or qty 0 = flat). The exit levels
    come from `entry_price` (the entry fill) or, failing that, the position's average cost.
    `capital` is either a yes/no from risk or an amount that must buy at least one share.
    """
    price = state.close
    qty = position.qty if position is not None else 0
    if position is None or qty == 0:
        verdict = entry_verdict(
            price, state.vwap, state.rsi, state.atr, params, now, times, capital, daily_atr_pct
        )
        return signal_for(symbol, verdict, state, params, now, times, daily_atr_pct=daily_atr_pct)
    if qty < 0:
        verdict = Verdict.EXIT_FLATTEN if now >= times.flatten_at else Verdict.HOLD_SHORT_POSITION
        return signal_for(symbol, verdict, state, params, now, times)
    entry = entry_price if entry_price is not None else position.avg_cost
    take_profit, stop_loss = bracket_prices(entry, params)
    verdict = exit_verdict(price, take_profit, stop_loss, now, times)
    return signal_for(symbol, verdict, state, params, now, times, entry, take_profit, stop_loss)


def signal_for(
    symbol: str,
    verdict: Verdict,
    state: IndicatorView,
    params: Params,
    now: datetime,
    times: SessionTimes,
    entry_price: float = 0.0,
    take_profit: float = 0.0,
    stop_loss: float = 0.0,
    daily_atr_pct: float | None = None,
) -> Signal:
    """The `Signal` for a verdict, with the reason spelled out from the same numbers."""
    return Signal(
        symbol=symbol,
        action=verdict.action,
        reason=explain(verdict, state, params, now, times, entry_price, take_profit, stop_loss,
                       daily_atr_pct),
        price=state.close,
        time=now,
        exit_reason=_EXIT_REASON.get(verdict),
    )


def _px(price: float) -> str:
    return f"{price:.2f}" if price >= 1.0 else f"{price:.4f}"


def explain(
    verdict: Verdict,
    state: IndicatorView,
    params: Params,
    now: datetime,
    times: SessionTimes,
    entry_price: float = 0.0,
    take_profit: float = 0.0,
    stop_loss: float = 0.0,
    daily_atr_pct: float | None = None,
) -> str:
    """Human reason for a verdict: the rule that decided it and the numbers it compared."""
    price, vwap, rsi, atr = state.close, state.vwap, state.rsi, state.atr
    volatility = atr_pct(atr, price, params, daily_atr_pct) * 100.0
    label = "daily atr" if params.atr_timeframe == "1 day" else "atr"
    min_pct = params.atr_min_pct * 100.0
    if verdict is Verdict.ENTER:
        return (
            f"enter: close {_px(price)} > vwap {_px(vwap)}, rsi {rsi:.1f} < {params.rsi_max:g}, "
            f"{label} {volatility:.2f}% > {min_pct:g}%"
        )
    if verdict is Verdict.HOLD_AFTER_CUTOFF:
        return f"hold: {now:%H:%M} is at/after the entry cutoff {times.entry_cutoff:%H:%M}"
    if verdict is Verdict.HOLD_WARMING_UP:
        return f"hold: warming up (vwap {_px(vwap)}, rsi {rsi:.1f}, atr {_px(atr)})"
    if verdict is Verdict.HOLD_NO_CAPITAL:
        return f"hold: no capital available for {_px(price)}"
    if verdict is Verdict.HOLD_BELOW_VWAP:
        return f"hold: close {_px(price)} <= vwap {_px(vwap)}"
    if verdict is Verdict.HOLD_RSI_HIGH:
        return f"hold: rsi {rsi:.1f} >= {params.rsi_max:g}"
    if verdict is Verdict.HOLD_ATR_LOW:
        if volatility != volatility:
            return f"hold: no {label} known for the volatility screen (> {min_pct:g}% needed)"
        return f"hold: {label} {volatility:.2f}% <= {min_pct:g}%"
    if verdict is Verdict.HOLD_IN_POSITION:
        return (
            f"hold: in position from {_px(entry_price)}, close {_px(price)} between stop "
            f"{_px(stop_loss)} and target {_px(take_profit)}"
        )
    if verdict is Verdict.HOLD_SHORT_POSITION:
        return "hold: short position is not managed by the long-only rules until flatten time"
    if verdict is Verdict.EXIT_TARGET:
        return (
            f"exit: target, close {_px(price)} >= take-profit {_px(take_profit)} "
            f"(+{params.profit_target * 100:g}% from entry {_px(entry_price)})"
        )
    if verdict is Verdict.EXIT_STOP:
        return (
            f"exit: stop, close {_px(price)} <= stop {_px(stop_loss)} "
            f"(-{params.stop_loss * 100:g}% from entry {_px(entry_price)})"
        )
    return f"exit: flatten time {times.flatten_at:%H:%M} reached at {now:%H:%M}"
