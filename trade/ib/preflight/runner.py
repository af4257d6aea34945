"""The preflight's run: refusals first, then six bounded steps, each cleaned up, then the account
check and the record.

Order matters for money safety:
1. a non-paper account is refused before anything else is asked of the Gateway (the account id
   is known from the login's managed accounts the moment the connection opens);
2. outside regular hours (by the broker's clock, NYSE calendar) it is refused: a market order
   would not execute and a held order would mean something else;
3. the symbol must be one IB knows, and no order may already work in it (the day trader's exits,
   a person's order): the preflight must never trade beside them;
4. the account is read (positions, every client's working orders) before the first order;
5. each step runs under its own deadline; after it (whatever happened: an answer, a timeout, an
   error, a signal) its orders are cancelled and its shares sold, under a deadline too. A cleanup
   that cannot finish stops the remaining steps; the end still tries once more;
6. the account is read again and compared, and the record is written.

Every step's result is one console line; its evidence goes into the record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from observability.redaction import mask_account
from trade.broker import BrokerError
from trade.calendar import MarketCalendar, Session
from trade.ib.broker import IBBroker
from trade.ib.preflight import account_check
from trade.ib.preflight.context import Run
from trade.ib.preflight.desk import PreflightDesk
from trade.ib.preflight.options import PreflightOptions
from trade.ib.preflight.steps_groups import bracket, oca_group
from trade.ib.preflight.steps_held import held_order, release
from trade.ib.preflight.steps_reads import concurrent_reads, lags
from trade.ib.preflight.tape import Tape
from trade.preflight_record import RELEASE_STEP, PreflightRecord, StepResult, StepVerdict
from trade.refusal import AccountRefused, Refused

log = logging.getLogger(__name__)

Say = Callable[[str], None]
StepBody = Callable[[Run, StepResult], Awaitable[None]]
STEP_BODIES: tuple[tuple[int, StepBody], ...] = (
    (1, held_order), (2, release), (3, oca_group), (4, bracket), (5, lags), (6, concurrent_reads))
ORDERLESS_STEPS = frozenset({6})
POSITION_LAG_S = 5.0  # the final look waits this long for positions to catch up


def refuse_non_paper(account_id: str) -> None:
    if not account_id.upper().startswith("DU"):
        raise AccountRefused(
            f"account {mask_account(account_id)} is not a paper account: the preflight runs on a "
            "paper account only (ids start with DU): log in to the paper account (Gateway port "
            "4002, TWS 7497) and pass its --port", account_id)


def regular_session(now: datetime, options: PreflightOptions) -> Session:
    """Today's session when `now` (the broker's clock) lies in its regular hours with enough
    time left before the close; a `Refused` naming the hours otherwise."""
    calendar = MarketCalendar()
    day = now.date()
    if not calendar.is_trading_day(day):
        nxt = calendar.next_session(day)
        raise Refused(f"no NYSE session on {day} by the broker's clock: the preflight runs during "
                      f"regular hours: run it on {nxt.date} from {nxt.open:%H:%M} New York time")
    session = calendar.session(day)
    latest = session.close - options.close_margin
    if not session.open <= now < latest:
        minutes = int(options.close_margin.total_seconds() // 60)
        raise Refused(f"the preflight runs during regular hours only: {session.open:%H:%M}-"
                      f"{latest:%H:%M} New York time on {day} (it needs {minutes} min before the "
                      f"{session.close:%H:%M} close); it is {now:%H:%M} by the broker's clock: run "
                      "it then")
    return session


async def run_preflight(broker: IBBroker, logs_dir: Path, options: PreflightOptions | None = None,
                        say: Say = print, stop: asyncio.Event | None = None,
                        ) -> tuple[PreflightRecord, Path]:
    """Run the six steps on the broker's account; write and return the record and its path.
    Refusals (`Refused`, `AccountRefused`) come before any order."""
    options = options or PreflightOptions()
    refuse_non_paper(broker.account_id)
    started = broker.now()
    regular_session(started, options)
    symbol = options.symbol
    if not (await broker.qualify([symbol])).get(symbol):
        raise Refused(f"--symbol {symbol}: IB knows no stock or ETF of that name: use a liquid ETF "
                      "such as SPY")
    account = await broker.account()
    tape = Tape(broker)
    desk = PreflightDesk(broker, tape, options, started.date())
    try:
        price = await desk.last_price()
    except LookupError:
        raise Refused(f"--symbol {symbol}: IB sent no price for it (no bar in the last two "
                      "sessions): its orders would not execute: check the account's market data "
                      "or use a liquid ETF such as SPY") from None
    before = await account_check.look(broker)
    busy = [o for o in before.orders if o.symbol == symbol]
    if busy:
        refs = ", ".join(o.order_ref or f"order {o.order_id}" for o in busy[:3])
        raise Refused(f"orders already work in {symbol} ({refs}{', ...' if len(busy) > 3 else ''}): "
                      "the preflight never trades beside them: run it before the bot starts, or "
                      "pick another --symbol")
    say(f"account {account.masked_id} ({'simulated' if account.simulated else 'paper'}), "
        f"{symbol} (last {price:g}), client id {broker.client_id}, {started:%Y-%m-%d %H:%M:%S} "
        "New York by the broker's clock: six steps, each bounded, its orders cancelled and its "
        "shares sold after it")
    tape.attach()
    run = Run(broker, tape, desk, options, before)
    stop = stop or asyncio.Event()
    try:
        results = await _steps(run, say, stop)
        final = StepResult(0)  # a last sweep: what a skipped or failed step may have left
        if not await _cleanup(run, final):
            log.error("the preflight could not undo all it did: see the account check")
        check, left_nothing = await account_check.check(broker, desk, before, POSITION_LAG_S,
                                                        options.poll_s)
        check["final_cleanup"] = final.cleanup
    finally:
        tape.detach()
    record = PreflightRecord(
        account=mask_account(broker.account_id), simulated=account.simulated, symbol=symbol,
        day=started.date(), started_at=started, finished_at=broker.now(),
        client_id=broker.client_id, steps=results, account_check=check, left_nothing=left_nothing)
    directory = logs_dir / "sim" if account.simulated else logs_dir  # as the run logs go
    path = record.write(directory)
    say(_account_line(check, left_nothing))
    say(_verdict_line(record, path))
    return record, path


async def _steps(run: Run, say: Say, stop: asyncio.Event) -> list[StepResult]:
    results: list[StepResult] = []
    why_not: str | None = None  # set once the rest cannot run
    for number, body in STEP_BODIES:
        result = StepResult(number)
        if why_not is None and stop.is_set():
            why_not = "stopped by a signal"
        if why_not is not None:
            result.verdict, result.answer = StepVerdict.SKIPPED, f"not run: {why_not}"
        elif number == RELEASE_STEP and (run.held is None or not results[-1].passed):
            result.verdict, result.answer = StepVerdict.SKIPPED, "not run: step 1's held order did not stand"
        else:
            await _one(run, number, body, result, stop)
        keep_group = number == 1 and result.passed  # step 2 releases it
        if result.verdict is not StepVerdict.SKIPPED and not keep_group and number not in ORDERLESS_STEPS:
            if not await _cleanup(run, result):
                why_not = f"the cleanup after step {number} did not finish"
        results.append(result)
        say(result.line() + (f"; cleanup: {result.cleanup}" if result.cleanup.startswith("NOT") else ""))
    return results


async def _one(run: Run, number: int, body: StepBody, result: StepResult,
               stop: asyncio.Event) -> None:
    """`body` under the step's deadline, raced against a stop signal; the verdict of a timeout,
    an error or an interruption keeps the evidence gathered so far."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = run.options.deadline(number)
    task = asyncio.ensure_future(body(run, result))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, timeout=deadline,
                                     return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            try:
                task.result()
            except Exception as exc:  # noqa: BLE001 - the step's verdict, never the run's end
                if not isinstance(exc, BrokerError | ConnectionError | OSError | TimeoutError
                                  | LookupError):
                    log.exception("preflight step %d failed", number)
                result.verdict = StepVerdict.ERROR
                result.answer = f"{type(exc).__name__}: {exc}"
        else:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            where = result.evidence.get("stage", "")
            if stopper in done:
                result.verdict, result.answer = StepVerdict.ERROR, "interrupted by a signal"
            else:
                result.verdict = StepVerdict.TIMEOUT
                result.answer = f"no answer within {deadline:g} s"
            if where:
                result.answer += f" while {where}"
    finally:
        stopper.cancel()
        result.seconds = loop.time() - started


async def _cleanup(run: Run, result: StepResult) -> bool:
    """Undo what the preflight placed and bought so far, whatever is in the way: a dropped
    connection (the connection reconnects by itself) or a broker error is retried until the
    cleanup's deadline. The outcome goes into `result`; False when it could not finish."""
    loop = asyncio.get_running_loop()
    deadline_s = run.options.cleanup_deadline_s
    until = loop.time() + deadline_s
    failure = f"NOT DONE within {deadline_s:g} s"
    while (left_s := until - loop.time()) > 0:
        try:
            result.cleanup = await asyncio.wait_for(run.desk.restore(), left_s)
            return True
        except TimeoutError:
            failure = f"NOT DONE within {deadline_s:g} s"
            break
        except Exception as exc:  # noqa: BLE001 - the account must be put back whatever happened
            if not isinstance(exc, BrokerError | ConnectionError | OSError):
                log.exception("preflight cleanup failed; trying again")
            failure = f"NOT DONE: {type(exc).__name__}: {exc}"
            await asyncio.sleep(min(1.0, max(0.0, until - loop.time())))
    result.cleanup = failure
    left = run.desk.net_shares()
    if left:
        result.cleanup += f" ({left:+d} {run.symbol} of the preflight's own still held)"
    log.error("preflight cleanup: %s", result.cleanup)
    return False


def _account_line(check: dict[str, object], left_nothing: bool) -> str:
    if check.get("left_as_found"):
        return "account check: left as found (positions and every client's working orders " \
               "compared before and after)"
    if left_nothing:
        return f"account check: {check.get('note')}; changed: positions {check.get('positions_changed')}"
    working = check.get("preflight_orders_working") or []
    return (f"account check: NOT as found: {check.get('preflight_net_shares')} share(s) of the "
            f"preflight's own held, {len(working) if isinstance(working, list) else working} of its "
            "orders working: sell and cancel them in TWS")


def _verdict_line(record: PreflightRecord, path: Path) -> str:
    if record.passed:
        return f"passed: the bot may rely on every step on this account (record {path})"
    failed = [f"step {s.step} {s.verdict.value}" for s in record.steps if not s.passed]
    fallbacks = record.fallbacks()
    tail = ("; fallbacks in force for the day trader: " + "; ".join(fallbacks)) if fallbacks else ""
    if not record.left_nothing:
        failed.append("the account check")
    return f"did not pass ({', '.join(failed)}){tail} (record {path})"
