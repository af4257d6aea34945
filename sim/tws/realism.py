"""IB's timing as a seeded model ("realism"): what the simulator does when it answers as slowly
and as loosely ordered as a real Gateway, instead of in microseconds and in one fixed order.

`Realism` is the configuration (`python -m sim.gateway --realism FILE|default|off`,
`start_simulator(..., realism=...)`, on by default in `python -m sim.chaos`); the behaviour lives
in `sim/tws/ib_timing.py` (the gateway side) and `sim/tws/courier.py` (each connection's delivery).
Every delay is in REAL seconds: IB's timings are wall-clock, whatever the replay's speed.

What is modelled, and on what evidence (each also cited where it is implemented):

1. Reply latency per request kind, tens to hundreds of ms with a tail. Requests without a
   request id (positions, open orders, account updates) are answered in order per kind, those
   with one in order per id; the rest overtake each other; one reply's messages stay together.
   Two requests of one kind can therefore be in flight at once (ib_async keys reqPositions and
   reqOpenOrders by a fixed name: the second orphans the first future).
2. commissionReport trails its execDetails, most within 50 ms, a tail to 5 s, with other frames
   between them: rust-ibapi pull request 811 ("The buy's ExecutionData was frame 0031 and its
   CommissionReport frame 0036, with OpenOrder/OrderStatus frames between them"); pysystemtrade
   pull request 1661 ("IB sends commission reports separately from executions ... fully filled
   orders are then skipped and archived before the actual commission arrives"). Also for
   executions replayed by reqExecutions.
3. orderStatus before or after execDetails, and for an order that executes at once possibly none:
   IB's "Placing Orders" page (order_submission.html): "There are not guaranteed to be
   orderStatus callbacks for every change in order status. For example with market orders when
   the order is accepted and executes immediately, there commonly will not be any corresponding
   orderStatus callbacks. For that reason it is recommended to monitor the IBApi.EWrapper.
   execDetails function in addition to IBApi.EWrapper.orderStatus." Per order, statuses never
   go backwards.
4. Positions (reqPositions answers, position pushes, portfolio updates) lag executions by 0-2 s:
   ib_async issue 15 ("ib.positions() may have a delay in updating position quantities").
5. Duplicate openOrder/orderStatus: IB's API guide on orderStatus ("It is possible that
   orderStatus() may return duplicate messages. It is essential that you filter the message
   accordingly.").
6. After a reconnect, openOrder/orderStatus of the client's orders that changed while it was away
   and of its open ones: the same guide ("It is also fired after reconnecting to TWS if the
   client has any open orders").
7. A bracket's children while the parent is partly filled: IB's documents are silent; the one
   public report of real IB (nautilus_trader issue 2704, "When stop loss is triggered when the
   limit order is only partially filled") has the stop child live and filling. Default: children
   work for the filled quantity (resized as the parent fills); variant: held until the parent
   completes (the simulator's behaviour without realism). The campaign draws both.
8. A modification that clears a held order's goodAfterTime: IB's "Modifying Orders" page: "It is
   not generally recommended to try to change order fields aside from order price, size, and tif
   ... To change other parameters, it might be preferable to instead cancel the open order, and
   create a new one." No public report confirms that the release works, so `release_refusal`
   answers it with an error (201, or 105 "Order being modified does not match the original
   order") and leaves the order held; the campaign draws allowed/201/105. An order accepted but
   held by goodAfterTime gets IB's 399 warning ("Order Message: ... Warning: Your order will not
   be placed at the exchange until ..."): the warning users report for an order IB accepts and
   holds outside trading hours; that IB sends it for goodAfterTime too is assumed
   (`held_warning` switches it off).
9. reqAllOpenOrders returns every client's open orders, reqOpenOrders the caller's (IB's "Open
   Orders" page) - this one holds with or without realism (`sim/tws/router.py`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# request kinds with their own latency (sim/tws/ib_timing.py maps requests onto them)
REPLY_KINDS = (
    "positions", "open_orders", "all_open_orders", "completed_orders", "executions",
    "current_time", "account_updates", "account_summary", "contract_details", "history", "ids",
    "market_data", "other", "place_ack", "cancel_ack",
)
RELEASE_REFUSALS = (0, 105, 201)  # 0: a modification may clear goodAfterTime


class RealismError(ValueError):
    """A realism setting that cannot be used; the message names the field and the fix."""


@dataclass(frozen=True, slots=True)
class Delay:
    """A delay in real seconds: uniform in [lo_ms, hi_ms], and with probability `tail_p`
    log-uniform in [hi_ms, tail_hi_ms] instead (most replies are quick, a few are very late)."""

    lo_ms: float
    hi_ms: float
    tail_p: float = 0.0
    tail_hi_ms: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.lo_ms <= self.hi_ms:
            raise RealismError(f"delay [{self.lo_ms}, {self.hi_ms}] ms: need 0 <= lo <= hi")
        if not 0 <= self.tail_p <= 1:
            raise RealismError(f"delay tail probability {self.tail_p}: use a value in [0, 1]")
        if self.tail_p and self.tail_hi_ms < self.hi_ms:
            raise RealismError(f"delay tail up to {self.tail_hi_ms} ms: must be >= hi {self.hi_ms} ms")

    def draw(self, rng: random.Random) -> float:
        if self.tail_p and rng.random() < self.tail_p:
            lo = max(self.hi_ms, 1.0)
            return math.exp(rng.uniform(math.log(lo), math.log(max(lo, self.tail_hi_ms)))) / 1000.0
        return rng.uniform(self.lo_ms, self.hi_ms) / 1000.0

    @property
    def max_s(self) -> float:
        return max(self.hi_ms, self.tail_hi_ms if self.tail_p else 0.0) / 1000.0

    def as_json(self) -> list[float]:
        return [self.lo_ms, self.hi_ms, self.tail_p, self.tail_hi_ms]

    @classmethod
    def from_json(cls, value: Any, where: str) -> Delay:
        if not isinstance(value, list) or len(value) not in (2, 4) or not all(
                isinstance(v, int | float) for v in value):
            raise RealismError(f"{where}: expected [lo_ms, hi_ms] or [lo_ms, hi_ms, tail_p, "
                               f"tail_hi_ms], e.g. [20, 150, 0.1, 600]; got {value!r}")
        try:
            return cls(*(float(v) for v in value))
        except RealismError as exc:
            raise RealismError(f"{where}: {exc}") from None


def _default_replies() -> dict[str, Delay]:
    snapshot = Delay(20, 150, 0.1, 600)  # positions, open orders, account: tens to hundreds of ms
    return {
        "positions": snapshot, "open_orders": snapshot, "all_open_orders": snapshot,
        "completed_orders": Delay(30, 200, 0.1, 800), "executions": Delay(30, 200, 0.1, 800),
        "current_time": Delay(10, 60, 0.05, 300), "account_updates": snapshot,
        "account_summary": snapshot, "contract_details": Delay(20, 150, 0.1, 500),
        "history": Delay(50, 300, 0.1, 1500), "ids": Delay(5, 40), "market_data": Delay(5, 40),
        "other": Delay(5, 40), "place_ack": Delay(10, 80, 0.05, 400),
        "cancel_ack": Delay(10, 80, 0.05, 400),
    }


@dataclass(frozen=True, slots=True)
class Realism:
    """The timing model's settings. `enabled=False` (`Realism.off()`) is the simulator as it was:
    every answer at once, in one fixed order."""

    enabled: bool = True
    seed: int = 0
    reply: Mapping[str, Delay] = field(default_factory=_default_replies)
    event: Delay = Delay(1, 20, 0.05, 200)  # an engine event (a resting order's fill) to the client
    lane_jitter: Delay = Delay(0, 30)  # per message: execDetails and orderStatus race each other
    commission: Delay = Delay(0, 50, 0.15, 5000)  # commissionReport after its execDetails
    replayed_commission_trails_p: float = 0.3  # a reqExecutions reply's report comes after it
    position_lag: Delay = Delay(50, 500, 0.25, 2000)  # positions behind executions
    missing_status_p: float = 0.5  # an order that fills at once gets no orderStatus at all
    duplicate_p: float = 0.05  # an openOrder/orderStatus sent twice
    reconnect_push: bool = True  # statuses of the client's orders pushed on (re)connect
    children_on_partial_fill: bool = True  # bracket children work for a partial parent fill
    release_refusal: int = 0  # error code refusing a modify that clears goodAfterTime (0: allowed)
    held_warning: bool = True  # 399 for an order accepted but held by goodAfterTime

    def __post_init__(self) -> None:
        unknown = sorted(set(self.reply) - set(REPLY_KINDS))
        if unknown:
            raise RealismError(f"reply kinds {', '.join(unknown)}: unknown; use some of "
                               f"{', '.join(REPLY_KINDS)}")
        for name in ("replayed_commission_trails_p", "missing_status_p", "duplicate_p"):
            p = getattr(self, name)
            if not 0 <= p <= 1:
                raise RealismError(f"{name} {p}: use a probability in [0, 1]")
        if self.release_refusal not in RELEASE_REFUSALS:
            raise RealismError(f"release_refusal {self.release_refusal}: use 0 (allowed), 201 "
                               "(Order rejected) or 105 (modified order does not match)")

    # -- the standard settings --------------------------------------------------------------
    @classmethod
    def default(cls, seed: int = 0) -> Realism:
        return cls(seed=seed)

    @classmethod
    def off(cls) -> Realism:
        return cls(enabled=False, reply={}, missing_status_p=0.0, duplicate_p=0.0,
                   replayed_commission_trails_p=0.0, reconnect_push=False,
                   children_on_partial_fill=False, held_warning=False)

    def reply_delay(self, kind: str) -> Delay:
        return self.reply.get(kind) or self.reply.get("other") or Delay(0, 0)

    def varied(self, **changes: Any) -> Realism:
        """This model with some settings changed (a seed, a variant the campaign drew)."""
        return dataclasses.replace(self, **changes)

    # -- files --------------------------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Delay):
                value = value.as_json()
            elif f.name == "reply":
                value = {k: d.as_json() for k, d in value.items()}
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, body: Mapping[str, Any], where: str = "realism") -> Realism:
        """Settings over the default: every key optional, delays as [lo_ms, hi_ms(, tail_p,
        tail_hi_ms)], replies as {kind: delay}."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(body) - set(names))
        if unknown:
            raise RealismError(f"{where}: unknown setting(s) {', '.join(unknown)}; use some of "
                               f"{', '.join(names)}")
        base = cls.default()
        changes: dict[str, Any] = {}
        for key, value in body.items():
            current = getattr(base, key)
            if isinstance(current, Delay):
                changes[key] = Delay.from_json(value, f"{where}.{key}")
            elif key == "reply":
                if not isinstance(value, dict):
                    raise RealismError(f"{where}.reply: expected {{kind: [lo_ms, hi_ms]}}, got {value!r}")
                replies = dict(base.reply)
                replies.update({k: Delay.from_json(v, f"{where}.reply.{k}") for k, v in value.items()})
                changes[key] = replies
            elif isinstance(current, bool):
                if not isinstance(value, bool):
                    raise RealismError(f"{where}.{key}: expected true or false, got {value!r}")
                changes[key] = value
            elif isinstance(current, int | float):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise RealismError(f"{where}.{key}: expected a number, got {value!r}")
                changes[key] = type(current)(value)
        return base.varied(**changes)

    @classmethod
    def load(cls, path: Path) -> Realism:
        try:
            body = json.loads(path.read_text())
        except OSError as exc:
            raise RealismError(f"--realism {path}: cannot read it ({exc.strerror or exc}): give "
                               "a JSON file, 'default' or 'off'") from None
        except json.JSONDecodeError as exc:
            raise RealismError(f"--realism {path}: not JSON ({exc.msg} at line {exc.lineno}): fix "
                               "the file or use 'default'") from None
        if not isinstance(body, dict):
            raise RealismError(f"--realism {path}: expected a JSON object of settings")
        return cls.from_json(body, where=str(path))

    @classmethod
    def parse(cls, text: str) -> Realism:
        """`default`, `off` or the path of a JSON file (the command lines' `--realism`)."""
        if text == "default":
            return cls.default()
        if text == "off":
            return cls.off()
        return cls.load(Path(text))
