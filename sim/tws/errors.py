"""The IB error/notice codes the simulator sends, with TWS's own wording, in one place."""

from __future__ import annotations

# Request/order errors
MAX_RATE = 100
DUPLICATE_ORDER_ID = 103
CANNOT_MODIFY_FILLED = 104
HISTORICAL_DATA_ERROR = 162
NO_SECURITY_DEFINITION = 200
ORDER_REJECTED = 201
ORDER_CANCELLED = 202
CLIENT_ID_IN_USE = 326
NOT_SUBSCRIBED = 354
VALIDATION_ERROR = 321
ORDER_MESSAGE = 399  # a warning: the order is accepted and held (e.g. until the open)
PART_NOT_SUBSCRIBED = 10090  # some generic ticks of a reqMktData have no data; the rest stream
UNKNOWN_ORDER = 10147
MISSING_PARENT_ORDER = 10006
CANCEL_ALL_ORDERS = 10148  # not used; kept for the classification list

# Connectivity (socket stays open; they are notices, not disconnects)
CONNECTIVITY_LOST = 1100
CONNECTIVITY_RESTORED_DATA_LOST = 1101
CONNECTIVITY_RESTORED_DATA_KEPT = 1102

# Farm notices sent on connect
MARKET_DATA_FARM_OK = 2104
HMDS_FARM_OK = 2106
SEC_DEF_FARM_OK = 2158

MESSAGES: dict[int, str] = {
    MAX_RATE: "Max rate of messages per second has been exceeded.",
    DUPLICATE_ORDER_ID: "Duplicate order id",
    CANNOT_MODIFY_FILLED: "Can't modify a filled order.",
    HISTORICAL_DATA_ERROR: "Historical Market Data Service error message:API historical data query cancelled: pacing violation",
    NO_SECURITY_DEFINITION: "No security definition has been found for the request",
    ORDER_REJECTED: "Order rejected - reason: ",
    ORDER_CANCELLED: "Order Canceled - reason:",
    CLIENT_ID_IN_USE: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    NOT_SUBSCRIBED: "Requested market data is not subscribed.",
    PART_NOT_SUBSCRIBED: "Part of requested market data is not subscribed. Subscription-independent ticks are "
                         "still active.",
    UNKNOWN_ORDER: "OrderId that needs to be cancelled is not found.",
    MISSING_PARENT_ORDER: "Missing parent order.",
    CONNECTIVITY_LOST: "Connectivity between IB and Trader Workstation has been lost.",
    CONNECTIVITY_RESTORED_DATA_LOST: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    CONNECTIVITY_RESTORED_DATA_KEPT: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    MARKET_DATA_FARM_OK: "Market data farm connection is OK:usfarm",
    HMDS_FARM_OK: "HMDS data farm connection is OK:ushmds",
    SEC_DEF_FARM_OK: "Sec-def data farm connection is OK:secdefnj",
}

FARM_NOTICES = (MARKET_DATA_FARM_OK, HMDS_FARM_OK, SEC_DEF_FARM_OK)


def message(code: int, detail: str = "") -> str:
    """TWS's text for `code`, with `detail` appended (e.g. the reject reason)."""
    base = MESSAGES.get(code, f"Error {code}")
    return base + detail if detail else base
