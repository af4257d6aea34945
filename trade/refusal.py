"""The one exception that means "the bot must not trade": bad input or a refusal, one line naming
the fix, exit code 2, nothing sent.

Kept in a module of its own, with no imports, so that every layer's input errors (the watchlist,
the weekly universe, the simulator's set-up, a parameters file) can be kinds of it without
pulling anything heavy in, and the entry scripts catch one type (trade/startup.py).
"""

from __future__ import annotations


class Refused(Exception):
    """The bot must not trade: bad input or a refusal (one line with the fix; exit 2)."""

    alerted = False  # True when the owner was already told by an alert of its own


class AccountRefused(Refused):
    """The account itself is refused (a live one without --live): `account` is its id, for the
    owner's alert (masked there); never printed whole."""

    def __init__(self, message: str, account: str) -> None:
        super().__init__(message)
        self.account = account
