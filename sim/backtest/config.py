"""What a backtest trades with, besides the strategy's `Params`: money, risk limits, the market.

The defaults are the live day trader's (`trade.config.Settings`): a daily loss cap of 2% of the
day's starting equity, no cap on open positions, the matching engine's 1 bp slippage and IB's
tiered commissions. The kill switch (a file an operator touches) has no meaning in a replay and
is off. Every session starts flat with `equity` (the sessions are independent, as the day
trader's are), so the P&L of one session never sizes the next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trade.allocation import validate_allocation
from trade.models import Params


class BacktestInputError(ValueError):
    """Bad input for a backtest or a sweep: one line naming the field and the fix (exit 2)."""


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    allocation: float = 0.25
    equity: float = 100_000.0
    daily_loss_pct: float | None = 0.02  # Settings.daily_loss_cap_pct / 100
    max_open_positions: int | None = None
    slippage_bps: float = 1.0  # the matching engine's default

    def __post_init__(self) -> None:
        try:
            validate_allocation(self.allocation)
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        if isinstance(self.equity, bool) or not isinstance(self.equity, int | float) \
                or not self.equity > 0:
            raise BacktestInputError(f"--equity={self.equity!r} is invalid: use a positive amount, "
                                     "e.g. 100000")
        if self.daily_loss_pct is not None and not 0 < self.daily_loss_pct < 1:
            raise BacktestInputError(f"daily_loss_pct={self.daily_loss_pct!r} is invalid: use a "
                                     "fraction in (0, 1), e.g. 0.02")
        if self.max_open_positions is not None and self.max_open_positions < 1:
            raise BacktestInputError(f"max_open_positions={self.max_open_positions!r} is invalid: "
                                     "use a whole number >= 1")
        if not 0 <= self.slippage_bps < 1000:
            raise BacktestInputError(f"slippage_bps={self.slippage_bps!r} is invalid: use basis "
                                     "points in [0, 1000)")


def params_from_json(path: Path | str, base: Params | None = None) -> Params:
    """`--params FILE.json`: a JSON object of `Params` fields over `base` (default `Params()`)."""
    where = str(path)
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BacktestInputError(f"--params {where} not found: pass a JSON file such as "
                                 '{"profit_target": 0.02}') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BacktestInputError(f"--params {where} cannot be read ({exc}): fix the file") from None
    except json.JSONDecodeError as exc:
        raise BacktestInputError(f"--params {where} is not valid JSON (line {exc.lineno}: "
                                 f'{exc.msg}): use an object such as {{"profit_target": 0.02}}') from None
    return params_from_mapping(data, f"--params {where}", base)


def params_from_mapping(data: Any, where: str, base: Params | None = None) -> Params:
    if not isinstance(data, dict):
        raise BacktestInputError(f'{where} must be a JSON object of parameters, e.g. '
                                 '{"profit_target": 0.02}')
    try:
        return (base or Params()).with_overrides(data)
    except (TypeError, ValueError) as exc:
        raise BacktestInputError(f"{where}: {exc}") from None
