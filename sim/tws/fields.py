"""Field-level helpers for parsing client requests: numbers, flags and the C12 contract.

Shared by `requests` (the core requests) and `service_requests` (the rest of the TWS API), so
every parser names the message and field it could not read in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


class RequestError(ValueError):
    """A request's fields could not be parsed (names the message and the field)."""


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """The 12 contract fields (C12) a client sends."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str

    @property
    def ticker(self) -> str:
        return (self.symbol or self.local_symbol).upper()


def to_int(s: str, name: str) -> int:
    try:
        return int(s) if s else 0
    except ValueError as exc:
        raise RequestError(f"{name}: expected an integer, got {s!r}") from exc


def to_float(s: str, name: str) -> float:
    try:
        return float(s) if s else 0.0
    except ValueError as exc:
        raise RequestError(f"{name}: expected a number, got {s!r}") from exc


def opt_float(s: str, name: str) -> float | None:
    return None if s == "" else to_float(s, name)


def to_bool(s: str) -> bool:
    return s not in ("", "0", "false", "False")


def contract_at(f: list[str], i: int) -> ContractSpec:
    """C12 starting at f[i]: conId, symbol, secType, lastTrade, strike, right, multiplier,
    exchange, primaryExchange, currency, localSymbol, tradingClass."""
    return ContractSpec(
        con_id=to_int(f[i], "contract.conId"), symbol=f[i + 1], sec_type=f[i + 2],
        exchange=f[i + 7], primary_exchange=f[i + 8], currency=f[i + 9], local_symbol=f[i + 10],
    )
