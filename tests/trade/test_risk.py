"""Risk rules for new entries: allocation, sizing, exposure, loss cap, max positions, kill switch."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from trade.models import Account, Params
from trade.risk import (
    BuyingPowerLimit,
    DailyLossCap,
    EntryRequest,
    ExposureCap,
    KillSwitch,
    MaxOpenPositions,
    PositionSizing,
    RiskManager,
    validate_allocation,
)


def account(net_liq: float = 100_000.0, buying_power: float | None = None) -> Account:
    return Account(
        account_id="DU1234567",
        net_liquidation=net_liq,
        cash=net_liq,
        buying_power=net_liq * 4 if buying_power is None else buying_power,
    )


def request(price: float = 50.0, **changes) -> EntryRequest:
    fields: dict[str, Any] = {"symbol": "SPY", "price": price, "account": account()}
    fields.update(changes)
    return EntryRequest(**fields)


# --- allocation ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.25, 1, 1.0, 1e-6])
def test_allocation_in_range_is_accepted(value: float) -> None:
    assert validate_allocation(value) == float(value)


@pytest.mark.parametrize("value", [0, 0.0, 1.5, -0.1, math.nan, math.inf, "0.25", None, True])
def test_allocation_out_of_range_or_not_a_number_is_rejected(value: object) -> None:
    with pytest.raises(ValueError, match=r"--allocation=.* use a fraction in \(0, 1\]") as err:
        validate_allocation(value)
    assert "\n" not in str(err.value)


# --- sizing ----------------------------------------------------------------------------------


def test_capital_is_split_equally_between_symbols() -> None:
    # 100k x 0.5 / 4 = 12,500 per symbol -> floor(12,500 / 33) = 378 shares
    result = PositionSizing(0.5, 4).check(request(price=33.0))
    assert result.allowed and result.max_shares == 378


def test_position_pct_replaces_the_equal_split() -> None:
    result = PositionSizing(0.5, 4, position_pct=0.05).check(request(price=10.0))
    assert result.max_shares == 500  # 100k x 5% / 10


def test_tiny_capital_buys_no_shares_and_says_why() -> None:
    tiny = request(price=50.0, account=account(net_liq=150.0))  # 150 x 1 / 4 = 37.50
    result = PositionSizing(1.0, 4).check(tiny)
    assert not result.allowed and result.shares == 0
    assert result.reason == "capital per symbol 37.50 buys 0 shares of SPY at 50.00"


def test_price_above_capital_buys_no_shares() -> None:
    result = PositionSizing(0.1, 10).check(request(price=1500.0))  # 1,000 per symbol
    assert not result.allowed
    assert "buys 0 shares of SPY at 1500.00" in result.reason


def test_sizing_absorbs_float_noise_in_the_division() -> None:
    result = PositionSizing(1.0, 1).check(request(price=0.1, account=account(net_liq=0.3)))
    assert result.max_shares == 3  # 0.3 / 0.1 = 2.9999999999999996 in floats


def test_negative_net_liquidation_never_gives_negative_shares() -> None:
    result = PositionSizing(1.0, 1).check(request(account=account(net_liq=-5_000.0)))
    assert not result.allowed and result.shares == 0


def test_bad_price_is_refused_with_a_reason() -> None:
    result = PositionSizing(1.0, 1).check(request(price=math.nan))
    assert not result.allowed and "not a positive number" in result.reason


def test_buying_power_binds_the_size() -> None:
    manager = RiskManager.standard(allocation=1.0, n_symbols=1)
    result = manager.check_entry(request(price=100.0, account=account(buying_power=2_550.0)))
    assert result.allowed and result.shares == 25
    assert result.rule == "buying_power" and "limited by buying power 2550.00" in result.reason


def test_no_buying_power_refuses_the_entry() -> None:
    result = BuyingPowerLimit().check(request(price=100.0, account=account(buying_power=99.0)))
    assert not result.allowed
    assert result.reason == "buying power 99.00 buys 0 shares of SPY at 100.00"


# --- exposure --------------------------------------------------------------------------------


def test_exposure_cap_shrinks_the_entry_to_the_room_left() -> None:
    # cap 100k x 0.25 = 25,000; 22,000 already open -> room 3,000 -> 60 shares at 50
    manager = RiskManager.standard(allocation=0.25, n_symbols=2)
    result = manager.check_entry(request(price=50.0, open_exposure=22_000.0))
    assert result.allowed and result.shares == 60 and result.rule == "exposure_cap"


def test_exposure_cap_refuses_when_the_allocation_is_used_up() -> None:
    result = ExposureCap(0.25).check(request(price=50.0, open_exposure=24_990.0))
    assert not result.allowed
    assert "leaves 10.00 of the 25000.00 allocation" in result.reason


def test_total_exposure_never_exceeds_the_allocation() -> None:
    manager = RiskManager.standard(allocation=0.3, n_symbols=2)
    exposure = 0.0
    for price in (97.13, 41.7, 13.33, 250.01, 7.77):
        result = manager.check_entry(request(price=price, open_exposure=exposure))
        if result.allowed:
            exposure += result.shares * price
        assert exposure <= 100_000.0 * 0.3


# --- gates -----------------------------------------------------------------------------------


def test_daily_loss_cap_stops_entries_below_the_floor() -> None:
    cap = DailyLossCap(0.02)  # start 100k -> floor -2,000
    assert cap.check(request(day_pnl=-2_000.0, day_start_equity=100_000.0)).allowed
    result = cap.check(request(day_pnl=-2_000.01, day_start_equity=100_000.0))
    assert not result.allowed
    assert result.reason == (
        "daily P&L -2000.01 is below the loss cap -2000.00 "
        "(2.00% of starting equity 100000.00): no entries today"
    )


def test_daily_loss_cap_refuses_entries_until_the_starting_equity_is_known() -> None:
    """Issue 20 (before: with no starting equity it derived one from the account values, which
    are 0.0 until they come in: a floor of 0 that any loss crossed, or none at all)."""
    result = DailyLossCap(0.02).check(request(account=account(net_liq=0.0), day_pnl=0.0))
    assert not result.allowed and "starting equity is not known yet" in result.reason


def test_daily_loss_cap_is_measured_on_the_bots_own_capital() -> None:
    """Issue 20 (before: the base was the whole account, the weekly book inside it: a bot with a
    quarter of the account could lose 8% of its capital under a 2% cap)."""
    cap = DailyLossCap(0.02, allocation=0.25)  # 100k account, 25k the bot's: floor -500
    assert cap.check(request(day_pnl=-500.0, day_start_equity=100_000.0)).allowed
    result = cap.check(request(day_pnl=-500.01, day_start_equity=100_000.0))
    assert not result.allowed and "starting equity 25000.00" in result.reason


def test_daily_loss_cap_rejects_a_bad_fraction() -> None:
    with pytest.raises(ValueError, match="daily loss cap 2 is invalid"):
        DailyLossCap(2)


def test_max_open_positions_blocks_at_the_limit() -> None:
    rule = MaxOpenPositions(3)
    assert rule.check(request(open_positions=2)).allowed
    result = rule.check(request(open_positions=3))
    assert not result.allowed and result.reason == "3 open positions: the maximum is 3"


def test_kill_switch_file_blocks_entries_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "STOP_TRADING"
    rule = KillSwitch(path)
    assert rule.check(request()).allowed
    path.touch()
    result = rule.check(request())
    assert not result.allowed
    assert result.reason == f"kill switch file {path} exists: remove it to allow entries"


# --- composition -----------------------------------------------------------------------------


def test_manager_returns_the_first_no_in_rule_order(tmp_path: Path) -> None:
    (tmp_path / "STOP").touch()
    manager = RiskManager.standard(
        allocation=0.5,
        n_symbols=4,
        max_open_positions=1,
        daily_loss_pct=0.01,
        kill_switch=tmp_path / "STOP",
    )
    result = manager.check_entry(request(open_positions=5, day_pnl=-10_000.0))
    assert not result.allowed and result.rule == "kill_switch"


def test_manager_sizes_a_yes_from_the_params_position_pct() -> None:
    manager = RiskManager.standard(allocation=0.5, n_symbols=4, params=Params(position_pct=0.04))
    result = manager.check_entry(request(price=100.0))
    assert result.allowed and result.shares == 40 and result.rule == "position_sizing"
    assert result.reason == "allowed: 40 shares of SPY, limited by capital per symbol 4000.00"


def test_manager_rejects_allocation_out_of_range() -> None:
    with pytest.raises(ValueError, match="--allocation=1.5"):
        RiskManager.standard(allocation=1.5, n_symbols=4)
    with pytest.raises(ValueError, match="--allocation=0"):
        RiskManager.standard(allocation=0, n_symbols=4)


def test_manager_without_a_sizing_rule_refuses() -> None:
    result = RiskManager([MaxOpenPositions(2)]).check_entry(request())
    assert not result.allowed and "no sizing rule" in result.reason


# --- re-entry cooldown and per-symbol sizing (issue 9 / issue 16) -----------------------------

EXITED = datetime(2026, 1, 22, 11, 0, tzinfo=ZoneInfo("America/New_York"))


def test_cooldown_blocks_a_reentry_inside_the_window_and_allows_it_after() -> None:
    manager = RiskManager.standard(0.25, n_symbols=1)
    params = Params(cooldown_minutes=15)
    inside = manager.check_entry(request(params=params, last_exit=EXITED,
                                         now=EXITED + timedelta(minutes=14, seconds=59)))
    assert not inside.allowed and inside.rule == "cooldown"
    assert inside.reason == "SPY exited at 11:00: cooldown of 15 min lasts until 11:15"
    after = manager.check_entry(request(params=params, last_exit=EXITED,
                                        now=EXITED + timedelta(minutes=15)))
    assert after.allowed


def test_no_cooldown_by_default_and_none_before_the_first_exit() -> None:
    manager = RiskManager.standard(0.25, n_symbols=1)
    assert manager.check_entry(request(params=Params(), last_exit=EXITED,
                                       now=EXITED + timedelta(seconds=1))).allowed
    assert manager.check_entry(request(params=Params(cooldown_minutes=30), last_exit=None,
                                       now=EXITED)).allowed


def test_a_symbols_position_pct_sizes_its_entry_as_a_fraction_of_net_liquidation() -> None:
    manager = RiskManager.standard(0.5, n_symbols=4)  # equal split: 12,500 per symbol
    assert manager.check_entry(request(price=50.0)).shares == 250
    sized = manager.check_entry(request(price=50.0, params=Params(position_pct=0.05)))
    assert sized.shares == 100  # 5% of 100,000 = 5,000
    capped = manager.check_entry(request(price=50.0, params=Params(position_pct=0.8)))
    assert capped.shares == 1000 and "exposure room" in capped.reason  # 80% > allocation 50%
