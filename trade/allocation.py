"""The allocation: the fraction of net liquidation a bot may hold at once. One home for what a
valid one is, because every entry point (both bots' flags and settings, the backtester, the
nightly cycle's replays, the risk rules) must refuse the same values with the same words.

A valid allocation is a finite number in (0, 1]; bots sharing one account must together stay
within 1 (both books must fit in net liquidation).
"""

from __future__ import annotations

import math

FIX = "a fraction in (0, 1], e.g. 0.25"
TOTAL_TOLERANCE = 1e-9


def parse_allocation(value: object) -> float:
    """`value` (a number, or text from a flag, .env or a run log) as an allocation; ValueError
    naming the fix otherwise."""
    number: float | None = None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if number is None or not math.isfinite(number) or not 0.0 < number <= 1.0:
        raise ValueError(f"{value!r} is invalid: use {FIX}")
    return number


def validate_allocation(value: object, flag: str = "--allocation") -> float:
    """A number already parsed (the risk rules', the backtest's): text is refused here, it is
    `parse_allocation`'s to read. The error names the flag or setting it came from."""
    try:
        if isinstance(value, str):
            raise ValueError(value)
        return parse_allocation(value)
    except ValueError:
        raise ValueError(f"{flag}={value!r} is invalid: use {FIX}") from None


def over_total(allocations: dict[str, float]) -> str | None:
    """Why allocations sharing one account do not fit (their sum above 1), or None."""
    total = sum(allocations.values())
    if total <= 1.0 + TOTAL_TOLERANCE:
        return None
    parts = " plus ".join(f"{name} {value:g}" for name, value in allocations.items())
    books = "the two books" if len(allocations) == 2 else "the books"
    return (f"{parts} is {total:g}: {books} must fit in net liquidation: lower one so they "
            "sum to at most 1")
