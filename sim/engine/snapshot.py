"""The engine's state as plain JSON-able data, and back: what survives a simulator restart.

A Gateway restart at IB loses nothing the broker holds: accounts, positions, working orders
(GTC ones across days), recent executions and the order/perm/execution ids already used. The
snapshot keeps exactly that. On restore, DAY orders of a session that has closed meanwhile are
expired (as the close would have done), and every id counter continues after the saved one, so
no id is ever handed out twice.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

from sim.engine.exchange import MatchingEngine
from sim.engine.lifecycle import HELD_UNTIL_TIME
from sim.engine.orders import Execution, SimOrder

FORMAT_VERSION = 1
KEEP_DAYS = 7  # finished orders and executions this recent are kept (IB reports 7 days)
_TIME_FIELDS = ("submitted_at", "good_after", "good_till", "completed_at")


class SnapshotError(ValueError):
    """The saved state cannot be used; the message names what is wrong."""


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def order_to_dict(order: SimOrder) -> dict[str, Any]:
    data = dataclasses.asdict(order)
    for name in _TIME_FIELDS:
        data[name] = _iso(getattr(order, name))
    return data


def order_from_dict(data: dict[str, Any]) -> SimOrder:
    fields = {f.name for f in dataclasses.fields(SimOrder)}
    values = {k: v for k, v in data.items() if k in fields}
    for name in _TIME_FIELDS:
        values[name] = _time(values.get(name))
    return SimOrder(**values)


def take(engine: MatchingEngine) -> dict[str, Any]:
    """Everything a restarted engine needs (see the module docstring)."""
    now = engine.last_advance
    since = now - timedelta(days=KEEP_DAYS)
    orders = engine.orders()
    working_parents = {o.parent_id for o in orders if o.is_working and o.parent_id}
    kept = [o for o in orders if o.is_working or o.order_id in working_parents
            or (o.completed_at or o.submitted_at or now) >= since]
    return {
        "version": FORMAT_VERSION,
        "time": now.isoformat(),
        "day": engine.replay.day.isoformat(),
        "next_perm_id": engine.next_perm_id,
        "exec_seq": engine.exec_seq,
        "instance": engine.instance,
        "next_order_id": engine.next_valid_id(),
        "accounts": {
            account: {
                "initial_cash": ledger.initial_cash, "cash": ledger.cash,
                "realized_pnl": ledger.realized_pnl, "commissions": ledger.commissions,
                "positions": {s: list(p) for s, p in ledger.positions.items() if p[0]},
            }
            for account in engine.accounts.ids()
            for ledger in [engine.accounts.ledger(account)]
        },
        "orders": [order_to_dict(o) for o in kept],
        "executions": [
            {**dataclasses.asdict(e), "time": e.time.isoformat()}
            for e in engine.executions() if e.time >= since
        ],
    }


def saved_time(data: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(data["time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"saved state has no readable time ({exc!r}): delete the file") from exc


def restore(engine: MatchingEngine, data: dict[str, Any], now: datetime) -> None:
    """Load `data` (from `take`) into a fresh `engine` whose replay is the session current at
    `now`; matching continues from `now`."""
    if data.get("version") != FORMAT_VERSION:
        raise SnapshotError(f"state format {data.get('version')!r} is not {FORMAT_VERSION}: "
                            "delete the file or use a matching simulator version")
    try:
        for account, saved in data["accounts"].items():
            if account not in engine.accounts:
                engine.add_account(account, float(saved["initial_cash"]))
            ledger = engine.accounts.ledger(account)
            ledger.initial_cash = float(saved["initial_cash"])
            ledger.cash = float(saved["cash"])
            ledger.realized_pnl = float(saved["realized_pnl"])
            ledger.commissions = float(saved["commissions"])
            ledger.positions = {s: [float(q), float(a)] for s, (q, a) in saved["positions"].items()}
        when = datetime.fromisoformat(data["time"])
        saved_day = date.fromisoformat(data["day"])
        orders = [order_from_dict(o) for o in data["orders"]]
        executions = [Execution(**{**e, "time": datetime.fromisoformat(e["time"])}) for e in data["executions"]]
        engine.next_perm_id = max(engine.next_perm_id, int(data["next_perm_id"]))
        engine.exec_seq = max(engine.exec_seq, int(data["exec_seq"]))
        engine.instance = int(data["instance"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"unreadable saved state ({exc!r}): delete the file to start afresh") from exc
    current_day = engine.replay.day
    for order in sorted(orders, key=lambda o: o.order_id):
        if order.is_working and order.tif == "DAY" and saved_day < current_day and not _for_later(order, current_day):
            order.status, order.why_held = "Cancelled", "DAY order expired at the session close"
            order.completed_at = order.completed_at or when
        engine.book.add(order)
        if not order.is_working:
            continue
        if order.transmit and order.why_held in ("", "market closed"):
            engine.book.activate(order)
        elif order.why_held == HELD_UNTIL_TIME and order.good_after is not None:
            engine.book.set_alarm(order.good_after, "release", order.order_id)
        if order.good_till is not None:
            engine.book.set_alarm(order.good_till, "expire", order.order_id)
    engine.resume(now, executions)


def _for_later(order: SimOrder, day: date) -> bool:
    """A DAY order whose goodAfterTime falls on `day` or later has not had its session yet."""
    return order.good_after is not None and order.good_after.date() >= day
