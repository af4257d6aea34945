"""What `day_trader.py` calls after the close (before the open it calls
`improvement.params_store.day_params`). Wiring only; the decisions are in improvement/cycle.py.

After the close, while still connected: the starting equity
(net liquidation minus the day's realised P&L, the bot being flat) and the regime symbol's daily
history from the broker (IB, or the simulator). Then, disconnected, the cycle on the same DB,
replaying recent sessions from: the replayed data directory (`--sim --sim-date`), the seeded
synthetic market of the last sessions (`--sim` alone), or `SIM_DATA_DIR` for a live day (where
sessions missing from that directory cannot be replayed, so nothing is validated).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from pathlib import Path
from typing import Any

from improvement.cli import after_close, summary_line
from improvement.cycle import CycleOutcome
from improvement.regime import DEFAULT_SYMBOL, regime_bars
from sim.market.bar_sources import CsvBarSource
from sim.market.replay import BarSource
from sim.market.synthetic import SyntheticMarket
from trade.broker import Broker, BrokerError
from trade.calendar import MarketCalendar
from trade.config import Settings
from trade.intraday.run_log import RunLog
from trade.watchlist import load_watchlist

log = logging.getLogger(__name__)

REGIME_HISTORY = "2 Y"
SYNTHETIC_SESSIONS = 26  # the validation window (20) plus the analyst's 5-session look-back
HISTORY_TIMEOUT_S = 30.0

__all__ = ["collect_after_close", "run_after_close", "summary_line"]


async def collect_after_close(broker: Broker, run_log: RunLog) -> dict[str, Any]:
    """What the cycle needs from the broker, fetched before disconnecting."""
    account = await broker.account()
    bars: list[Any] = []
    try:
        bars = await asyncio.wait_for(
            broker.history(DEFAULT_SYMBOL, REGIME_HISTORY, "1 day"), HISTORY_TIMEOUT_S)
    except (BrokerError, TimeoutError) as exc:
        log.info("regime: no %s daily history from the broker (%s)", DEFAULT_SYMBOL, exc)
    return {"day": run_log.day, "allocation": run_log.allocation,
            "equity": account.net_liquidation - run_log.realized_pnl, "regime_bars": bars}


def run_after_close(settings: Settings, collected: dict[str, Any], *, sim_date: date | None,
                    sim_seed: int) -> CycleOutcome:
    """The cycle for the day just traded (`settings` with the configured parameters)."""
    day: date = collected["day"]
    source = replay_source(settings, day, sim_date=sim_date, sim_seed=sim_seed)
    candidates = [list(collected["regime_bars"])]
    if source is not None:
        candidates.append(regime_bars(source, DEFAULT_SYMBOL))
    data = Path(settings.sim_data_dir)
    if (data / "daily").is_dir():
        candidates.append(regime_bars(CsvBarSource(data), DEFAULT_SYMBOL))
    # the freshest history, then the longest (the broker's, the replay data's, the data dir's)
    regime = max(candidates, key=lambda bars: (
        min(bars[-1].start.date(), day) if bars else date.min, len(bars)))
    return after_close(settings, day=day, allocation=collected["allocation"],
                       equity=collected["equity"], replay_source=source, regime=regime)


def replay_source(settings: Settings, day: date, *, sim_date: date | None,
                  sim_seed: int) -> BarSource | None:
    symbols = load_watchlist(settings.watchlist_path, settings.params).symbols
    if settings.sim and sim_date is None:
        calendar = MarketCalendar()
        days = [day]
        while len(days) < SYNTHETIC_SESSIONS:
            days.append(calendar.previous_session(days[-1]).date)
        return SyntheticMarket(sim_seed, symbols, days)
    data = Path(settings.sim_data_dir)
    return CsvBarSource(data, symbols) if (data / "intraday").is_dir() else None
