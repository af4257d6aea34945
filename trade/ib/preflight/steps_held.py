"""Steps 1 and 2: the broker-held backstop, held by goodAfterTime, then released by a modification.

The preflight sends exactly what the bot sends, so the answer is about the bot's own orders, not
a look-alike: the exits of a held position are one OCA group placed by `place_exits` (take-profit
limit, stop, and the backstop: a market sell with goodAfterTime in the future, ocaType 2), and the
flatten releases that backstop with `modify_order(release_now=True)`, which re-sends the order
with goodAfterTime cleared. So step 1 buys one share and places that group; step 2 releases its
backstop the same way.

What is uncertain, and so asked: IB documents goodAfterTime ("Order Attributes": the order is
held until that time) and warns that modifications other than price, size and time in force may
not work ("Modifying Orders": "It is not generally recommended to try to change order fields aside
from order price, size, and tif"), and IB's message codes page lists 399 ("Order message error")
for an order accepted but held. Whether IB shows a 399 for a goodAfterTime hold, what whyHeld
says, and whether the release executes at once (or is refused, 201/105, leaving it held) is what
these steps record.
"""

from __future__ import annotations

import asyncio
import math

from trade.broker import OrderRejected
from trade.ib.preflight.context import (
    Run,
    ended_unfilled,
    ib_statuses,
    legs,
    listed,
    said_cancelled,
    stage,
)
from trade.ib.preflight.options import RELEASE_AT_ONCE_S
from trade.ib.preflight.tape import ORDER_MESSAGE
from trade.preflight_record import StepResult, StepVerdict


async def held_order(run: Run, result: StepResult) -> None:
    """Step 1: one share bought, its exits placed with the held backstop: accepted? held? which
    status, which warning, which whyHeld?"""
    broker, tape, desk, options = run.broker, run.tape, run.desk, run.options
    ev = result.evidence
    stage(result, "buying the share the held sell order protects")
    bought = await desk.buy_one()
    take_profit, stop = desk.exits(bought.price)
    backstop_at = broker.now() + options.backstop_ahead
    stage(result, "placing the exits' group with the held backstop")
    t0 = tape.now()
    group = await broker.place_exits(desk.symbol, 1, take_profit, stop, desk.next_ref("PROT"),
                                     backstop_at=backstop_at)
    desk.track(group.take_profit, group.stop_loss, group.backstop)
    run.held = group
    assert group.backstop is not None, "place_exits with backstop_at places a backstop"
    held = group.backstop.order_id
    ev.update(bought_at=bought.price, take_profit=take_profit, stop=stop,
              good_after_time_sent=backstop_at.isoformat(timespec="seconds"))
    stage(result, "waiting for IB's first answer about the held order")
    await tape.until(lambda: tape.answered(held, t0), math.inf)
    first = min((s.t for s in tape.messages(held, t0)), default=tape.now())
    stage(result, f"watching the held order stay held for {options.hold_s:g} s")
    await asyncio.sleep(options.hold_s)
    working = await listed(run)
    ids = legs(group)
    warnings = [" ".join(s.message.text.split()) for s in tape.errors(held, t0)
                if s.message.code == ORDER_MESSAGE]
    why_held = sorted({s.message.why_held for s in tape.statuses(held, t0) if s.message.why_held})
    refusals = {label: [f"IB {s.message.code}: {s.message.text}" for s in tape.refusals(i, t0)]
                for label, i in ids.items() if tape.refusals(i, t0)}
    ticket = working.get(held)
    ev.update(
        first_answer_s=round(first - t0, 3), statuses=ib_statuses(run, held, t0),
        warning_399=warnings[0] if warnings else None, why_held=why_held,
        listed_status=ticket.status.value if ticket else None,
        good_after_time_echoed=(ticket.good_after.isoformat(timespec="seconds")
                                if ticket and ticket.good_after else None),
        legs_working=[label for label, i in ids.items() if i in working],
        refusals=refusals, timeline=tape.timeline(ids, t0),
    )
    ev.pop("stage", None)
    missing = [label for label, i in ids.items() if i not in working]
    if refusals:
        result.verdict, result.answer = StepVerdict.FAIL, f"refused: {_first(refusals)}"
    elif tape.executed(held):
        result.verdict = StepVerdict.FAIL
        result.answer = "executed at once: goodAfterTime did not hold the market order"
    elif missing:
        result.verdict = StepVerdict.FAIL
        result.answer = (f"IB does not list {', '.join(missing)} as working {options.hold_s:g} s "
                         f"after placing (statuses {ev['statuses']})")
    else:
        assert ticket is not None
        warning = f"399 warning {warnings[0]!r}" if warnings else "no 399 warning"
        why = f", whyHeld {', '.join(repr(w) for w in why_held)}" if why_held else ", no whyHeld"
        result.verdict = StepVerdict.PASS
        result.answer = (f"accepted and held: IB lists it {ticket.status.value} "
                         f"(statuses {' > '.join(ev['statuses']) or 'none'}{why}); {warning}")


async def release(run: Run, result: StepResult) -> None:
    """Step 2: step 1's backstop released by a modification clearing goodAfterTime: accepted?
    executed at once? did its OCA group cancel the take-profit and the stop?"""
    broker, tape, options = run.broker, run.tape, run.options
    group = run.held
    assert group is not None and group.backstop is not None, "step 1 placed the held group"
    held = group.backstop.order_id
    siblings = {"TP": group.take_profit.order_id, "SL": group.stop_loss.order_id}
    ev = result.evidence
    stage(result, "sending the modification that clears goodAfterTime")
    t0 = tape.now()
    try:  # the modification waits for IB's acknowledgement: a refusal raises, with IB's code
        await broker.modify_order(held, release_now=True)
    except OrderRejected as exc:
        ev["modification_raised"] = str(exc)
    stage(result, "waiting for the released order to execute, or for IB to refuse the modification")
    await tape.until(lambda: tape.executed(held) > 0 or bool(tape.refusals(held, t0)),
                     options.release_wait_s)
    executed_at = tape.first_fill_at(held)
    if executed_at is not None:
        stage(result, "waiting for the OCA group to cancel the take-profit and the stop")
        await tape.until(lambda: all(said_cancelled(run, i) for i in siblings.values()),
                         options.settle_s)
    working = await listed(run)
    refusals = [f"IB {s.message.code}: {' '.join(s.message.text.split())}"
                for s in tape.refusals(held, t0)]
    cancelled = [label for label, i in siblings.items() if ended_unfilled(run, i, working)]
    lag = None if executed_at is None else executed_at - t0
    ev.update(
        modification_to_execution_s=None if lag is None else round(lag, 3),
        refusals=refusals, still_listed=held in working,
        listed_status=working[held].status.value if held in working else None,
        siblings_cancelled=cancelled,
        siblings_executed=[label for label, i in siblings.items() if run.tape.executed(i)],
        timeline=tape.timeline({"BKS": held, **siblings}, t0),
    )
    ev.pop("stage", None)
    if lag is None:
        result.verdict = StepVerdict.FAIL
        refused = refusals[0] if refusals else ev.get("modification_raised")
        if refused:
            state = f"IB still lists it {working[held].status.value}" if held in working \
                else "IB no longer lists it"
            result.answer = f"the modification was refused ({refused}); {state}"
        else:
            state = (f"IB lists it {working[held].status.value}" if held in working
                     else "IB no longer lists it")
            result.answer = (f"neither executed nor refused within {options.release_wait_s:g} s "
                             f"of the modification; {state}")
    elif lag > RELEASE_AT_ONCE_S:
        result.verdict = StepVerdict.FAIL
        result.answer = (f"executed {lag:.2f} s after the modification: later than the "
                         f"{RELEASE_AT_ONCE_S:g} s the flatten waits before selling itself")
    elif len(cancelled) < len(siblings):
        result.verdict = StepVerdict.FAIL
        left = [label for label in siblings if label not in cancelled]
        result.answer = (f"executed {lag:.2f} s after the modification, but {', '.join(left)} "
                         f"stayed working: its OCA group did not cancel them")
    else:
        result.verdict = StepVerdict.PASS
        result.answer = (f"executed {lag:.2f} s after the modification"
                         + (f" (with {refusals[0]})" if refusals else "")
                         + "; its OCA group cancelled the take-profit and the stop")


def _first(refusals: dict[str, list[str]]) -> str:
    label, texts = next(iter(refusals.items()))
    return f"{label} {' '.join(texts[0].split())}"
