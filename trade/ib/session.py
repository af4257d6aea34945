"""Open the one IB connection of a process and hand out its `IBBroker`, for the entry scripts.

Why a context manager: the connection, the broker's clock task and the socket must be torn down in
order on every way out (done, refusal, Ctrl-C, an exception), and both bots (and `main.py` hosting
the day trader beside the weekly bot) open IB the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from trade.ib.broker import IBBroker
from trade.ib.connection import IBConnection


@asynccontextmanager
async def ib_broker(host: str, port: int, client_id: int, account: str = "") -> AsyncIterator[IBBroker]:
    """Connect (one-line `ConnectionFailed` on failure), start the broker, close on exit."""
    connection = IBConnection(host, port, client_id)
    await connection.connect()
    broker = IBBroker(connection, account)
    try:
        await broker.start()
        yield broker
    finally:
        await broker.stop()
        await connection.close()
