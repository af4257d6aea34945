"""Steps 5 and 6: how late IB's follow-ups to an execution come, and whether overlapping reads
through the bot's broker layer all answer.

Step 5: IB sends an execution's commission in a report of its own after execDetails (ibapi
`EWrapper.commissionReport`; pysystemtrade pull request 1661 and rust-ibapi pull request 811
describe reports arriving frames later), and positions lag executions (ib_async issue 15:
"ib.positions() may have a delay in updating position quantities"). The bot copes with both —
a late commission is booked when it comes; a position short of the bot's lot is not believed
within `QUIET_AFTER_OWN_EXECUTION_S` of its own execution — so the step measures the lags on this
account: round trips of one share at market, each execution's arrival against its commission
report and against the first positions answer (reqPositions, as the bot reads them) that shows
it. The commission lags of the earlier steps' executions are added as samples.

Step 6: the bot's parts read positions and open orders at overlapping moments; ib_async keys
those requests by a fixed name, so the broker layer shares one request of a kind in flight and
bounds every read (trade/ib/reads.py). Two of each, and the every-client read, are started at
once and must all answer, and agree.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from trade.ib.preflight.context import Run, stage
from trade.ib.preflight.options import POSITION_LAG_TOLERATED_S
from trade.models import Side
from trade.preflight_record import StepResult, StepVerdict


async def lags(run: Run, result: StepResult) -> None:
    """Step 5: commission report and position update after each execution of round trips."""
    tape, desk, options = run.tape, run.desk, run.options
    ev = result.evidence
    found = run.before.positions.get(desk.symbol, 0)
    samples: list[dict[str, Any]] = []
    sampled: set[str] = set()
    for trip in range(1, options.lag_round_trips + 1):
        for side in (Side.BUY, Side.SELL):
            stage(result, f"round trip {trip}: {side.value.lower()} 1 {desk.symbol} at market")
            sent = tape.now()
            fill = await desk.filled(await desk.market(side, 1, side.value))
            assert fill is not None, "an unbounded wait returns a fill"
            arrived = tape.fill_at.get(fill.exec_id, tape.now())
            expected = found + desk.net_shares()
            stage(result, f"round trip {trip}: waiting for positions to show {expected} {desk.symbol}")
            shown = await _position_shows(run, expected)
            stage(result, f"round trip {trip}: waiting for the commission report of {fill.exec_id}")
            reported = await _commission_came(run, fill.exec_id)
            sampled.add(fill.exec_id)
            samples.append({
                "side": side.value, "execution_after_s": round(arrived - sent, 3),
                "commission_lag_s": round(reported - arrived, 3),
                "commission_event": fill.exec_id in tape.commission_at,
                "position_lag_s": round(shown - arrived, 3),
            })
    ev.pop("stage", None)
    own = {e for e in tape.fill_at if tape.fills[e].order_id in desk.placed}
    earlier = [round(tape.commission_at[e] - tape.fill_at[e], 3) for e in own - sampled
               if e in tape.commission_at]
    silent = sorted(e for e in own if e not in tape.commission_at
                    and run.broker.known_commission(e) is not None)
    waiting = sorted(e for e in own if e not in tape.commission_at and e not in silent)
    commission = [s["commission_lag_s"] for s in samples] + earlier
    position = [s["position_lag_s"] for s in samples]
    ev.update(round_trips=samples, earlier_commission_lags_s=sorted(earlier),
              reports_not_yet_come=waiting, reports_without_event=silent, commission_lag=_summary(commission),
              position_lag=_summary(position), position_lag_tolerated_s=POSITION_LAG_TOLERATED_S)
    answer = (f"commission reports {_span(commission)} after execDetails ({len(commission)} "
              f"samples); positions showed the execution {_span(position)} after it "
              f"({len(position)} samples)")
    if silent:
        answer += (f"; {len(silent)} report(s) came without the client library's commission "
                   "event (stored on the execution: the bot books them from the executions later)")
    if position and max(position) > POSITION_LAG_TOLERATED_S:
        result.verdict = StepVerdict.FAIL
        result.answer = (f"{answer}: longer than the {POSITION_LAG_TOLERATED_S:g} s the bot "
                         "allows a position to lag its own execution")
    else:
        result.verdict, result.answer = StepVerdict.PASS, answer


async def concurrent_reads(run: Run, result: StepResult) -> None:
    """Step 6: two position reads, two open-order reads and one all-clients read at once."""
    broker = run.broker
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def timed(label: str, call: Callable[[], Awaitable[list[Any]]]) -> dict[str, Any]:
        try:
            answer = await call()
        except Exception as exc:  # the evidence: which read failed and how
            return {"read": label, "answered": False, "error": f"{type(exc).__name__}: {exc}",
                    "seconds": round(loop.time() - t0, 3)}
        return {"read": label, "answered": True, "seconds": round(loop.time() - t0, 3),
                "answer": sorted(_key(item) for item in answer)}

    stage(result, "five reads in flight at once")
    rows = await asyncio.gather(
        timed("positions #1", broker.positions), timed("positions #2", broker.positions),
        timed("open orders #1", broker.open_orders), timed("open orders #2", broker.open_orders),
        timed("all open orders", broker.all_open_orders))
    result.evidence.pop("stage", None)
    result.evidence["reads"] = [{k: v for k, v in row.items() if k != "answer"}
                                | {"items": len(row.get("answer", []))} for row in rows]
    failed = [row["read"] for row in rows if not row["answered"]]
    slowest = max(row["seconds"] for row in rows)
    if failed:
        result.verdict = StepVerdict.FAIL
        result.answer = f"{', '.join(failed)} did not answer ({rows[0].get('error') or 'see the evidence'})"
    elif rows[0]["answer"] != rows[1]["answer"] or rows[2]["answer"] != rows[3]["answer"]:
        result.verdict = StepVerdict.FAIL
        result.answer = "all answered, but two reads of the same kind disagree"
    else:
        result.verdict = StepVerdict.PASS
        result.answer = f"all five answered within {slowest:.2f} s, the pairs alike"


async def _commission_came(run: Run, exec_id: str) -> float:
    """The tape time the execution's commission report was known: its event, or (a report the
    client library stored without an event) the moment a look at its record found it."""
    tape = run.tape
    await tape.until(lambda: exec_id in tape.commission_at
                     or run.broker.known_commission(exec_id) is not None, math.inf)
    return tape.commission_at.get(exec_id, tape.now())


async def _position_shows(run: Run, expected: int) -> float:
    """The tape time of the first positions answer showing `expected` shares of the symbol."""
    while True:
        held = {p.symbol: p.qty for p in await run.broker.positions()}
        if held.get(run.desk.symbol, 0) == expected:
            return run.tape.now()
        await asyncio.sleep(run.options.poll_s)


def _key(item: Any) -> str:
    symbol, qty = getattr(item, "symbol", ""), getattr(item, "qty", 0)
    return f"{symbol}:{qty}:{getattr(item, 'order_id', '')}:{getattr(item, 'status', '')}"


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "min_s": None, "median_s": None, "max_s": None}
    return {"n": len(values), "min_s": min(values), "median_s": round(statistics.median(values), 3),
            "max_s": max(values)}


def _span(values: list[float]) -> str:
    if not values:
        return "(no sample)"
    return f"{min(values):.3f}-{max(values):.3f} s (median {statistics.median(values):.3f} s)"
