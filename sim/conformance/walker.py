"""The walk itself: connect ib_async, send each kind in turn, classify the first answer.

Messages are read where ib_async's decoder receives them (every frame still goes through the
client's own decoder, so a message it cannot decode shows up as "undecodable", the failure a
client only logs). One kind at a time, its streams cancelled before the next, so an answer is
never mistaken for another kind's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from ib_async import IB, Contract

from sim.conformance.kinds import KINDS, Kind, WalkState

INFORMATIONAL = range(2100, 2200)  # farm notices: never an answer
DECODER_LOGGER = "ib_async.Decoder"


@dataclass(frozen=True)
class Outcome:
    kind: str
    expected: str  # "data" | "error"
    outcome: str  # "answered" | "IB-style error" | "no answer" | "undecodable"
    detail: str
    seconds: float

    @property
    def conforms(self) -> bool:
        wanted = "answered" if self.expected == "data" else "IB-style error"
        return self.outcome == wanted

    def line(self) -> str:
        mark = "ok " if self.conforms else "!! "
        return f"{mark}{self.kind:<34} {self.outcome:<15} {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "conforms": self.conforms}


class _Decoded(logging.Handler):
    """Collects what the client's decoder logs (it logs a field list it could not read)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.problems.append(record.getMessage()[:200])


class Walker:
    """Walks one connected client through `KINDS` (or the kinds given)."""

    def __init__(self, ib: IB, symbol: str, timeout: float = 5.0) -> None:
        self.ib = ib
        self.timeout = timeout
        self.ctx = WalkState(symbol.upper())
        self._seen: list[list[str]] = []
        self._arrived = asyncio.Event()

    async def prepare(self) -> None:
        """The account, the qualified contract and a price to place the walk's order at."""
        self.ctx.account = (self.ib.managedAccounts() or [""])[0]
        stock = Contract(symbol=self.ctx.symbol, secType="STK", exchange="SMART", currency="USD")
        qualified = await asyncio.wait_for(self.ib.qualifyContractsAsync(stock), self.timeout)
        self.ctx.contract = qualified[0] if qualified and qualified[0] is not None else stock
        bars = await asyncio.wait_for(self.ib.reqHistoricalDataAsync(
            self.ctx.contract, "", "2 D", "1 min", "TRADES", True), self.timeout)
        self.ctx.price = bars[-1].close if bars else 100.0

    async def walk(self, kinds: tuple[Kind, ...] = KINDS) -> list[Outcome]:
        decoder = self.ib.client.decoder
        interpret = decoder.interpret
        problems = _Decoded()
        logging.getLogger(DECODER_LOGGER).addHandler(problems)

        def capture(fields: list[str]) -> None:
            self._seen.append(fields)
            self._arrived.set()
            interpret(fields)

        decoder.interpret = capture  # type: ignore[method-assign]  # the walk reads each frame the client decodes
        try:
            return [await self._one(kind, problems) for kind in kinds]
        finally:
            decoder.interpret = interpret  # type: ignore[method-assign]  # the client's own again
            logging.getLogger(DECODER_LOGGER).removeHandler(problems)

    async def _one(self, kind: Kind, problems: _Decoded) -> Outcome:
        client = self.ib.client
        await asyncio.sleep(0.02)  # late answers of the previous kind land before this one starts
        self._seen.clear()
        problems.problems.clear()
        req_id = client.getReqId()
        key = self.ctx.order_id if kind.by_order else (req_id if kind.keyed else -1)
        if kind.register is not None and (kind.register or kind.keyed):
            self.ib.wrapper.startReq(kind.register or req_id)
        started = time.monotonic()
        kind.send(client, req_id, self.ctx)
        outcome = await self._answer(kind, key, started, problems)
        if kind.cleanup is not None:
            kind.cleanup(client, req_id, self.ctx)
        return outcome

    async def _answer(self, kind: Kind, key: int, started: float, problems: _Decoded) -> Outcome:
        deadline = started + self.timeout
        looked = 0
        while True:
            for fields in self._seen[looked:]:
                found = self._classify(kind, key, fields)
                if found is not None:
                    seconds = round(time.monotonic() - started, 3)
                    if problems.problems:
                        return Outcome(kind.title, kind.expect, "undecodable", problems.problems[0], seconds)
                    return Outcome(kind.title, kind.expect, found[0], found[1], seconds)
            looked = len(self._seen)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Outcome(kind.title, kind.expect, "no answer", f"within {self.timeout:g} s", self.timeout)
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    @staticmethod
    def _classify(kind: Kind, key: int, fields: list[str]) -> tuple[str, str] | None:
        msg_id = int(fields[0]) if fields and fields[0].lstrip("-").isdigit() else -1
        if msg_id == 4 and len(fields) >= 5:
            req_id, code = int(fields[2] or 0), int(fields[3] or 0)
            if code in INFORMATIONAL or code == 399 or (req_id != key):
                return None
            return "IB-style error", f"{code}: {fields[4][:100]}"
        if msg_id in kind.answers:
            return "answered", f"message {msg_id}"
        return None
