"""`python -m sim.gateway --hold-until-client`: the clock waits at the pre-open for its first
client, so a rehearsal started by hand (the Gateway in one terminal, the bot in another) trades
the whole session from its open, as a bot started at 09:25 does at IB.

Why not run the clock the moment a client connects: a bot's start-up (the account, the
watchlist's contracts and history, the warm-up) takes a few wall seconds, which at 400x is half
an hour of market time: the open would be gone. The clock stays at 5 minutes before the first
open until the first client is ready to trade, i.e. asks for live data (real-time bars,
streaming market data) or places an order. A client that does neither (the weekly bot waiting
for its 10:00 cycle, a script reading history) releases it `GRACE_S` wall seconds after it
connected. The in-process simulator (`day_trader.py --sim`) holds its clock the same way, until
the trader has started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.tws import requests as rq

if TYPE_CHECKING:
    from sim.gateway import GatewaySimulator

GRACE_S = 10.0
POLL_S = 0.02


class ClockHold:
    """Holds `sim`'s clock (built with speed None) until its first client is ready, then runs it
    at `speed`. `observe` is the simulator's request observer; `run` the waiting task."""

    def __init__(self, sim: GatewaySimulator, speed: float, *, grace_s: float = GRACE_S,
                 say: Callable[[str], None] = print) -> None:
        self._sim = sim
        self._speed = speed
        self._grace_s = grace_s
        self._say = say
        self._ready = asyncio.Event()
        self.reason = ""

    def observe(self, session: Any, request: rq.Request) -> None:
        if self._ready.is_set():
            return
        client = getattr(session, "client_id", None)
        if isinstance(request, rq.PlaceOrder):
            self.reason = f"client {client} placed an order"
        elif isinstance(request, rq.RealTimeBarsRequest) or (
                isinstance(request, rq.MarketDataRequest) and not request.snapshot):
            self.reason = f"client {client} asked for live data"
        else:
            return
        self._ready.set()

    async def run(self) -> None:
        while not self._sim.has_clients:
            await asyncio.sleep(POLL_S)
        try:
            await asyncio.wait_for(self._ready.wait(), self._grace_s)
        except TimeoutError:
            self.reason = f"the first client has been connected {self._grace_s:g} s"
        self._sim.set_speed(self._speed)
        self._say(f"clock running from {self._sim.now():%H:%M} at {self._speed:g}x: "
                  f"{self.reason}")
