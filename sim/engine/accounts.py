"""The accounts of one login: a ledger each, the first one being where unaddressed orders go.

A real IB login may manage several accounts (an individual account and an IRA, say): positions,
orders, executions and account values are per account, and an order that names no account goes
to the first one `managedAccounts` lists. The simulator models that so a bot's account filter
can be tested: a second account holding the same symbols must never be traded by it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sim.engine.ledger import Ledger


class Accounts:
    """Ledgers by account id, in the order `managedAccounts` reports them."""

    def __init__(self, primary: str, cash: float) -> None:
        self.primary = primary
        self._ledgers: dict[str, Ledger] = {primary: Ledger(initial_cash=cash)}

    def ids(self) -> list[str]:
        return list(self._ledgers)

    def add(self, account_id: str, cash: float, positions: Mapping[str, tuple[float, float]] | None = None) -> Ledger:
        """Open another account under the login, optionally already holding `positions`
        ({symbol: (qty, avg cost)}: bought before the replay starts, cash unchanged)."""
        if account_id in self._ledgers:
            raise ValueError(f"account {account_id!r} already exists: pick another id")
        ledger = self._ledgers[account_id] = Ledger(initial_cash=cash)
        for symbol, (qty, avg) in (positions or {}).items():
            if qty:
                ledger.positions[symbol.upper()] = [float(qty), float(avg)]
        return ledger

    def ledger(self, account: str | None = None) -> Ledger:
        """The ledger of `account` (the first account for None or "")."""
        ledger = self._ledgers.get(account or self.primary)
        if ledger is None:
            raise KeyError(account)
        return ledger

    def __contains__(self, account: str) -> bool:
        return account in self._ledgers
