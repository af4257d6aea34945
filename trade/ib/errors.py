"""Every piece of IB error-code knowledge, classified once (as NautilusTrader's `client/error.py` does).

IB reports connectivity changes, order rejections, pacing and plain information through the same
`error` message; the connection watchdog and the broker adapter branch on these sets only.
"""

from __future__ import annotations

# Connectivity between TWS/Gateway and IB's servers (the API socket itself stays open).
CONNECTIVITY_LOST = frozenset({1100, 2110})
CONNECTIVITY_RESTORED = frozenset({1101, 1102})  # 1101: data lost; restore hooks resubscribe

# The API client itself was refused or dropped.
CLIENT_ID_IN_USE = 326
NOT_CONNECTED = 504

# Order rejections and cancellations (the order is dead).
ORDER_REJECTED = frozenset({103, 104, 105, 106, 107, 109, 110, 111, 113, 116, 117, 201, 203, 321})
ORDER_CANCELLED = 202
ORDER_HELD_WARNING = 399  # "Order Message: ... will not be placed at the exchange until ..."
CANNOT_MODIFY_FILLED = 104  # "Can't modify a filled order": the order is no longer working
DUPLICATE_ORDER_ID = 103  # also IB's answer to a modification of an order that just finished
# a modification (placeOrder with a working order's id) of an order that has just finished
MODIFY_OF_A_FINISHED_ORDER = frozenset({DUPLICATE_ORDER_ID, CANNOT_MODIFY_FILLED})
NO_SECURITY_DEFINITION = 200

# The account has no (API) subscription for the market data asked for: real-time bars never come.
MARKET_DATA_NOT_SUBSCRIBED = frozenset({354, 10089, 10090, 10091, 10167, 10168})

# Historical data pacing violation (162): wait and retry. IB uses the same code for a window
# holding no bar ("Historical Market Data Service error message:HMDS query returned no data:
# SPY@SMART Trades"): that one is an answer (no bars), not a reason to retry.
HISTORICAL_PACING = 162
NO_HISTORICAL_DATA = "HMDS query returned no data"


def is_no_history(code: int, message: str) -> bool:
    """IB's 162 for a history request whose window has no bar (not a pacing violation)."""
    return code == HISTORICAL_PACING and NO_HISTORICAL_DATA in message

# 21xx are farm status notices (2104/2106/2158 "data farm connection is OK"): informational.
INFO_RANGE = range(2100, 2200)


def is_informational(code: int) -> bool:
    return code in INFO_RANGE and code not in CONNECTIVITY_LOST


def describe(code: int, message: str) -> str:
    """One line for logs: `IB 201: Order rejected - reason: ...`."""
    return f"IB {code}: {message}"
