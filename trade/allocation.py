"""The allocation: the fraction of net liquidation a bot may hold at once. One home for what a
valid one is, because every entry point (both bots' flags and settings, the backtester, the
nightly cycle's replays, the risk rules) must refuse the same values with the same words.

A valid allocation is a finite number in (0, 1]; bots sharing one account must together stay
within 1 (both books must fit in net liquidation).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trade.refusal import Refused

FIX = "a fraction in (0, 1], e.g. 0.25"
TOTAL_TOLERANCE = 1e-9


def parse_allocation(value: object) -> float:
    """`value` (a number, or text from a flag, .env or a run log) as an allocation; ValueError
    naming the fix otherwise."""
    number: float | None = None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if number is None or not math.isfinite(number) or not 0.0 < number <= 1.0:
        raise ValueError(f"{value!r} is invalid: use {FIX}")
    return number


def validate_allocation(value: object, flag: str = "--allocation") -> float:
    """A number already parsed (the risk rules', the backtest's): text is refused here, it is
    `parse_allocation`'s to read. The error names the flag or setting it came from."""
    try:
        if isinstance(value, str):
            raise ValueError(value)
        return parse_allocation(value)
    except ValueError:
        raise ValueError(f"{flag}={value!r} is invalid: use {FIX}") from None


def over_total(allocations: dict[str, float]) -> str | None:
    """Why allocations sharing one account do not fit (their sum above 1), or None."""
    total = sum(allocations.values())
    if total <= 1.0 + TOTAL_TOLERANCE:
        return None
    parts = " plus ".join(f"{name} {value:g}" for name, value in allocations.items())
    books = "the two books" if len(allocations) == 2 else "the books"
    return (f"{parts} is {total:g}: {books} must fit in net liquidation: lower one so they "
            "sum to at most 1")


REGISTRY_NAME = "running_bots.json"


class AllocationRegistry:
    """The allocations of the bots running on one account, in a small file they share (beside
    their logs), so that two processes cannot each take 0.9 of the same account: a bot whose
    allocation would bring the sum of the live claims on its account above 1 is refused at its
    start. A claim dies with its process (its pid no longer running), so a killed bot never
    blocks the next start. The account is stored as a hash, never its number."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / REGISTRY_NAME

    def claim(self, account_id: str, bot: str, allocation: float) -> Claim:
        """Record this process's `bot` on `account_id`; `Refused` naming the others when the
        sum would pass 1."""
        key = _account_key(account_id)
        with _locked(self.path):
            claims = _live(self._read())
            mine = claims.setdefault(key, {})
            others = {name: float(c["allocation"]) for name, c in mine.items()
                      if name != f"{os.getpid()}:{bot}"}
            too_much = over_total({**{_label(n): a for n, a in others.items()},
                                   f"this {bot}": allocation})
            if too_much:
                raise Refused(f"bots already running on this account: {too_much} (stop one, or "
                              "lower --allocation)")
            mine[f"{os.getpid()}:{bot}"] = {"allocation": allocation, "pid": os.getpid()}
            self._write(claims)
        return Claim(self, key, f"{os.getpid()}:{bot}")

    def release(self, key: str, name: str) -> None:
        with _locked(self.path):
            claims = _live(self._read())
            claims.get(key, {}).pop(name, None)
            self._write({k: v for k, v in claims.items() if v})

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, claims: dict[str, dict[str, dict[str, Any]]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(claims, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


@dataclass(frozen=True, slots=True)
class Claim:
    registry: AllocationRegistry
    key: str
    name: str

    def release(self) -> None:
        try:
            self.registry.release(self.key, self.name)
        except OSError:  # the claim dies with the process anyway
            pass


def _account_key(account_id: str) -> str:
    return hashlib.sha256(account_id.encode("utf-8")).hexdigest()[:16]


def _label(name: str) -> str:
    pid, _, bot = name.partition(":")
    return f"{bot} (pid {pid})"


def _live(claims: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Only the claims whose process still runs."""
    alive: dict[str, dict[str, dict[str, Any]]] = {}
    for key, bots in claims.items():
        kept = {name: c for name, c in bots.items()
                if isinstance(c, dict) and _running(int(c.get("pid", 0)))}
        if kept:
            alive[key] = kept
    return alive


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
