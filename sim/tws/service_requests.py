"""The rest of the TWS API's client requests: parsed generically, by message id.

Every request a client library can send is known here with where its request id (and contract)
sit, so the gateway answers each one: from a desk when the simulator implements it, otherwise at
once with the error a real Gateway gives for a service the account does not have. Field
positions follow ib_async 2.1.0's `client.py` (the same as ib_insync 0.9.86 and ibapi 9.81).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.tws.fields import ContractSpec, contract_at, to_int


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """A request by message id: its request id (-1 when it has none), its contract when it
    carries one, and all raw fields for the handler to read its arguments from."""

    msg_id: int
    name: str
    req_id: int
    contract: ContractSpec | None
    fields: tuple[str, ...]

    def arg(self, index: int, default: str = "") -> str:
        return self.fields[index] if index < len(self.fields) else default


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    req_index: int | None  # field index of the request id
    contract_index: int | None = None  # field index where a C12 contract starts


LAYOUTS: dict[int, Layout] = {
    10: Layout("reqMktDepth", 2, 3),
    11: Layout("cancelMktDepth", 2),
    12: Layout("reqNewsBulletins", None),
    13: Layout("cancelNewsBulletins", None),
    14: Layout("setServerLogLevel", None),
    18: Layout("requestFA", None),
    19: Layout("replaceFA", 4),
    21: Layout("exerciseOptions", 2),
    22: Layout("reqScannerSubscription", 1),
    23: Layout("cancelScannerSubscription", 2),
    24: Layout("reqScannerParameters", None),
    52: Layout("reqFundamentalData", 2),
    53: Layout("cancelFundamentalData", 2),
    54: Layout("calculateImpliedVolatility", 2, 3),
    55: Layout("calculateOptionPrice", 2, 3),
    56: Layout("cancelCalculateImpliedVolatility", 2),
    57: Layout("cancelCalculateOptionPrice", 2),
    65: Layout("verifyRequest", None),
    66: Layout("verifyMessage", None),
    67: Layout("queryDisplayGroups", 2),
    68: Layout("subscribeToGroupEvents", 2),
    69: Layout("updateDisplayGroup", 2),
    70: Layout("unsubscribeFromGroupEvents", 2),
    72: Layout("verifyAndAuthRequest", None),
    73: Layout("verifyAndAuthMessage", None),
    74: Layout("reqPositionsMulti", 2),
    75: Layout("cancelPositionsMulti", 2),
    78: Layout("reqSecDefOptParams", 1),
    79: Layout("reqSoftDollarTiers", 1),
    80: Layout("reqFamilyCodes", None),
    81: Layout("reqMatchingSymbols", 1),
    82: Layout("reqMktDepthExchanges", None),
    83: Layout("reqSmartComponents", 1),
    84: Layout("reqNewsArticle", 1),
    85: Layout("reqNewsProviders", None),
    86: Layout("reqHistoricalNews", 1),
    87: Layout("reqHeadTimeStamp", 1, 2),
    88: Layout("reqHistogramData", 1, 2),
    89: Layout("cancelHistogramData", 1),
    90: Layout("cancelHeadTimeStamp", 1),
    91: Layout("reqMarketRule", None),
    92: Layout("reqPnL", 1),
    93: Layout("cancelPnL", 1),
    94: Layout("reqPnLSingle", 1),
    95: Layout("cancelPnLSingle", 1),
    96: Layout("reqHistoricalTicks", 1, 2),
    97: Layout("reqTickByTickData", 1, 2),
    98: Layout("cancelTickByTickData", 1),
    100: Layout("reqWshMetaData", 1),
    101: Layout("cancelWshMetaData", 1),
    102: Layout("reqWshEventData", 1),
    103: Layout("cancelWshEventData", 1),
    104: Layout("reqUserInfo", 1),
}


def parse_service_request(fields: list[str], sv: int) -> ServiceRequest:
    msg_id = int(fields[0])
    layout = LAYOUTS[msg_id]
    req_id = -1 if layout.req_index is None else to_int(fields[layout.req_index], f"{layout.name}.reqId")
    contract = None if layout.contract_index is None else contract_at(fields, layout.contract_index)
    return ServiceRequest(msg_id, layout.name, req_id, contract, tuple(fields))
