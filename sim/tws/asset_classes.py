"""Which contracts the simulator serves: US stocks and ETFs (secType STK, currency USD).

Every other asset class (indices, futures, options, forex, bonds, CFDs, crypto, combos) is
answered as a real Gateway answers a contract it cannot find, error 200 "No security definition
has been found for the request" (IB's message codes page), with the reason appended so a user
knows it is the simulator's scope and not a typo: which asset classes it does serve, and why.
"""

from __future__ import annotations

from sim.tws import errors
from sim.tws.fields import ContractSpec

SERVED_SEC_TYPES = frozenset({"", "STK"})  # "" is how a client leaves secType unset
SERVED_CURRENCIES = frozenset({"", "USD"})
SERVES = "the simulator serves US stocks and ETFs only (secType STK, currency USD), from the replay data"
ASSET_CLASS_NAMES = {
    "IND": "an index", "FUT": "a future", "CONTFUT": "a continuous future", "OPT": "an option",
    "FOP": "a futures option", "CASH": "a forex pair", "BOND": "a bond", "CFD": "a CFD",
    "CRYPTO": "a crypto currency", "CMDTY": "a commodity", "WAR": "a warrant", "FUND": "a mutual fund",
    "BAG": "a combo", "NEWS": "a news contract", "IOPT": "a structured product",
}


def refusal(contract: ContractSpec) -> str | None:
    """The error 200 text for a contract outside the simulator's asset classes, else None."""
    sec_type = contract.sec_type.upper()
    if sec_type not in SERVED_SEC_TYPES:
        what = ASSET_CLASS_NAMES.get(sec_type, f"secType {sec_type}")
        return f"{errors.message(errors.NO_SECURITY_DEFINITION)} ({contract.ticker} is {what}: {SERVES})"
    currency = contract.currency.upper()
    if currency not in SERVED_CURRENCIES:
        return (f"{errors.message(errors.NO_SECURITY_DEFINITION)} ({contract.ticker} in {currency}: "
                f"{SERVES})")
    return None


def unknown_symbol(symbol: str) -> str:
    """The error 200 text for a US stock symbol the replay data does not hold."""
    return (f"{errors.message(errors.NO_SECURITY_DEFINITION)} (symbol {symbol!r} is not in the replay "
            f"data; {SERVES})")
