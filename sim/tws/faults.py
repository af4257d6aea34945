"""Fault injection: what a test (Python handle) or an operator (admin port) can break.

The admin protocol is one command per line, one reply line per command ("OK ..." / "ERR ...").
Commands map 1:1 onto `FaultTarget` methods so tests and the admin port exercise the same code:

    restart N                       drop every connection, refuse new ones for N seconds
    connectivity lost               send 1100 to every client (sockets stay open)
    connectivity restored [lost]    send 1102 (data kept) or 1101 (data lost)
    reject-next CODE [FILTER]       reject the next order (FILTER accepts) with IB error CODE
    reject-next-child CODE [FILTER] the same, only for a child order (parentId set)
    reject-orders CODE [FILTER]     reject every new order FILTER accepts until `reject-orders off`
    partial-next F [FILTER]         the next fill (of an order FILTER accepts) takes only F of it
    partial-next-child F [FILTER]   the same, only for a child order's fill
    cancel-order ID|REF|SYMBOL      cancel working orders "from TWS": an engine order id (as in
                                    `state`), else an exact orderRef, else every working order
                                    of a symbol; the owner gets orderStatus Cancelled and 202
    pacing-next                     the next historical-data request gets error 162
    speed N | speed step            replay N x real time, or switch to stepping
    step SECONDS                    advance a stepping clock
    status                          one line of state
    state                           JSON: the broker's truth (see GatewaySimulator.state)

FILTER words narrow which order a fault hits: `child` (parentId set) or `parent` (no parentId),
and `type=STP`, `action=SELL`, `symbol=SPY`, `ref=TEXT` (a part of the orderRef).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

ROLES = ("any", "child", "parent")


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which order a fault applies to; the default accepts every order."""

    role: str = "any"
    order_type: str = ""
    action: str = ""
    symbol: str = ""
    ref: str = ""

    def accepts(self, *, parent_id: int, order_type: str, action: str, symbol: str, order_ref: str) -> bool:
        if self.role == "child" and not parent_id:
            return False
        if self.role == "parent" and parent_id:
            return False
        if self.order_type and self.order_type != order_type.upper():
            return False
        if self.action and self.action != action.upper():
            return False
        if self.symbol and self.symbol != symbol.upper():
            return False
        return not self.ref or self.ref in order_ref

    def accepts_request(self, req: Any) -> bool:
        """For a placeOrder request (the client's ids)."""
        return self.accepts(parent_id=req.parent_id, order_type=req.order_type, action=req.action,
                            symbol=req.contract.ticker, order_ref=req.order_ref)

    def accepts_order(self, order: Any) -> bool:
        """For an engine order (`SimOrder`)."""
        return self.accepts(parent_id=order.parent_id, order_type=order.order_type,
                            action=order.action, symbol=order.symbol, order_ref=order.order_ref)

    @classmethod
    def parse(cls, words: Sequence[str], role: str = "any") -> OrderFilter:
        """`["child", "type=STP", "ref=bot:"]` -> OrderFilter; raises AdminError naming the word."""
        fields: dict[str, str] = {"role": role}
        keys = {"type": "order_type", "action": "action", "symbol": "symbol", "ref": "ref"}
        for word in words:
            if word.lower() in ROLES:
                fields["role"] = word.lower()
                continue
            key, sep, value = word.partition("=")
            if not sep or key.lower() not in keys or not value:
                raise AdminError(f"filter word {word!r}: use child|parent, type=STP, action=SELL, "
                                 "symbol=SPY or ref=TEXT")
            name = keys[key.lower()]
            fields[name] = value if name == "ref" else value.upper().replace("_", " ")
        return cls(**fields)

    def describe(self) -> str:
        parts = [] if self.role == "any" else [self.role]
        parts += [f"{k}={v}" for k, v in (("type", self.order_type), ("action", self.action),
                                          ("symbol", self.symbol), ("ref", self.ref)) if v]
        return " ".join(parts) or "any"


class FaultTarget(Protocol):
    def restart(self, refuse_seconds: float) -> None: ...
    def connectivity_lost(self) -> None: ...
    def connectivity_restored(self, data_kept: bool = True) -> None: ...
    def reject_next_order(self, code: int, only: OrderFilter = ...) -> None: ...
    def reject_orders(self, code: int | None, only: OrderFilter = ...) -> None: ...
    def partial_fill_next(self, fraction: float, only: OrderFilter = ...) -> None: ...
    def cancel_order_from_tws(self, target: str) -> list[int]: ...
    def pacing_violation_next(self) -> None: ...
    def set_speed(self, speed: float | None) -> None: ...
    def step(self, seconds: float) -> None: ...
    def status(self) -> str: ...
    def state(self) -> dict[str, Any]: ...


class AdminError(ValueError):
    """An admin command that cannot be applied; the message is the one-line reply."""


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise AdminError(f"{what}: expected a number, got {text!r}") from exc


HELP = ("OK commands: restart N | connectivity lost|restored [lost] | reject-next CODE [FILTER] | "
        "reject-next-child CODE [FILTER] | reject-orders CODE [FILTER]|off | "
        "partial-next F [FILTER] | partial-next-child F [FILTER] | "
        "cancel-order ID|REF|SYMBOL | pacing-next | speed N|step | step S | status | state; "
        "FILTER: child|parent type=T action=A symbol=S ref=TEXT")


def apply_admin_command(target: FaultTarget, line: str) -> str:
    """Run one admin line against `target`; returns the reply line (without newline)."""
    words = line.strip().split()
    if not words:
        return "ERR empty command; try 'status' or 'help'"
    cmd, args = words[0].lower(), words[1:]
    try:
        return _apply(target, cmd, args)
    except AdminError as exc:
        return f"ERR {exc}"
    except (ValueError, RuntimeError, KeyError) as exc:
        return f"ERR {cmd}: {exc}"


def _apply(target: FaultTarget, cmd: str, args: list[str]) -> str:
    if cmd == "help":
        return HELP
    if cmd == "status":
        return "OK " + target.status()
    if cmd == "state":
        return "OK " + json.dumps(target.state(), separators=(",", ":"))
    if cmd == "restart":
        seconds = _number(args[0], "restart seconds") if args else 5.0
        if seconds < 0:
            raise AdminError("restart seconds: must be >= 0")
        target.restart(seconds)
        return f"OK restarting; refusing connections for {seconds:g} s"
    if cmd == "connectivity":
        state = args[0].lower() if args else ""
        if state == "lost":
            target.connectivity_lost()
            return "OK sent 1100"
        if state == "restored":
            kept = not (len(args) > 1 and args[1].lower() == "lost")
            target.connectivity_restored(data_kept=kept)
            return "OK sent " + ("1102" if kept else "1101")
        raise AdminError("connectivity: use 'connectivity lost' or 'connectivity restored [lost]'")
    if cmd in ("reject-next", "reject-next-child"):
        code = int(_number(args[0], f"{cmd} code")) if args else 201
        only = OrderFilter.parse(args[1:], "child" if cmd.endswith("child") else "any")
        target.reject_next_order(code, only)
        return f"OK next order ({only.describe()}) will be rejected with {code}"
    if cmd == "reject-orders":
        if args and args[0].lower() == "off":
            target.reject_orders(None)
            return "OK orders are no longer rejected"
        code = int(_number(args[0], "reject-orders code")) if args else 201
        only = OrderFilter.parse(args[1:])
        target.reject_orders(code, only)
        return f"OK every new order ({only.describe()}) is rejected with {code} until 'reject-orders off'"
    if cmd in ("partial-next", "partial-next-child"):
        fraction = _number(args[0], f"{cmd} fraction") if args else 0.5
        if not 0 < fraction < 1:
            raise AdminError(f"{cmd} fraction: must be between 0 and 1, e.g. 0.5")
        only = OrderFilter.parse(args[1:], "child" if cmd.endswith("child") else "any")
        target.partial_fill_next(fraction, only)
        return f"OK next fill ({only.describe()}) takes {fraction:g} of the order"
    if cmd == "cancel-order":
        if len(args) != 1:
            raise AdminError("cancel-order: give one engine order id, orderRef or symbol")
        cancelled = target.cancel_order_from_tws(args[0])
        if not cancelled:
            raise AdminError(f"cancel-order {args[0]}: no working order has that id, orderRef or symbol")
        return "OK cancelled " + ",".join(str(i) for i in cancelled)
    if cmd == "pacing-next":
        target.pacing_violation_next()
        return "OK next historical request gets 162"
    if cmd == "speed":
        if not args:
            raise AdminError("speed: give a factor (e.g. 'speed 100') or 'speed step'")
        speed = None if args[0].lower() == "step" else _number(args[0], "speed")
        if speed is not None and speed <= 0:
            raise AdminError("speed: must be > 0, or 'step'")
        target.set_speed(speed)
        return f"OK speed {'step' if speed is None else f'{speed:g}'}"
    if cmd == "step":
        seconds = _number(args[0], "step seconds") if args else 60.0
        target.step(seconds)
        return f"OK stepped {seconds:g} s"
    return f"ERR unknown command {cmd!r}; try 'help'"


async def serve_admin(target: FaultTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One admin connection: read command lines until EOF, answer each with one line."""
    try:
        while line := await reader.readline():
            writer.write(apply_admin_command(target, line.decode(errors="replace")).encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()
