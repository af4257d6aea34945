"""The weekly bot's universe file: which symbols it may hold and the rules it rebalances by.

Format of `weekly_universe.json` (validated like the day trader's watchlist):

    {"symbols": ["AAPL", "MSFT", "KO"],
     "rules": {"top_k": 5, "max_weight": 0.25, "band_abs": 0.05, "band_rel": 0.25}}

`rules` is optional; every rule has a default (`PortfolioRules`). Bad JSON, an empty or
duplicated symbol list, a malformed ticker, an unknown rule or a value out of range is a
`UniverseError` whose message is one line naming the field and the fix; nothing is traded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trade.refusal import Refused

_TICKER = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")


class UniverseError(Refused, ValueError):
    """The universe file is unusable; the message is one line with the fix."""


@dataclass(frozen=True, slots=True)
class PortfolioRules:
    """How the weekly book is chosen and traded. Fractions are of the book's budget
    (allocation x net liquidation) unless said otherwise."""

    # portfolio construction
    top_k: int = 5  # names held at most
    max_weight: float = 0.25  # cap per name; what the cap cuts off stays cash
    cash_buffer: float = 0.05  # kept uninvested
    # drift band: trade a name only when |target - current| > band_abs (absolute weight)
    # or > band_rel x target (relative)
    band_abs: float = 0.05
    band_rel: float = 0.25
    # orders
    min_order_value: float = 500.0  # dollars; smaller trades are skipped (never a full exit)
    max_slippage: float = 0.005  # limit = reference price x (1 +/- this)
    order_timeout_minutes: float = 30.0  # market minutes before unfilled orders are cancelled
    # screener (without FMP: IB daily history only)
    min_history_days: int = 200  # daily bars needed for 12-1 momentum and the Monte Carlo
    min_price: float = 5.0
    min_dollar_volume: float = 5_000_000.0  # 20-day average, dollars
    fmp_min_market_cap: float = 2_000_000_000.0
    # analyst: Monte Carlo of the holding period (a stationary bootstrap), used as a filter
    holding_days: int = 5
    mc_paths: int = 10_000
    mc_block_days: float = 2.0  # MEAN block length; shorter than holding_days (see montecarlo.py)
    # the filter, in standard errors of the expected return (the resampling error of a year of
    # history, montecarlo.standard_error): a new name needs (E[r] - round trip) >= min_edge_z x
    # SE; a held name stays eligible while it is >= hold_edge_z x SE (see edge.py)
    min_edge_z: float = 0.5
    hold_edge_z: float = 0.0
    max_cvar: float = 0.12  # expected loss in the worst 5% of paths, as a fraction
    slippage_bps: float = 5.0  # expected cost per side (half spread + impact), basis points
    llm_weight: float = 0.25  # score change per rating step away from 3 (of 1..5)
    # membership hysteresis (membership.py): a held name stays while it ranks within
    # top_k + hold_buffer; a new name displaces the weakest member only when its score beats
    # that member's by entry_margin (score units); an empty slot is filled by the best new name
    hold_buffer: int = 4
    entry_margin: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# name -> (whole number?, low, high, low inclusive?, the "use ..." advice)
_LIMITS: dict[str, tuple[bool, float, float, bool, str]] = {
    "top_k": (True, 1, 100, True, "a whole number 1-100, e.g. 5"),
    "max_weight": (False, 0.0, 1.0, False, "a fraction in (0, 1], e.g. 0.25"),
    "cash_buffer": (False, 0.0, 0.9, True, "a fraction in [0, 0.9], e.g. 0.05"),
    "band_abs": (False, 0.0, 1.0, True, "a fraction in [0, 1], e.g. 0.05 (5 percentage points)"),
    "band_rel": (False, 0.0, 10.0, True, "a fraction >= 0, e.g. 0.25 (25% of the target)"),
    "min_order_value": (False, 0.0, 1e9, True, "dollars >= 0, e.g. 500"),
    "max_slippage": (False, 0.0, 0.1, False, "a fraction in (0, 0.1], e.g. 0.005"),
    "order_timeout_minutes": (False, 0.0, 390.0, False, "market minutes in (0, 390], e.g. 30"),
    "min_history_days": (True, 30, 2000, True, "a whole number of daily bars 30-2000, e.g. 200"),
    "min_price": (False, 0.0, 1e6, True, "dollars >= 0, e.g. 5"),
    "min_dollar_volume": (False, 0.0, 1e13, True, "dollars >= 0, e.g. 5000000"),
    "fmp_min_market_cap": (False, 0.0, 1e14, True, "dollars >= 0, e.g. 2000000000"),
    "holding_days": (True, 1, 60, True, "a whole number of sessions 1-60, e.g. 5"),
    "mc_paths": (True, 100, 1_000_000, True, "a whole number 100-1000000, e.g. 10000"),
    "mc_block_days": (False, 1.0, 60.0, True, "a mean block of 1-60 sessions, shorter than "
                      "holding_days, e.g. 2"),
    "min_edge_z": (False, -5.0, 5.0, True, "standard errors in [-5, 5], e.g. 0.5"),
    "hold_edge_z": (False, -5.0, 5.0, True, "standard errors in [-5, 5], at most min_edge_z, "
                    "e.g. 0"),
    "max_cvar": (False, 0.0, 1.0, False, "a fraction in (0, 1], e.g. 0.12"),
    "slippage_bps": (False, 0.0, 500.0, True, "basis points per side in [0, 500], e.g. 5"),
    "llm_weight": (False, 0.0, 10.0, True, "a number >= 0, e.g. 0.25 (0 ignores the LLM)"),
    "hold_buffer": (True, 0, 100, True, "a whole number of ranks 0-100, e.g. 4 (0: no buffer)"),
    "entry_margin": (False, 0.0, 10.0, True, "score units in [0, 10], e.g. 0.5 (0: no margin)"),
}
# rules that no longer exist, with what replaced them (an old universe file gets the fix)
_RETIRED = {
    "min_prob_up": "P(up) no longer filters (its error was a coin flip's): the filter is "
                   "min_edge_z, the expected return net of costs in standard errors",
}


@dataclass(frozen=True, slots=True)
class Universe:
    symbols: tuple[str, ...]
    rules: PortfolioRules
    path: str = ""


def load_universe(path: Path | str) -> Universe:
    where = str(path)
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UniverseError(
            f"universe {where} not found: create it or pass --universe PATH") from None
    except OSError as exc:
        raise UniverseError(
            f"universe {where} cannot be read ({exc.strerror}): fix its permissions") from None
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UniverseError(
            f"universe {where} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f'{exc.msg}): use {{"symbols": ["AAPL", ...]}}') from None
    if not isinstance(data, dict) or "symbols" not in data:
        raise UniverseError(
            f'universe {where} needs a "symbols" list: use {{"symbols": ["AAPL", ...]}}')
    unknown = sorted(set(data) - {"symbols", "rules"})
    if unknown:
        raise UniverseError(f"universe {where} has unknown key(s) {unknown}: only \"symbols\" "
                            "and \"rules\" are allowed")
    symbols = data["symbols"]
    if not isinstance(symbols, list) or not symbols:
        raise UniverseError(f'universe {where}: "symbols" must be a non-empty list of tickers')
    seen: set[str] = set()
    for index, symbol in enumerate(symbols):
        if not isinstance(symbol, str) or not _TICKER.match(symbol):
            raise UniverseError(f"universe {where}: symbols[{index}] = {symbol!r} is not a "
                                'ticker: use upper-case symbols such as "AAPL"')
        if symbol in seen:
            raise UniverseError(f"universe {where}: {symbol} is listed twice: remove the duplicate")
        seen.add(symbol)
    rules = parse_rules(data.get("rules", {}), where)
    return Universe(tuple(symbols), rules, where)


def parse_rules(given: Any, where: str = "rules") -> PortfolioRules:
    """`PortfolioRules` from a JSON object of overrides; one-line errors naming the rule."""
    if not isinstance(given, dict):
        raise UniverseError(f'universe {where}: "rules" must be an object of rule -> value')
    values: dict[str, Any] = {}
    for name, value in given.items():
        if name in _RETIRED:
            raise UniverseError(f"universe {where}: rules.{name} was retired: "
                                f"{_RETIRED[name]}; remove it")
        if name not in _LIMITS:
            raise UniverseError(f"universe {where}: unknown rule {name!r}: use one of "
                                f"{', '.join(sorted(_LIMITS))}")
        whole, low, high, low_inclusive, fix = _LIMITS[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and whole:
            ok = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if ok:
            number = float(value)
            above = number >= low if low_inclusive else number > low
            ok = math.isfinite(number) and above and number <= high
        if not ok:
            raise UniverseError(f"universe {where}: rules.{name} = {value!r} is invalid: use {fix}")
        values[name] = int(value) if whole else float(value)
    rules = PortfolioRules(**values)
    if rules.holding_days > 1 and rules.mc_block_days >= rules.holding_days:
        raise UniverseError(
            f"universe {where}: rules.mc_block_days = {rules.mc_block_days:g} is invalid: a mean "
            f"block as long as holding_days ({rules.holding_days}) replays history's windows "
            "instead of simulating: use a mean block shorter than holding_days, e.g. 2")
    if rules.hold_edge_z > rules.min_edge_z:
        raise UniverseError(
            f"universe {where}: rules.hold_edge_z = {rules.hold_edge_z:g} is invalid: a held "
            f"name cannot need more than a new one (min_edge_z = {rules.min_edge_z:g}): use a "
            "value <= min_edge_z, e.g. 0")
    return rules
