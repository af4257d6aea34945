"""Fault injection: what a test (Python handle) or an operator (admin port) can break.

The admin protocol is one command per line, one reply line per command ("OK ..." / "ERR ...").
Commands map 1:1 onto `FaultTarget` methods so tests and the admin port exercise the same code:

    restart N                       drop every connection, refuse new ones for N seconds
    connectivity lost               send 1100 to every client (sockets stay open)
    connectivity restored [lost]    send 1102 (data kept) or 1101 (data lost)
    reject-next CODE                reject the next order with IB error CODE (e.g. 201)
    partial-next FRACTION           the next order fills only FRACTION of its quantity
    pacing-next                     the next historical-data request gets error 162
    speed N | speed step            replay N x real time, or switch to stepping
    step SECONDS                    advance a stepping clock
    status                          one line of state
    state                           JSON: positions, working orders, every order ref sent
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol


class FaultTarget(Protocol):
    def restart(self, refuse_seconds: float) -> None: ...
    def connectivity_lost(self) -> None: ...
    def connectivity_restored(self, data_kept: bool = True) -> None: ...
    def reject_next_order(self, code: int) -> None: ...
    def partial_fill_next(self, fraction: float) -> None: ...
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


def apply_admin_command(target: FaultTarget, line: str) -> str:
    """Run one admin line against `target`; returns the reply line (without newline)."""
    words = line.strip().split()
    if not words:
        return "ERR empty command; try 'status' or 'help'"
    cmd, args = words[0].lower(), words[1:]
    try:
        if cmd == "help":
            return "OK commands: restart N | connectivity lost|restored [lost] | reject-next CODE | partial-next F | pacing-next | speed N|step | step S | status | state"
        if cmd == "status":
            return "OK " + target.status()
        if cmd == "state":
            return "OK " + json.dumps(target.state(), separators=(",", ":"))
        if cmd == "restart":
            seconds = _number(args[0], "restart seconds") if args else 5.0
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
        if cmd == "reject-next":
            code = int(_number(args[0], "reject-next code")) if args else 201
            target.reject_next_order(code)
            return f"OK next order will be rejected with {code}"
        if cmd == "partial-next":
            fraction = _number(args[0], "partial-next fraction") if args else 0.5
            if not 0 < fraction < 1:
                raise AdminError("partial-next fraction: must be between 0 and 1, e.g. 0.5")
            target.partial_fill_next(fraction)
            return f"OK next order fills {fraction:g} partially"
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
    except AdminError as exc:
        return f"ERR {exc}"
    except (ValueError, RuntimeError) as exc:
        return f"ERR {cmd}: {exc}"
    return f"ERR unknown command {cmd!r}; try 'help'"


async def serve_admin(target: FaultTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One admin connection: read command lines until EOF, answer each with one line."""
    try:
        while line := await reader.readline():
            writer.write(apply_admin_command(target, line.decode(errors="replace")).encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()
