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
from sim.launch import SimulatorHandle
from trade.broker import Broker
from trade.calendar import MarketCalendar
from trade.config import Settings
from trade.intraday.day_session import TradingDayResult, run_trading_day
from trade.intraday.trader import IntradayTrader
from trade.watchlist import WatchlistError, load_watchlist

log = logging.getLogger(__name__)

Say = Callable[[str], None]
PRE_OPEN = timedelta(minutes=5)


async def _reach(broker: Broker, moment: datetime, stop: asyncio.Event) -> None:
    """Wait until the bot's view of the simulator's clock has caught up with `moment`."""
    while broker.now() < moment and not stop.is_set():
        await asyncio.sleep(0.02)


async def trade_sessions(
    settings: Settings, defaults: Settings, days: Sequence[date], broker: Broker,
    simulator: SimulatorHandle, speed: float, stop: asyncio.Event, *, replayed: bool,
    sim_seed: int, params_file: str | None, improve: bool, say: Say,
    on_trader: Callable[[IntradayTrader], Awaitable[None]] | None = None,
) -> list[dict[str, Any]]:
    """Trade every session of `days`; after each close run the cycle (unless `improve` is
    False). Returns per day {"date", "result" (TradingDayResult), "next_params" or None}."""
    done: list[dict[str, Any]] = []
    calendar = MarketCalendar()
    pacing: set[asyncio.Task[None]] = set()
    simulator.set_speed(None)
    for day in days:
        pre_open = calendar.session(day).open - PRE_OPEN
        if broker.now() < pre_open:
            await simulator.step_to(pre_open)
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
                simulator.pace_the_flatten(trader.session.flatten_at, speed)))
            simulator.set_speed(speed)

        result: TradingDayResult = await run_trading_day(day_settings, watchlist, broker, stop,
                                                  variant=today.variant, on_trader=started)
        simulator.set_speed(None)  # the night waits for the cycle: the next session must not start meanwhile
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
    simulator.set_speed(speed)
    return done
