"""Helpers for driving the real ib_async client against the in-process gateway."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from ib_async import IB, BarData, Contract


async def connect(gateway: Any, client_id: int = 1) -> IB:
    ib = IB()
    await ib.connectAsync(gateway.host, gateway.port, clientId=client_id, timeout=2)
    return ib


async def settle() -> None:
    """Let the client's protocol read what the server already wrote (same loop)."""
    for _ in range(6):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)


def error_codes(ib: IB) -> list[int]:
    """A list that fills with every error code the client receives from now on."""
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    return codes


async def qualified(ib: IB, *contracts: Contract) -> list[Contract]:
    """The contracts as the gateway qualified them (conId filled in); fails the test when one
    is unknown or ambiguous (ib_async puts None or a list of candidates in its place)."""
    found = await ib.qualifyContractsAsync(*contracts)
    out: list[Contract] = []
    for contract in found:
        assert isinstance(contract, Contract), f"not qualified: {contract!r} in {found}"
        out.append(contract)
    return out


def tap(ib: IB) -> list[list[str]]:
    """Every frame the client decodes from now on, in arrival order (message id first)."""
    frames: list[list[str]] = []
    decoder = ib.client.decoder
    interpret = decoder.interpret

    def recording(fields: list[str]) -> None:
        frames.append(list(fields))
        interpret(fields)

    decoder.interpret = recording  # type: ignore[method-assign]  # a wire tap on the real client
    return frames


def bar_start(bar: BarData) -> datetime:
    """An intraday bar's start (ib_async types `BarData.date` as date or datetime: a daily bar
    carries a date)."""
    assert isinstance(bar.date, datetime), f"an intraday bar with a date only: {bar!r}"
    return bar.date
