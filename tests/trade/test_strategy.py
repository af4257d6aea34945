"""The VWAP momentum rules: each rule flips the decision, boundaries are strict as specified."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trade.calendar import Session
from trade.indicators import IndicatorState
from trade.models import Bar, Params, Position, SignalAction
from trade.strategy import (
    Verdict,
    bracket_prices,
    decide,
    entry_verdict,
    exit_verdict,
    round_to_tick,
)

NY = ZoneInfo("America/New_York")
DAY = date(2026, 1, 22)
OPEN = datetime(2026, 1, 22, 9, 30, tzinfo=NY)
SESSION = Session(
    date=DAY,
    open=OPEN,
    close=datetime(2026, 1, 22, 16, 0, tzinfo=NY),
    flatten_at=datetime(2026, 1, 22, 15, 55, tzinfo=NY),
    entry_cutoff=datetime(2026, 1, 22, 15, 30, tzinfo=NY),
    is_half_day=False,
)
MIDDAY = datetime(2026, 1, 22, 12, 0, tzinfo=NY)
PARAMS = Params(atr_timeframe="1 min")  # the per-bar ATR rule; the daily screen is tested below
DAILY = Params()  # default: ATR% is the day's volatility screen


@dataclass(frozen=True)
class Snapshot:
    """Indicator values pinned exactly, for boundary tests."""

    close: float
    vwap: float
    rsi: float
    atr: float


def zigzag(n: int, up: float = 100.0, down: float = 98.0, half_range: float = 1.5) -> list[Bar]:
    """Closes alternating down/up (ending up): RSI near 50, VWAP(20) near the middle."""
    bars = []
    for i in range(n):
        close = up if i % 2 else down
        bars.append(
            Bar("ZZ", OPEN + timedelta(minutes=i), close, close + half_range,
                close - half_range, close, 1000.0)
        )  # fmt: skip
    return bars


def state_after(bars: list[Bar]) -> IndicatorState:
    state = IndicatorState()
    for bar in bars:
        state.update(bar)
    return state


def then(bars: list[Bar], *closes: float, half_range: float = 1.5) -> list[Bar]:
    """`bars` followed by one bar per close."""
    out = list(bars)
    for close in closes:
        start = out[-1].start + timedelta(minutes=1)
        out.append(Bar("ZZ", start, close, close + half_range, close - half_range, close, 1000.0))
    return out


def flat_decision(state: IndicatorState | Snapshot, now: datetime = MIDDAY, capital=True):
    return decide("ZZ", state, None, PARAMS, now, SESSION, capital)


BASE = zigzag(40)  # ends on an up bar at 100: close > vwap, rsi ~50, atr ~3.5%


def test_base_sequence_enters_with_a_reason_naming_each_rule() -> None:
    state = state_after(BASE)
    signal = flat_decision(state)
    assert signal.action is SignalAction.ENTER
    assert signal.reason.startswith("enter: close 100.00 > vwap ")
    assert "rsi " in signal.reason and "< 60" in signal.reason and "> 1.5%" in signal.reason
    assert signal.price == 100.0 and signal.time == MIDDAY and signal.symbol == "ZZ"


def test_close_below_vwap_holds() -> None:
    state = state_after(BASE[:-1])  # ends on the down bar at 98
    assert state.close < state.vwap
    signal = flat_decision(state)
    assert signal.action is SignalAction.HOLD
    assert signal.reason.startswith("hold: close 98.00 <= vwap ")


def test_rsi_above_max_holds() -> None:
    state = state_after(then(BASE, 102.0, 104.0, 106.0))
    assert state.rsi >= 60 and state.close > state.vwap
    signal = flat_decision(state)
    assert signal.action is SignalAction.HOLD
    assert signal.reason == f"hold: rsi {state.rsi:.1f} >= 60"


def test_atr_below_minimum_holds() -> None:
    state = state_after(zigzag(40, up=100.0, down=99.9, half_range=0.05))
    assert state.atr / state.close < PARAMS.atr_min_pct
    signal = flat_decision(state)
    assert signal.action is SignalAction.HOLD
    assert signal.reason.startswith("hold: atr 0.") and signal.reason.endswith("<= 1.5%")


def test_no_capital_holds() -> None:
    signal = flat_decision(state_after(BASE), capital=False)
    assert signal.action is SignalAction.HOLD
    assert signal.reason == "hold: no capital available for 100.00"


def test_capital_amount_must_buy_one_share() -> None:
    state = state_after(BASE)
    assert flat_decision(state, capital=99.99).action is SignalAction.HOLD
    assert flat_decision(state, capital=100.0).action is SignalAction.ENTER


def test_entry_cutoff_holds_from_the_cutoff_on() -> None:
    state = state_after(BASE)
    before = SESSION.entry_cutoff - timedelta(minutes=1)
    assert flat_decision(state, now=before).action is SignalAction.ENTER
    signal = flat_decision(state, now=SESSION.entry_cutoff)
    assert signal.action is SignalAction.HOLD
    assert signal.reason == "hold: 15:30 is at/after the entry cutoff 15:30"


def test_warm_up_holds_instead_of_comparing_nan() -> None:
    state = state_after(BASE[:10])
    signal = flat_decision(state)
    assert signal.action is SignalAction.HOLD
    assert signal.reason.startswith("hold: warming up")


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (Snapshot(close=100.0, vwap=100.0, rsi=50.0, atr=2.0), Verdict.HOLD_BELOW_VWAP),
        (Snapshot(close=100.01, vwap=100.0, rsi=50.0, atr=2.0), Verdict.ENTER),
        (Snapshot(close=101.0, vwap=100.0, rsi=60.0, atr=2.0), Verdict.HOLD_RSI_HIGH),
        (Snapshot(close=101.0, vwap=100.0, rsi=59.99, atr=2.0), Verdict.ENTER),
        (Snapshot(close=100.0, vwap=99.0, rsi=50.0, atr=1.5), Verdict.HOLD_ATR_LOW),
        (Snapshot(close=100.0, vwap=99.0, rsi=50.0, atr=1.5001), Verdict.ENTER),
    ],
    ids=["price==vwap", "price>vwap", "rsi==max", "rsi<max", "atr%==min", "atr%>min"],
)
def test_entry_boundaries_are_strict(snapshot: Snapshot, expected: Verdict) -> None:
    verdict = entry_verdict(
        snapshot.close, snapshot.vwap, snapshot.rsi, snapshot.atr, PARAMS, MIDDAY, SESSION, True
    )
    assert verdict is expected


def test_params_change_the_thresholds() -> None:
    snapshot = Snapshot(close=101.0, vwap=100.0, rsi=65.0, atr=1.0)
    assert flat_decision(snapshot).action is SignalAction.HOLD
    loose = PARAMS.with_overrides({"rsi_max": 70.0, "atr_min_pct": 0.005})
    signal = decide("ZZ", snapshot, None, loose, MIDDAY, SESSION, True)
    assert signal.action is SignalAction.ENTER


LONG = Position("ZZ", qty=10, avg_cost=100.0)


def test_target_price_exits_and_one_tick_below_holds() -> None:
    take_profit, _ = bracket_prices(100.0, PARAMS)
    assert take_profit == 101.4
    holding = decide("ZZ", state_after(then(BASE, 101.39)), LONG, PARAMS, MIDDAY, SESSION)
    assert holding.action is SignalAction.HOLD and holding.exit_reason is None
    signal = decide("ZZ", state_after(then(BASE, 101.40)), LONG, PARAMS, MIDDAY, SESSION)
    assert signal.action is SignalAction.EXIT and signal.exit_reason == "target"
    assert signal.reason == (
        "exit: target, close 101.40 >= take-profit 101.40 (+1.4% from entry 100.00)"
    )


def test_stop_price_exits_and_one_tick_above_holds() -> None:
    _, stop = bracket_prices(100.0, PARAMS)
    assert stop == 99.2
    holding = decide("ZZ", state_after(then(BASE, 99.21)), LONG, PARAMS, MIDDAY, SESSION)
    assert holding.action is SignalAction.HOLD
    signal = decide("ZZ", state_after(then(BASE, 99.20)), LONG, PARAMS, MIDDAY, SESSION)
    assert signal.action is SignalAction.EXIT and signal.exit_reason == "stop"
    assert signal.reason == "exit: stop, close 99.20 <= stop 99.20 (-0.8% from entry 100.00)"


def test_flatten_time_exits_whatever_the_price() -> None:
    state = state_after(BASE)
    before = SESSION.flatten_at - timedelta(minutes=1)
    assert decide("ZZ", state, LONG, PARAMS, before, SESSION).action is SignalAction.HOLD
    signal = decide("ZZ", state, LONG, PARAMS, SESSION.flatten_at, SESSION)
    assert signal.action is SignalAction.EXIT and signal.exit_reason == "flatten"
    assert signal.reason == "exit: flatten time 15:55 reached at 15:55"


def test_entry_price_overrides_the_average_cost() -> None:
    state = state_after(then(BASE, 101.0))
    assert decide("ZZ", state, LONG, PARAMS, MIDDAY, SESSION).action is SignalAction.HOLD
    signal = decide("ZZ", state, LONG, PARAMS, MIDDAY, SESSION, entry_price=99.5)
    assert signal.exit_reason == "target"  # 99.5 * 1.014 = 100.893 -> 100.89


def test_short_position_is_only_flattened() -> None:
    short = Position("ZZ", qty=-5, avg_cost=100.0)
    state = state_after(BASE)
    assert decide("ZZ", state, short, PARAMS, MIDDAY, SESSION).action is SignalAction.HOLD
    flat = decide("ZZ", state, short, PARAMS, SESSION.flatten_at, SESSION)
    assert flat.exit_reason == "flatten"


def test_exit_verdict_checks_flatten_before_price() -> None:
    assert exit_verdict(200.0, 101.4, 99.2, SESSION.flatten_at, SESSION) is Verdict.EXIT_FLATTEN


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (100.0, (101.4, 99.2)),
        (12.34, (12.51, 12.24)),  # 12.51276 -> 12.51, 12.24128 -> 12.24
        (0.5, (0.507, 0.496)),  # sub-dollar: 1/100 cent ticks
        (0.12345, (0.1252, 0.1225)),  # 0.1251783 -> 0.1252, 0.1224624 -> 0.1225
        (1.0, (1.01, 0.992)),  # stop below $1 switches to the sub-penny tick
    ],
)
def test_bracket_prices_round_to_the_tick(entry: float, expected: tuple[float, float]) -> None:
    assert bracket_prices(entry, PARAMS) == expected


def test_bracket_prices_reject_a_non_positive_entry() -> None:
    with pytest.raises(ValueError, match="entry_price"):
        bracket_prices(0.0, PARAMS)
    with pytest.raises(ValueError, match="entry_price"):
        bracket_prices(math.nan, PARAMS)


def test_round_to_tick_never_leaves_float_noise() -> None:
    assert round_to_tick(100.0 * 1.014) == 101.4
    assert repr(round_to_tick(0.30000000000000004)) == "0.3"


# -- the daily volatility screen (default atr_timeframe "1 day") --------------------------------


def test_daily_screen_uses_the_days_atr_not_the_bars() -> None:
    quiet_bar = Snapshot(close=101.0, vwap=100.0, rsi=50.0, atr=0.001)  # 1-min ATR ~0%
    assert entry_verdict(101.0, 100.0, 50.0, 0.001, DAILY, MIDDAY, SESSION, True,
                         daily_atr_pct=0.0151) is Verdict.ENTER
    assert entry_verdict(101.0, 100.0, 50.0, 0.001, DAILY, MIDDAY, SESSION, True,
                         daily_atr_pct=0.015) is Verdict.HOLD_ATR_LOW  # strict, as specified
    signal = decide("ZZ", quiet_bar, None, DAILY, MIDDAY, SESSION, True, daily_atr_pct=0.012)
    assert signal.action is SignalAction.HOLD
    assert signal.reason == "hold: daily atr 1.20% <= 1.5%"


def test_daily_screen_without_a_daily_atr_never_enters() -> None:
    verdict = entry_verdict(101.0, 100.0, 50.0, 2.0, DAILY, MIDDAY, SESSION, True)
    assert verdict is Verdict.HOLD_ATR_LOW
    signal = decide("ZZ", Snapshot(101.0, 100.0, 50.0, 2.0), None, DAILY, MIDDAY, SESSION)
    assert "no daily atr known" in signal.reason


def test_daily_screen_does_not_wait_for_the_minute_atr() -> None:
    warming = Snapshot(close=101.0, vwap=100.0, rsi=50.0, atr=math.nan)
    signal = decide("ZZ", warming, None, DAILY, MIDDAY, SESSION, True, daily_atr_pct=0.02)
    assert signal.action is SignalAction.ENTER
    assert signal.reason.endswith("daily atr 2.00% > 1.5%")


def test_atr_timeframe_is_validated() -> None:
    with pytest.raises(ValueError, match="atr_timeframe"):
        Params(atr_timeframe="5 mins")
    with pytest.raises(ValueError, match="cooldown_minutes"):
        Params(cooldown_minutes=121)
    assert Params().with_overrides({"cooldown_minutes": 15, "atr_timeframe": "1 min"}) == Params(
        cooldown_minutes=15, atr_timeframe="1 min")
    with pytest.raises(ValueError, match="whole number"):
        Params().with_overrides({"cooldown_minutes": 1.5})
