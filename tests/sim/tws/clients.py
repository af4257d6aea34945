"""Helpers for driving the real ib_async client against the in-process gateway."""

from __future__ import annotations

import asyncio
from typing import Any

from ib_async import IB


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
