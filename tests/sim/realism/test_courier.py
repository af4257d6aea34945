"""The courier's guarantees on their own (sim/tws/courier.py): per order, statuses never go
backwards whatever the draws; execDetails and orderStatus race each other (both orders occur
over seeds); a commission report always follows its execution; a reply stays together, after
the order messages produced before it and before those produced after it; requests of one lane
are handled in order, lanes overtake each other."""

from __future__ import annotations

import asyncio
import random

from sim.tws.courier import Courier
from sim.tws.realism import Delay, Realism
from tests.sim.realism.conftest import fixed, quiet


def courier(realism: Realism, seed: int = 0) -> tuple[Courier, list[list[object]]]:
    out: list[list[object]] = []
    return Courier(out.append, realism, random.Random(seed), asyncio.get_running_loop()), out


async def drain(c: Courier) -> None:
    while c.waiting:
        await asyncio.sleep(0.005)


def status(order_id: int, state: str) -> list[object]:
    return [3, order_id, state, 0.0, 10.0, 0.0, 1, 0, 0.0, 1, "", 0.0]


def execution(order_id: int, exec_id: str) -> list[object]:
    return [11, -1, order_id, exec_id]


def report(exec_id: str) -> list[object]:
    return [59, 1, exec_id, 1.0, "USD"]


LOOSE = quiet(event=Delay(0, 40), lane_jitter=Delay(0, 40), commission=Delay(0, 60),
              duplicate_p=0.3)


async def test_per_order_statuses_never_go_backwards_and_execs_race_statuses() -> None:
    exec_first = 0
    for seed in range(12):
        c, out = courier(LOOSE, seed)
        for oid in (7, 8):
            c.take(status(oid, "PreSubmitted"))
            c.take(status(oid, "Submitted"))
            c.take(execution(oid, f"e{oid}"))
            c.take(report(f"e{oid}"))
            c.take(status(oid, "Filled"))
        await drain(c)
        for oid in (7, 8):
            seen = [m[2] for m in out if m[0] == 3 and m[1] == oid]
            deduped = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
            assert deduped == ["PreSubmitted", "Submitted", "Filled"], (seed, seen)
            exec_at = out.index(execution(oid, f"e{oid}"))
            assert out.index(report(f"e{oid}")) > exec_at  # a report follows its execution
            filled_at = out.index(status(oid, "Filled"))
            exec_first += exec_at < filled_at
    assert 0 < exec_first < 24  # both orders of execDetails and the Filled status occur


async def test_a_reply_stays_together_after_earlier_order_messages_and_before_later_ones() -> None:
    c, out = courier(quiet(event=fixed(80)))
    c.take(status(7, "Submitted"))  # due in 80 ms
    with c.replying("open_orders"):
        c.take([5, 7, "open"])
        c.take(status(7, "Submitted"))
        c.take([53, 1])
    c.take(status(7, "Filled"))  # produced after the reply: comes after it
    await drain(c)
    assert [m[0] for m in out] == [3, 5, 3, 53, 3]
    assert out[-1][2] == "Filled"


async def test_a_placement_that_fills_at_once_can_lose_its_statuses_but_not_its_execution() -> None:
    c, out = courier(quiet(missing_status_p=1.0))
    with c.acting("place_ack", 7, 0.01):
        c.take([5, 7, "open Submitted"])
        c.take(status(7, "Submitted"))
        c.take(execution(7, "e1"))
        c.take(report("e1"))
        c.take([5, 7, "open Filled"])
        c.take(status(7, "Filled"))
    await drain(c)
    assert [m[0] for m in out] == [5, 11, 59, 5]
    assert c.tally.dropped_statuses == 1


async def test_requests_of_one_lane_are_handled_in_order_and_lanes_overtake() -> None:
    c, _out = courier(quiet())
    handled: list[str] = []
    c.defer("positions", 0.08, lambda: handled.append("positions 1"))
    c.defer("positions", 0.0, lambda: handled.append("positions 2"))  # quicker, but after 1
    c.defer("current_time", 0.01, lambda: handled.append("time"))
    await asyncio.sleep(0.15)
    assert handled == ["time", "positions 1", "positions 2"]


async def test_a_closed_connection_gets_nothing_more() -> None:
    c, out = courier(quiet(event=fixed(30)))
    handled: list[str] = []
    c.take(status(7, "Submitted"))
    c.defer("positions", 0.01, lambda: handled.append("positions"))
    c.close()
    await asyncio.sleep(0.06)
    assert out == [] and handled == []
