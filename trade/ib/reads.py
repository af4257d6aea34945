"""Broker reads that never hang a caller: one request of a kind in flight, every read bounded.

ib_async keys `reqPositions`, `reqOpenOrders`/`reqAllOpenOrders` and `reqCurrentTime` by a fixed
name (`wrapper.startReq("positions")`): a second request of the same kind while the first is in
flight overwrites the first one's future, which then never completes — and no disconnect fails
it. The bot's parts overlap all the time (a repair and a cover of two symbols, the reconcile, the
flatten's polling, the weekly bot on the same connection), and at IB a reply takes tens to
hundreds of milliseconds, so such overlaps are the rule, not the exception. Here:

- callers of one kind share the request in flight (they all get its answer) instead of
  starting a second one; a caller of another kind that shares ib_async's key waits for it to end
  and then starts its own (reqOpenOrders and reqAllOpenOrders both answer into "openOrders");
- every read has a deadline: a reply that never comes (a lost message, a Gateway that froze) is a
  `BrokerTimeout`, so the caller's job fails, is logged and is retried, instead of hanging the
  bot — and keeping its client id — until someone kills it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from trade.broker import BrokerTimeout

T = TypeVar("T")

READ_DEADLINE_S = 10.0  # IB answers a position or open-order read in well under a second


@dataclass(slots=True)
class _InFlight:
    kind: str
    task: asyncio.Task[Any]


class SharedReads:
    """Single-flight, deadline-bounded reads keyed by the client library's request key."""

    def __init__(self, deadline_s: float = READ_DEADLINE_S) -> None:
        self.deadline_s = deadline_s
        self._in_flight: dict[str, _InFlight] = {}
        self.timeouts = 0

    async def read(self, key: str, kind: str, start: Callable[[], Awaitable[T]],
                   deadline_s: float | None = None) -> T:
        """`start()`'s answer, shared with every caller of the same `kind` while in flight."""
        deadline = self.deadline_s if deadline_s is None else deadline_s
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        while True:
            current = self._in_flight.get(key)
            if current is None or current.task.done():
                current = _InFlight(kind, asyncio.ensure_future(start()))
                self._in_flight[key] = current
                break
            if current.kind == kind:
                break
            # another kind answers into the same key: let it finish, then ask ours
            try:
                await asyncio.wait_for(asyncio.shield(current.task), until - loop.time())
            except TimeoutError:
                self._give_up(key, current)
                raise BrokerTimeout(f"{kind}: no answer from the broker within {deadline:g} s "
                                    f"(a {current.kind} request ahead of it never finished)") from None
            except Exception:  # its own caller gets its failure; ours starts fresh
                pass
        try:
            return await asyncio.wait_for(asyncio.shield(current.task), max(0.0, until - loop.time()))
        except TimeoutError:
            self._give_up(key, current)
            raise BrokerTimeout(f"{kind}: no answer from the broker within {deadline:g} s") from None

    def _give_up(self, key: str, current: _InFlight) -> None:
        self.timeouts += 1
        current.task.cancel()
        if self._in_flight.get(key) is current:
            del self._in_flight[key]


async def bounded(what: str, call: Awaitable[T], deadline_s: float = READ_DEADLINE_S) -> T:
    """One request with a deadline (requests keyed by a fresh id need no sharing)."""
    try:
        return await asyncio.wait_for(call, deadline_s)
    except TimeoutError:
        raise BrokerTimeout(f"{what}: no answer from the broker within {deadline_s:g} s") from None
