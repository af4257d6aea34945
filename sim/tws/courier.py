"""One connection's outgoing messages under IB's timing (`sim/tws/realism.py`): each message gets
a due time in real seconds and a lane, and goes out when due, in FIFO order per lane.

Lanes are what keeps IB's few guarantees while everything else is loose:
- one order's openOrder/orderStatus/errors ("o", id): its statuses never go backwards;
- one order's execDetails ("x", id): they race the order's statuses (IB: orderStatus before or
  after execDetails), never each other;
- one execution's commissionReport ("c", exec id): due a drawn delay after its execDetails;
- "positions" and "account": pushes and replies in the order they were produced.
A reply is one batch (its messages stay together). A reply that lists orders (open, completed
orders, executions) waits for every order message produced before it and nothing produced after
it overtakes it; a positions reply likewise in the "positions" lane. Messages outside every
lane (market data, bars, connectivity notices) go out at once, as they did.

Inside a request's handling the courier buffers what the handler sends (`acting` for placeOrder
and cancels, `replying` for snapshots) and routes it when the handler returns, so a placement's
messages share its acknowledgement latency and an order that filled at once can lose its
orderStatus messages, as IB warns it may.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sim.tws.realism import Realism

Fields = list[object]
ORDER_STATUS, ERROR, OPEN_ORDER, EXEC_DETAILS, COMMISSION = 3, 4, 5, 11, 59
POSITION, POSITION_END = 61, 62
ACCOUNT_MESSAGES = frozenset({6, 7, 8, 54, 63, 64, 73, 74})
ORDER_GROUP = "orders"  # the lanes a reply listing orders waits for
SNAPSHOT_GROUPS = {  # reply kind -> the lane group its batch joins
    "open_orders": ORDER_GROUP, "all_open_orders": ORDER_GROUP, "completed_orders": ORDER_GROUP,
    "executions": ORDER_GROUP, "positions": "positions", "account_updates": "account",
    "account_summary": "account",
}
EPSILON = 1e-6


def lane_group(lane: Hashable) -> str:
    if isinstance(lane, tuple):
        return ORDER_GROUP if lane[0] in ("o", "x") else "commissions"
    return str(lane)


@dataclass
class Handling:
    """A request being handled: what its handler sent, routed when it returns."""

    kind: str
    order_id: int | None = None  # placeOrder/cancelOrder: the client's order id
    base: float = 0.0  # when its order messages are due (now + its acknowledgement latency)
    buffer: list[Fields] = field(default_factory=list)
    prefix: list[Fields] = field(default_factory=list)  # sent before the buffer (IB's 399)
    acting: bool = True


@dataclass
class Tally:
    """What the courier did to this connection's messages (tests and the campaign read it)."""

    delayed: int = 0
    dropped_statuses: int = 0
    duplicates: int = 0
    trailing_commissions: int = 0


class Courier:
    """Due times, lanes and the delivery timer of one connection."""

    def __init__(self, write: Callable[[Fields], None], realism: Realism, rng: random.Random,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._write = write
        self.realism = realism
        self.rng = rng
        self._loop = loop
        self._heap: list[tuple[float, int, list[Fields], tuple[Hashable, ...]]] = []
        self._seq = 0
        self._lane_last: dict[Hashable, float] = {}
        self._pending: Counter[Hashable] = Counter()  # lanes and groups with messages waiting
        self._group_last: dict[str, float] = {}
        self._group_floor: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._handling: Handling | None = None
        self._last_exec_due = 0.0
        self._waiting_commissions: set[str] = set()
        self._request_last: dict[str, float] = {}
        self.closed = False
        self.tally = Tally()

    def now(self) -> float:
        return self._loop.time()

    # -- requests: handled later, in order per lane ------------------------------------------
    def defer(self, lane: str, delay: float, handle: Callable[[], None]) -> None:
        """Handle a request after `delay` real seconds, after the earlier ones of its lane."""
        due = max(self.now() + delay, self._request_last.get(lane, 0.0) + EPSILON)
        self._request_last[lane] = due
        self._loop.call_at(due, self._run_deferred, handle)

    def _run_deferred(self, handle: Callable[[], None]) -> None:
        if not self.closed:
            handle()

    @contextmanager
    def acting(self, kind: str, order_id: int | None, ack_delay: float) -> Iterator[Handling]:
        """placeOrder/cancelOrder: its messages are due after its acknowledgement latency."""
        handling = Handling(kind, order_id, self.now() + ack_delay)
        with self._buffering(handling):
            yield handling
        self._route_acting(handling)

    @contextmanager
    def replying(self, kind: str) -> Iterator[Handling]:
        """A snapshot reply: one batch, after what it describes and before what follows."""
        handling = Handling(kind, acting=False)
        with self._buffering(handling):
            yield handling
        self._route_reply(handling)

    @contextmanager
    def _buffering(self, handling: Handling) -> Iterator[None]:
        outer, self._handling = self._handling, handling
        try:
            yield
        finally:
            self._handling = outer

    # -- messages -------------------------------------------------------------------------------
    def take(self, fields: Fields) -> None:
        """A message the simulator sends this client (`ClientSession.send`)."""
        if self._handling is not None:
            self._handling.buffer.append(fields)
        else:
            self._route_event(fields, self.now() + self.realism.event.draw(self.rng))

    def _route_event(self, fields: Fields, base: float) -> None:
        mid = fields[0]
        if mid in (ORDER_STATUS, OPEN_ORDER):
            lane: Hashable = ("o", fields[1])
            due = self.post([fields], base + self.realism.lane_jitter.draw(self.rng), (lane,))
            if self.realism.duplicate_p and self.rng.random() < self.realism.duplicate_p:
                # IB's API guide: "orderStatus() may return duplicate messages"
                self.tally.duplicates += 1
                self.post([fields], due + self.realism.lane_jitter.draw(self.rng), (lane,))
        elif mid == EXEC_DETAILS and fields[1] == -1:
            lane = ("x", fields[2])
            self._last_exec_due = self.post(
                [fields], base + self.realism.lane_jitter.draw(self.rng), (lane,))
        elif mid == COMMISSION:
            self._post_commission(fields, self._last_exec_due)
        elif mid == ERROR and isinstance(fields[2], int) and fields[2] > 0:
            self.post([fields], base, (("o", fields[2]),))  # 202, 201, 399 ride the order's lane
        elif mid in (POSITION, POSITION_END):
            self.post([fields], self.now(), ("positions",))  # the lag is applied at the source
        elif mid in ACCOUNT_MESSAGES:
            self.post([fields], self.now(), ("account",))
        else:
            self._write(fields)  # market data, bars, notices: at once, as they were

    def _post_commission(self, fields: Fields, after: float) -> None:
        """commissionReport trails its execDetails (rust-ibapi pull request 811, pysystemtrade
        pull request 1661): due a drawn delay after it, other frames free to come between."""
        exec_id = str(fields[2])
        self._waiting_commissions.add(exec_id)
        self.post([fields], max(after, self.now()) + self.realism.commission.draw(self.rng),
                  (("c", exec_id),))

    def _route_acting(self, handling: Handling) -> None:
        buffer = handling.buffer
        oid = handling.order_id
        if (oid is not None and self.realism.missing_status_p
                and any(f[0] == ORDER_STATUS and f[1] == oid and f[2] == "Filled" for f in buffer)
                and self.rng.random() < self.realism.missing_status_p):
            # IB's order submission page: "with market orders when the order is accepted and
            # executes immediately, there commonly will not be any corresponding orderStatus
            # callbacks" - execDetails is then all the client hears
            self.tally.dropped_statuses += 1
            buffer = [f for f in buffer if not (f[0] == ORDER_STATUS and f[1] == oid)]
        for fields in [*handling.prefix, *buffer]:
            self._route_event(fields, handling.base)

    def _route_reply(self, handling: Handling) -> None:
        batch, trailing = handling.buffer, list[Fields]()
        if handling.kind == "executions":
            batch, trailing = self._split_commissions(batch)
        if not batch:
            return
        group = SNAPSHOT_GROUPS.get(handling.kind)
        due = self.post(batch, self.now(), (), join=group)
        for fields in trailing:
            self.tally.trailing_commissions += 1
            self._post_commission(fields, due)

    def _split_commissions(self, batch: list[Fields]) -> tuple[list[Fields], list[Fields]]:
        """A reqExecutions reply: a report still on its way is not sent twice; others trail the
        reply with a probability (commissions trail executions also when replayed)."""
        kept: list[Fields] = []
        trailing: list[Fields] = []
        for fields in batch:
            if fields[0] == COMMISSION:
                if str(fields[2]) in self._waiting_commissions:
                    continue  # the live report is still coming
                if self.rng.random() < self.realism.replayed_commission_trails_p:
                    trailing.append(fields)
                    continue
            kept.append(fields)
        return kept, trailing

    # -- delivery -------------------------------------------------------------------------------
    def post(self, batch: list[Fields], due: float, lanes: tuple[Hashable, ...],
             join: str | None = None) -> float:
        """Deliver `batch` at `due` or later: after everything earlier in its lanes (and in the
        group it joins), before anything later. Returns when it is due."""
        groups = {lane_group(lane) for lane in lanes}
        due = max([due, *(self._lane_last.get(lane, 0.0) for lane in lanes),
                   *(self._group_floor.get(g, 0.0) for g in groups)])
        if join is not None:
            due = max(due, self._group_last.get(join, 0.0))
            self._group_floor[join] = due
        keys: tuple[Hashable, ...] = (*lanes, *groups, *((join,) if join else ()))
        if due <= self.now() and not any(self._pending[k] for k in keys):
            for fields in batch:
                self._write(fields)
            self._note(lanes, groups, due)
            return due
        self.tally.delayed += len(batch)
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, batch, keys))
        for key in keys:
            self._pending[key] += 1
        self._note(lanes, groups, due)
        self._arm(due)
        return due

    def _note(self, lanes: tuple[Hashable, ...], groups: set[str], due: float) -> None:
        for lane in lanes:
            self._lane_last[lane] = due
        for group in groups:
            self._group_last[group] = max(self._group_last.get(group, 0.0), due)

    def _arm(self, due: float) -> None:
        if due >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = self._loop.call_at(due, self._flush)

    def _flush(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        now = self.now()
        while self._heap and self._heap[0][0] <= now + EPSILON:
            _due, _seq, batch, keys = heapq.heappop(self._heap)
            for key in keys:
                self._pending[key] -= 1
                if not self._pending[key]:
                    del self._pending[key]
                if isinstance(key, tuple) and key[0] == "c":
                    self._waiting_commissions.discard(str(key[1]))
            if not self.closed:
                for fields in batch:
                    self._write(fields)
        if self._heap:
            self._arm(self._heap[0][0])

    @property
    def waiting(self) -> int:
        """Batches not yet delivered."""
        return len(self._heap)

    def close(self) -> None:
        """The connection is gone: nothing more goes out, nothing more is handled."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._heap.clear()
        self._pending.clear()
