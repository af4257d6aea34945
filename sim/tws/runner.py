"""Run a simulator on its own event loop in a daemon thread.

Blocking clients (ib_async's sync API, a subprocess-driven e2e test) need the gateway to keep
serving while the calling thread blocks; this handle owns that loop and marshals calls onto it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Protocol


class Startable(Protocol):
    host: str
    port: int

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class GatewayThread:
    """A `GatewaySimulator` running on its own event loop in a daemon thread."""

    def __init__(self, sim: Startable) -> None:
        self.sim = sim
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self._error: BaseException | None = None

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(sim.start())
            except BaseException as exc:  # surfaced to the caller below
                self._error = exc
                started.set()
                return
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="ib-gateway-sim", daemon=True)
        self.thread.start()
        started.wait(10)
        if self._error is not None:
            raise RuntimeError(f"gateway simulator failed to start: {self._error}") from self._error

    @property
    def host(self) -> str:
        return self.sim.host

    @property
    def port(self) -> int:
        return self.sim.port

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run `fn(*args)` on the gateway's loop (faults, stepping) and return its result."""

        async def invoke() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(invoke(), self.loop).result(timeout)

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
