"""The preflight's tape: every execution, commission report, order status and IB message of the
run, stamped on arrival, so each step can wait for what it asked about and show what it saw.

Times are the event loop's clock (real seconds): IB's timings are wall-clock, and a lag is what
this client saw between two arrivals (execDetails, then its commissionReport). Executions are kept
by exec id (a report replayed by reqExecutions is merged, never counted twice); what the tape
knows of an order's fills from its statuses (`reported_filled`) lets the cleanup wait for
executions still in flight before it sells, as the flatten does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from trade.ib import errors as ib_errors
from trade.ib.broker import IBBroker
from trade.ib.observe import IBMessage
from trade.models import Fill, OrderTicket, Side

ORDER_MESSAGE = ib_errors.ORDER_HELD_WARNING  # 399: a warning, the order stays live
# the statuses IB documents for orderStatus (ibapi `EWrapper.orderStatus`); ib_async adds its own
# (`ValidationError` after a warning), which IB never sent
IB_STATUSES = frozenset({"ApiPending", "PendingSubmit", "PendingCancel", "PreSubmitted",
                         "Submitted", "ApiCancelled", "Cancelled", "Filled", "Inactive"})


@dataclass(frozen=True, slots=True)
class Seen:
    """One message about an order, as it arrived."""

    t: float
    message: IBMessage


def is_refusal(code: int) -> bool:
    """An error that refuses or ends an order (not a warning such as 399, nor a notice)."""
    return code not in (0, ORDER_MESSAGE) and not ib_errors.is_informational(code) \
        and code not in ib_errors.CONNECTIVITY_LOST and code not in ib_errors.CONNECTIVITY_RESTORED


class Tape:
    """Listens to one broker for the run; `attach()` before the first order, `detach()` after."""

    def __init__(self, broker: IBBroker) -> None:
        self._broker = broker
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        self.fills: dict[str, Fill] = {}
        self.fill_at: dict[str, float] = {}  # exec id -> arrival (absent: learnt from a read)
        self.commission_at: dict[str, float] = {}
        self.seen: dict[int, list[Seen]] = {}
        self._filled: dict[int, int] = {}  # order id -> the largest `filled` a status reported

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self) -> None:
        self._broker.add_fill_handler(self._on_fill)
        self._broker.add_commission_handler(self._on_commission)
        self._broker.add_order_status_handler(self._on_status)
        self._broker.add_message_handler(self._on_message)

    def detach(self) -> None:
        self._broker.remove_handlers(self._on_fill, self._on_commission, self._on_status,
                                     self._on_message)

    def now(self) -> float:
        return self._loop.time() - self._t0

    def _on_fill(self, fill: Fill) -> None:
        if fill.exec_id not in self.fills:
            self.fills[fill.exec_id] = fill
            self.fill_at[fill.exec_id] = self.now()

    def _on_commission(self, exec_id: str, commission: float) -> None:
        self.commission_at.setdefault(exec_id, self.now())

    def _on_status(self, ticket: OrderTicket) -> None:
        self._filled[ticket.order_id] = max(self._filled.get(ticket.order_id, 0), ticket.filled)

    def _on_message(self, message: IBMessage) -> None:
        self.seen.setdefault(message.order_id, []).append(Seen(self.now(), message))

    def merge(self, fills: Iterable[Fill]) -> None:
        """Executions read from the broker (reqExecutions): the ones the events missed."""
        for fill in fills:
            self.fills.setdefault(fill.exec_id, fill)  # no arrival time: no lag sample from it

    # -- questions ------------------------------------------------------------------------------
    def fills_of(self, order_id: int) -> list[Fill]:
        return sorted((f for f in self.fills.values() if f.order_id == order_id),
                      key=lambda f: self.fill_at.get(f.exec_id, float("inf")))

    def executed(self, order_id: int) -> int:
        return sum(f.qty for f in self.fills.values() if f.order_id == order_id)

    def first_fill_at(self, order_id: int) -> float | None:
        times = [self.fill_at[f.exec_id] for f in self.fills_of(order_id) if f.exec_id in self.fill_at]
        return min(times) if times else None

    def reported_filled(self, order_id: int) -> int:
        return self._filled.get(order_id, 0)

    def net_shares(self, order_ids: Iterable[int]) -> int:
        """What these orders' executions bought (positive) or sold (negative), net."""
        ids = set(order_ids)
        return sum(f.qty if f.side is Side.BUY else -f.qty for f in self.fills.values()
                   if f.order_id in ids)

    def messages(self, order_id: int, since: float = 0.0) -> list[Seen]:
        return [s for s in self.seen.get(order_id, []) if s.t >= since]

    def statuses(self, order_id: int, since: float = 0.0, until: float = float("inf")) -> list[Seen]:
        return [s for s in self.messages(order_id, since) if s.message.is_status and s.t < until]

    def last_status(self, order_id: int) -> str | None:
        found = [s for s in self.seen.get(order_id, []) if s.message.is_status]
        return found[-1].message.status if found else None

    def errors(self, order_id: int, since: float = 0.0) -> list[Seen]:
        return [s for s in self.messages(order_id, since) if not s.message.is_status]

    def refusals(self, order_id: int, since: float = 0.0) -> list[Seen]:
        return [s for s in self.errors(order_id, since) if is_refusal(s.message.code)]

    def answered(self, order_id: int, since: float = 0.0) -> bool:
        """IB said something about the order (a status, a warning, an error) or executed it."""
        return bool(self.messages(order_id, since)) or self.executed(order_id) > 0

    def timeline(self, order_ids: dict[str, int], since: float) -> list[str]:
        """`+0.012 s TP status PreSubmitted` lines for the evidence, in arrival order."""
        rows: list[tuple[float, str]] = []
        for label, order_id in order_ids.items():
            for seen in self.messages(order_id, since):
                m = seen.message
                if m.is_status:
                    held = f" whyHeld={m.why_held!r}" if m.why_held else ""
                    own = "" if m.status in IB_STATUSES else " (the client library's own status)"
                    text = (f"status {m.status}{own} filled {m.filled:g}/"
                            f"{m.filled + m.remaining:g}{held}")
                else:
                    text = " ".join(ib_errors.describe(m.code, m.text).split())
                rows.append((seen.t, f"{label} {text}"))
            for fill in self.fills_of(order_id):
                at = self.fill_at.get(fill.exec_id)
                if at is not None and at >= since:
                    rows.append((at, f"{label} execution {fill.side.value} {fill.qty} @ {fill.price:g}"))
                    if fill.exec_id in self.commission_at:
                        rows.append((self.commission_at[fill.exec_id],
                                     f"{label} commission report for that execution"))
        return [f"+{t - since:.3f} s {text}" for t, text in sorted(rows, key=lambda r: r[0])]

    def last_heard(self, order_ids: Iterable[int], since: float) -> float:
        """When the tape last heard anything about these orders (`since` if nothing since)."""
        times = [since]
        for order_id in order_ids:
            times += [s.t for s in self.messages(order_id, since)]
            times += [self.fill_at[f.exec_id] for f in self.fills_of(order_id)
                      if self.fill_at.get(f.exec_id, -1.0) >= since]
        return max(times)

    async def quiet(self, order_ids: Iterable[int], since: float, quiet_s: float,
                    timeout: float) -> None:
        """Wait until nothing about these orders has come for `quiet_s` (an order whose status
        does not change gets no new status, so "every one has spoken" cannot be waited for)."""
        ids = list(order_ids)
        await self.until(lambda: self.now() - self.last_heard(ids, since) >= quiet_s, timeout)

    async def until(self, predicate: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
        """Wait (bounded) until `predicate()` holds; False when the time ran out."""
        deadline = self._loop.time() + timeout
        while not predicate():
            if self._loop.time() >= deadline:
                return False
            await asyncio.sleep(poll)
        return True
