"""Risk policy for new entries: small rules with one protocol, composed by `RiskManager`.

Shape borrowed from freqtrade's protections: every rule answers the same question ("may this
entry go ahead, and with at most how many shares?") with a typed `RiskResult` whose `reason` ends
up in the log, the span and the report. `RiskManager` asks the rules in order and returns the
first "no" as is; when all say yes, the entry is sized to the smallest share limit any rule set,
and the reason names the rule that bound it.

Rules only ever stop or shrink *new entries*; exits and the flatten are never blocked by risk.
The kill-switch rule stats a file; everything else is arithmetic on the request. Rules: kill
switch, daily loss cap, max open positions, re-entry cooldown (gates), then position sizing,
buying power and the allocation's exposure cap (share limits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from trade.allocation import validate_allocation
from trade.models import Account, Params


@dataclass(frozen=True, slots=True)
class EntryRequest:
    """Everything the rules need to judge one prospective long entry."""

    symbol: str
    price: float
    account: Account
    open_exposure: float = 0.0  # the bot's own book at market plus entries still in flight
    open_positions: int = 0  # symbols the bot currently holds or is entering
    day_pnl: float = 0.0  # the bot's realised + unrealised P&L today
    day_start_equity: float | None = None  # None: net liquidation minus today's P&L
    params: Params | None = None  # the symbol's parameters (position_pct, cooldown_minutes)
    now: datetime | None = None  # decision time (the bar's end)
    last_exit: datetime | None = None  # when the bot last exited this symbol today


@dataclass(frozen=True, slots=True)
class RiskResult:
    """A rule's answer. `max_shares` is the most this rule allows (None = no share limit)."""

    allowed: bool
    reason: str
    max_shares: int | None = None
    rule: str = ""

    @property
    def shares(self) -> int:
        """The sized quantity of an allowed entry (0 for a "no")."""
        return (self.max_shares or 0) if self.allowed else 0


class RiskRule(Protocol):
    """One risk policy. `name` identifies it in reasons and logs."""

    name: str

    def check(self, request: EntryRequest) -> RiskResult: ...


def _no(rule: RiskRule, reason: str) -> RiskResult:
    return RiskResult(False, reason, 0, rule.name)


def _yes(rule: RiskRule, reason: str = "ok", max_shares: int | None = None) -> RiskResult:
    return RiskResult(True, reason, max_shares, rule.name)


def _whole_shares(cash: float, price: float) -> int:
    """floor(cash / price), never negative; the 1e-9 absorbs float noise such as 0.3 / 0.1."""
    if not cash > 0.0:
        return 0
    return max(0, math.floor(cash / price + 1e-9))


class KillSwitch:
    """No new entries while a given file exists (an operator's `touch` stops the bot buying)."""

    name = "kill_switch"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def check(self, request: EntryRequest) -> RiskResult:
        if self.path.exists():
            return _no(self, f"kill switch file {self.path} exists: remove it to allow entries")
        return _yes(self)


class DailyLossCap:
    """No new entries once today's P&L is below -max_loss_pct of the day's starting equity: the
    capital the bot was given (allocation x net liquidation at the day's start, today's P&L added
    back after a restart), not the whole account, whose other books' swings are not the bot's.
    Without a starting equity yet (the account values have not come), no entry."""

    name = "daily_loss_cap"

    def __init__(self, max_loss_pct: float, allocation: float = 1.0) -> None:
        if isinstance(max_loss_pct, bool) or not 0 < max_loss_pct < 1:
            raise ValueError(
                f"daily loss cap {max_loss_pct!r} is invalid: use a fraction in (0, 1), e.g. 0.02"
            )
        self.max_loss_pct = float(max_loss_pct)
        self.allocation = validate_allocation(allocation)

    def check(self, request: EntryRequest) -> RiskResult:
        account_start = request.day_start_equity
        if account_start is None or account_start <= 0.0:
            return _no(self, "the day's starting equity is not known yet (account values not "
                             "in): no entries until it is")
        start = account_start * self.allocation  # the bot's own capital that day
        floor = -self.max_loss_pct * start
        if request.day_pnl < floor:
            return _no(
                self,
                f"daily P&L {request.day_pnl:.2f} is below the loss cap {floor:.2f} "
                f"({self.max_loss_pct:.2%} of starting equity {start:.2f}): no entries today",
            )
        return _yes(self)


class MaxOpenPositions:
    """At most `limit` symbols held at once."""

    name = "max_open_positions"

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"max open positions {limit!r} is invalid: use a whole number >= 1")
        self.limit = limit

    def check(self, request: EntryRequest) -> RiskResult:
        if request.open_positions >= self.limit:
            return _no(
                self, f"{request.open_positions} open positions: the maximum is {self.limit}"
            )
        return _yes(self)


class PositionSizing:
    """Capital per symbol: net liquidation x allocation / number of symbols, or net liquidation
    x position_pct when the symbol's parameters (or the defaults given here) set one; whole
    shares only. position_pct is a fraction of net liquidation (equity), as the tuning bounds
    state it (3-10% of equity); the exposure cap still holds the total to the allocation."""

    name = "position_sizing"

    def __init__(self, allocation: float, n_symbols: int, position_pct: float | None = None):
        self.allocation = validate_allocation(allocation)
        if isinstance(n_symbols, bool) or not isinstance(n_symbols, int) or n_symbols < 1:
            raise ValueError(f"number of symbols {n_symbols!r} is invalid: use a whole number >= 1")
        self.n_symbols = n_symbols
        self.position_pct = position_pct

    def capital_per_symbol(self, net_liquidation: float, position_pct: float | None = None) -> float:
        pct = position_pct if position_pct is not None else self.position_pct
        if pct is not None:
            return net_liquidation * pct
        return net_liquidation * self.allocation / self.n_symbols

    def check(self, request: EntryRequest) -> RiskResult:
        price = request.price
        if not (price > 0.0 and math.isfinite(price)):
            return _no(self, f"price {price!r} for {request.symbol} is not a positive number")
        own_pct = request.params.position_pct if request.params is not None else None
        capital = self.capital_per_symbol(request.account.net_liquidation, own_pct)
        shares = _whole_shares(capital, price)
        if shares == 0:
            return _no(
                self,
                f"capital per symbol {capital:.2f} buys 0 shares of {request.symbol} "
                f"at {price:.2f}",
            )
        return _yes(self, f"capital per symbol {capital:.2f}", shares)


class ReentryCooldown:
    """No new entry in a symbol within `cooldown_minutes` (the symbol's parameter) of its last
    exit: a stop-out followed at once by a fresh signal is usually the same move failing twice."""

    name = "cooldown"

    def check(self, request: EntryRequest) -> RiskResult:
        minutes = request.params.cooldown_minutes if request.params is not None else 0
        if minutes <= 0 or request.last_exit is None or request.now is None:
            return _yes(self)
        until = request.last_exit + timedelta(minutes=minutes)
        if request.now < until:
            return _no(
                self,
                f"{request.symbol} exited at {request.last_exit:%H:%M}: cooldown of {minutes} min "
                f"lasts until {until:%H:%M}",
            )
        return _yes(self)


class BuyingPowerLimit:
    """Never more shares than the account's buying power pays for."""

    name = "buying_power"

    def check(self, request: EntryRequest) -> RiskResult:
        buying_power = request.account.buying_power
        shares = _whole_shares(buying_power, request.price)
        if shares == 0:
            return _no(
                self,
                f"buying power {buying_power:.2f} buys 0 shares of {request.symbol} "
                f"at {request.price:.2f}",
            )
        return _yes(self, f"buying power {buying_power:.2f}", shares)


class ExposureCap:
    """The bot's open positions plus the new one never exceed net liquidation x allocation."""

    name = "exposure_cap"

    def __init__(self, allocation: float) -> None:
        self.allocation = validate_allocation(allocation)

    def check(self, request: EntryRequest) -> RiskResult:
        cap = request.account.net_liquidation * self.allocation
        room = cap - request.open_exposure
        shares = _whole_shares(room, request.price)
        if shares == 0:
            return _no(
                self,
                f"open exposure {request.open_exposure:.2f} leaves {max(room, 0.0):.2f} of the "
                f"{cap:.2f} allocation: 0 shares of {request.symbol} at {request.price:.2f}",
            )
        return _yes(self, f"exposure room {room:.2f}", shares)


class RiskManager:
    """Composes the rules: the first "no" wins; otherwise a yes sized to the tightest limit."""

    def __init__(self, rules: list[RiskRule]) -> None:
        self.rules = list(rules)

    @classmethod
    def standard(
        cls,
        allocation: float,
        n_symbols: int,
        params: Params | None = None,
        max_open_positions: int | None = None,
        daily_loss_pct: float | None = None,
        kill_switch: Path | str | None = None,
    ) -> RiskManager:
        """The day trader's rule set: gates first (cheap, decisive), then the share limits."""
        rules: list[RiskRule] = []
        if kill_switch is not None:
            rules.append(KillSwitch(kill_switch))
        if daily_loss_pct is not None:
            rules.append(DailyLossCap(daily_loss_pct, allocation))
        if max_open_positions is not None:
            rules.append(MaxOpenPositions(max_open_positions))
        rules.append(ReentryCooldown())
        position_pct = params.position_pct if params is not None else None
        rules.append(PositionSizing(allocation, n_symbols, position_pct))
        rules.append(BuyingPowerLimit())
        rules.append(ExposureCap(allocation))
        return cls(rules)

    def check_entry(self, request: EntryRequest) -> RiskResult:
        binding: RiskResult | None = None
        limit = 0  # binding's max_shares, once a rule binds
        for rule in self.rules:
            result = rule.check(request)
            if not result.allowed:
                return result
            if result.max_shares is not None and (binding is None or result.max_shares < limit):
                binding, limit = result, result.max_shares
        if binding is None:
            return RiskResult(False, "no sizing rule configured: refusing to guess a quantity")
        shares = binding.max_shares
        return replace(
            binding,
            reason=f"allowed: {shares} shares of {request.symbol}, limited by {binding.reason}",
        )
