"""Consecutive simulated sessions through ONE simulator process, the nightly cycle after each
close, each session trading exactly the parameters the cycle before it scheduled.

    day_trader.py --sim [--sim-data DIR] --sim-from 2026-02-02 --sim-to 2026-02-06

The simulator replays the sessions back to back (positions and GTC orders carry over); the bot
stays connected. The clock runs only while a trader trades: it is held while the trader starts
(so it joins five minutes before the open, as `make run` does), from the end of each day's run
while the cycle replays recent sessions (so the next session waits for the parameters it must
trade), and it is then stepped, not run, over the night to the next pre-open, so a loaded machine
cannot make the bot join late. Wiring only: the day is `run_trading_day`, the night is
`improvement.nightly`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from improvement import nightly, params_store
from improvement.cycle import CycleError
from observability.history import HistoryDBError
from trade.broker import Broker
from trade.calendar import MarketCalendar
from trade.config import Settings
from trade.intraday.day_session import DayResult, run_trading_day
from trade.intraday.trader import IntradayTrader
from trade.watchlist import WatchlistError, load_watchlist

log = logging.getLogger(__name__)

ClockControl = Callable[[float | None], None]  # set the simulator's speed (None: hold the clock)
StepTo = Callable[[datetime], Awaitable[None]]  # step the held clock to a moment (over a night)
Say = Callable[[str], None]
PRE_OPEN = timedelta(minutes=5)


async def _reach(broker: Broker, moment: datetime, stop: asyncio.Event) -> None:
    """Wait until the bot's view of the simulator's clock has caught up with `moment`."""
    while broker.now() < moment and not stop.is_set():
        await asyncio.sleep(0.02)


FLATTEN_PACE = 60.0  # market seconds per wall second around the flatten
FLATTEN_LEAD = timedelta(seconds=30)


async def pace_the_flatten(trader: IntradayTrader, clock: ClockControl, speed: float,
                           market_now: Callable[[], datetime] | None = None) -> None:
    """From 30 s before the flatten until the run ends, at most 60x: every answer of the
    simulator takes wall-clock time, so at 2400x a busy machine would show the bot flat minutes
    "late" (a wall second is 40 market minutes); at 60x the flatten is judged as a live day
    would see it. The clock is restored by the next session's start (or the process ends).

    `market_now` reads the in-process simulator's own clock: the bot's estimate of the broker's
    time is only as good as its last sample, which at 20,000x is minutes of market time."""
    now = market_now or trader.broker.now
    flatten_at = trader.session.flatten_at - FLATTEN_LEAD
    while (ahead := (flatten_at - now()).total_seconds()) > 0:
        await asyncio.sleep(min(1.0, max(0.002, ahead / speed / 2)))
    if speed > FLATTEN_PACE:
        clock(FLATTEN_PACE)


async def trade_sessions(
    settings: Settings, defaults: Settings, days: Sequence[date], broker: Broker,
    clock: ClockControl, step_to: StepTo, speed: float, stop: asyncio.Event, *, replayed: bool,
    sim_seed: int,
    params_file: str | None, improve: bool, say: Say,
    on_trader: Callable[[IntradayTrader], Awaitable[None]] | None = None,
    market_now: Callable[[], datetime] | None = None,
) -> list[dict[str, Any]]:
    """Trade every session of `days`; after each close run the cycle (unless `improve` is
    False). Returns per day {"date", "result" (DayResult), "next_params" or None}."""
    done: list[dict[str, Any]] = []
    calendar = MarketCalendar()
    pacing: set[asyncio.Task[None]] = set()
    clock(None)
    for day in days:
        pre_open = calendar.session(day).open - PRE_OPEN
        if broker.now() < pre_open:
            await step_to(pre_open)
            await _reach(broker, pre_open, stop)
        if stop.is_set():
            break
        today = params_store.day_params(settings.db_path, day, defaults.params, params_file)
        day_settings = dataclasses.replace(settings, params=today.params)
        watchlist = load_watchlist(day_settings.watchlist_path, day_settings.params)
        say(f"parameters for {day}: {today.source}"
            + (f", variant {today.variant}" if today.variant else ""))

        async def started(trader: IntradayTrader) -> None:
            if on_trader is not None:
                await on_trader(trader)
            pacing.add(asyncio.get_running_loop().create_task(
                pace_the_flatten(trader, clock, speed, market_now)))
            clock(speed)

        result: DayResult = await run_trading_day(day_settings, watchlist, broker, stop,
                                                  variant=today.variant, on_trader=started)
        clock(None)  # the night waits for the cycle: the next session must not start meanwhile
        for task in pacing:
            task.cancel()
        pacing.clear()
        entry: dict[str, Any] = {"date": day, "result": result, "next_params": None}
        done.append(entry)
        if result.run_log is None or stop.is_set():
            break
        if improve:
            collected = await nightly.collect_after_close(broker, result.run_log)
            night = dataclasses.replace(defaults, db_path=result.db_path or defaults.db_path,
                                        logs_dir=result.logs_dir or defaults.logs_dir)
            try:
                outcome = await asyncio.to_thread(
                    nightly.run_after_close, night, collected,
                    sim_date=day if replayed else None, sim_seed=sim_seed)
            except (CycleError, HistoryDBError, WatchlistError) as exc:
                say(f"improvement cycle {day}: not run ({exc}); the next session keeps its "
                    "parameters")
                continue
            say(nightly.summary_line(outcome))
            entry["next_params"] = getattr(outcome, "next_params", None)
    clock(speed)
    return done
