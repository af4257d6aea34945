"""Steps 3 and 4: an OCA group of the exits' type, and a bracket around its parent's fill.

Step 3 places the exits of one bought share (take-profit, stop, held backstop: ocaType 2, "reduce
with block" — ibapi `OrderSamples.OneCancelsAll`; IB's "One Cancels All" page: "Completion of one
piece of the group order causes cancellation of the remaining group orders while partial
completion causes the group to re-balance"), then moves the take-profit through the market (a
price modification, which IB supports) so it executes: the stop and the held backstop must be
cancelled, and nothing else sold. With one share a fill is always complete, so the "reduce" half
(a partial fill shrinking the siblings) cannot be seen here; the record says so.

Step 4 sends a bracket as the bot's entries go (`submit_bracket`: the parent a buy limit just
above the market, take-profit, stop and backstop as children in one OCA group) and records the
children's statuses before the parent's execution, between it and the parent's Filled status,
and after. IB's documents do not say what children do while a parent is partly filled (one public
report of real IB, nautilus_trader issue 2704, has the stop child live then); a one-share parent
fills whole, so the record states what was seen and whether a partial fill occurred at all.
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
from trade.models import OrderStatus
from trade.preflight_record import StepResult, StepVerdict
from trade.ticks import round_to_tick


async def oca_group(run: Run, result: StepResult) -> None:
    """Step 3: the take-profit of a fresh exits' group executes: are the others cancelled?"""
    broker, tape, desk, options = run.broker, run.tape, run.desk, run.options
    ev = result.evidence
    stage(result, "buying the share the group protects")
    bought = await desk.buy_one()
    take_profit, stop = desk.exits(bought.price)
    stage(result, "placing the exits' group")
    group = await broker.place_exits(desk.symbol, 1, take_profit, stop, desk.next_ref("PROT"),
                                     backstop_at=broker.now() + options.backstop_ahead)
    desk.track(group.take_profit, group.stop_loss, group.backstop)
    ids = legs(group)
    stage(result, "waiting for IB to list the group's orders as working")
    while True:
        working = await listed(run)
        if all(i in working for i in ids.values()):
            break
        await asyncio.sleep(options.poll_s)
    target = group.take_profit.order_id
    through = round_to_tick(await desk.last_price() * (1 - options.cross))
    stage(result, f"moving the take-profit to {through:g}, through the market")
    t0 = tape.now()
    try:  # a price modification: the one IB advises; it waits for IB's acknowledgement
        await broker.modify_order(target, limit_price=through)
    except OrderRejected as exc:
        ev.pop("stage", None)
        ev["timeline"] = tape.timeline(ids, t0)
        result.verdict = StepVerdict.FAIL
        result.answer = f"moving the take-profit through the market was refused: {exc}"
        return
    await tape.until(lambda: tape.executed(target) >= 1, math.inf)
    executed_at = tape.first_fill_at(target) or tape.now()
    others = {label: i for label, i in ids.items() if i != target}
    stage(result, "waiting for the OCA group to cancel the stop and the backstop")
    await tape.until(lambda: all(said_cancelled(run, i) for i in others.values()), options.settle_s)
    working = await listed(run)
    cancel_at = {label: next((s.t - executed_at for s in tape.statuses(i, t0)
                              if s.message.status in ("Cancelled", "ApiCancelled")), None)
                 for label, i in others.items()}
    sold = sum(tape.executed(i) for i in ids.values())
    ev.update(
        oca_group=group.take_profit.oca_group, oca_type=2, take_profit_moved_to=through,
        modification_to_execution_s=round(executed_at - t0, 3),
        cancelled_after_execution_s={k: None if v is None else round(v, 3) for k, v in cancel_at.items()},
        shares_sold_by_the_group=sold,
        statuses={label: ib_statuses(run, i, t0) for label, i in ids.items()},
        reduce_on_partial_fill="not observable: a one-share order fills whole",
        timeline=tape.timeline(ids, t0),
    )
    ev.pop("stage", None)
    left = [label for label, i in others.items() if not ended_unfilled(run, i, working)]
    if sold != 1:
        result.verdict = StepVerdict.FAIL
        result.answer = f"the group sold {sold} shares of a one-share position"
    elif left:
        result.verdict = StepVerdict.FAIL
        result.answer = (f"the take-profit executed, but {', '.join(left)} stayed working "
                         f"{options.settle_s:g} s later: the group did not cancel them")
    else:
        slowest = max((v for v in cancel_at.values() if v is not None), default=None)
        when = f" within {slowest:.2f} s" if slowest is not None else ""
        result.verdict = StepVerdict.PASS
        result.answer = (f"the take-profit executed; the stop and the held backstop were "
                         f"cancelled{when}, nothing else sold")


async def bracket(run: Run, result: StepResult) -> None:
    """Step 4: the children's statuses before, at and after the parent's fill."""
    broker, tape, desk, options = run.broker, run.tape, run.desk, run.options
    ev = result.evidence
    price = await desk.last_price()
    limit = round_to_tick(price * (1 + options.entry_offset))
    take_profit, stop = desk.exits(price)
    t0 = tape.now()
    tickets = broker.submit_bracket(desk.symbol, 1, limit, take_profit, stop,
                                    desk.next_ref("ENTRY"),
                                    backstop_at=broker.now() + options.backstop_ahead)
    desk.track(tickets.entry, tickets.take_profit, tickets.stop_loss, tickets.backstop)
    parent = tickets.entry.order_id
    children = {label: t.order_id for label, t in
                (("TP", tickets.take_profit), ("SL", tickets.stop_loss), ("BKS", tickets.backstop))
                if t is not None}
    ev.update(last_price=price, parent_limit=limit, take_profit=take_profit, stop=stop)
    stage(result, f"waiting for the parent's fill (a buy limit at {limit:g}, last price {price:g})")
    await tape.until(lambda: tape.executed(parent) >= 1, math.inf)
    filled_at = tape.first_fill_at(parent) or tape.now()
    stage(result, "waiting for the children's statuses after the parent's fill")
    await tape.quiet([parent, *children.values()], filled_at, options.quiet_s, options.settle_s)
    working = await listed(run)
    parent_done = next((s.t for s in tape.statuses(parent, t0)
                        if s.message.status == OrderStatus.FILLED.value), None)
    partial = any(0 < s.message.filled < tickets.entry.qty for s in tape.statuses(parent, t0))
    filled = tape.executed(parent)
    before = {label: ib_statuses(run, i, t0, filled_at) for label, i in children.items()}
    during = ({label: ib_statuses(run, i, filled_at, parent_done) for label, i in children.items()}
              if parent_done is not None else None)
    after = {label: ({"status": working[i].status.value, "working_qty": working[i].qty - working[i].filled}
                     if i in working else "not working") for label, i in children.items()}
    early = [label for label, i in children.items()
             if (at := tape.first_fill_at(i)) is not None and at < filled_at]
    executed = [label for label, i in children.items() if tape.executed(i)]
    ev.update(
        parent_fill_after_s=round(filled_at - t0, 3), parent_filled=filled,
        before_parent_fill=before, between_execution_and_filled_status=during, after=after,
        partial_fill=("seen" if partial else
                      f"not observable: the {tickets.entry.qty}-share parent filled whole"),
        timeline=tape.timeline({"parent": parent, **children}, t0),
    )
    ev.pop("stage", None)
    wrong_size = [label for label, row in after.items()
                  if isinstance(row, dict) and row["working_qty"] != filled]
    not_working = [label for label, row in after.items() if not isinstance(row, dict)]
    if early or executed:
        result.verdict = StepVerdict.FAIL
        result.answer = f"a child executed ({', '.join(early or executed)}) at a one-share bracket"
    elif not_working:
        result.verdict = StepVerdict.FAIL
        result.answer = f"after the parent's fill {', '.join(not_working)} not working"
    elif wrong_size:
        result.verdict = StepVerdict.FAIL
        result.answer = (f"after the parent's fill {', '.join(wrong_size)} work for a quantity "
                         f"other than the {filled} filled")
    else:
        seen = sorted({s for statuses in before.values() for s in statuses})
        held = ("/".join(seen) if seen else "no status reported") + " before the parent's fill"
        result.verdict = StepVerdict.PASS
        now = ", ".join(f"{label} {row['status']}" for label, row in after.items()
                        if isinstance(row, dict))
        result.answer = f"children {held}; after it all three work for the filled {filled} ({now})"
