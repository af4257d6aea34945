"""What `day_trader.py` calls after the close (before the open it calls
`improvement.params_store.day_params`). Wiring only; the decisions are in improvement/cycle.py.

After the close, while still connected (`collect_after_close`): the starting equity (net
liquidation minus the day's realised P&L, the bot being flat), the regime symbol's daily history
(SPY is qualified first: IB serves history only for a qualified contract, and SPY is rarely on
the watchlist), and, on a real account, the last 40 sessions of 1-minute bars of the watchlist
(improvement/live_data.py). Then, disconnected, the cycle on the same DB (`run_after_close`),
replaying recent sessions from:
- a real account: the bot's recorded minute bars plus the IB history, cached in the history DB;
- `--sim --sim-date`: the replayed data directory; `--sim` alone: the seeded synthetic market.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from improvement.after_close import after_close, summary_line
from improvement.cycle import ImprovementOutcome
from improvement.live_data import (
    LOOKBACK_SESSIONS,
    Fetched,
    RecordedBars,
    fetch_history,
    store_history,
)
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
SYNTHETIC_SESSIONS = LOOKBACK_SESSIONS
HISTORY_TIMEOUT_S = 30.0

__all__ = ["collect_after_close", "run_after_close", "summary_line"]


async def collect_after_close(broker: Broker, run_log: RunLog) -> dict[str, Any]:
    """What the cycle needs from the broker, fetched before disconnecting."""
    account = await broker.account()
    bars = await regime_history(broker)
    history = Fetched()
    if not account.simulated:  # a simulator's replay data is its own data folder
        history = await fetch_history(broker, _watchlist_symbols(run_log))
    return {"day": run_log.day, "allocation": run_log.allocation,
            "equity": account.net_liquidation - run_log.realized_pnl, "regime_bars": bars,
            "history": history, "simulated": account.simulated}


async def regime_history(broker: Broker, symbol: str = DEFAULT_SYMBOL) -> list[Any]:
    """The regime symbol's daily bars, qualified first (empty when the broker has none)."""
    try:
        known = await asyncio.wait_for(broker.qualify([symbol]), HISTORY_TIMEOUT_S)
        if not known.get(symbol):
            log.warning("regime: %s is not known to the broker: the regime is unknown tonight",
                        symbol)
            return []
        return list(await asyncio.wait_for(
            broker.history(symbol, REGIME_HISTORY, "1 day"), HISTORY_TIMEOUT_S))
    except (BrokerError, TimeoutError) as exc:
        log.warning("regime: no %s daily history from the broker (%s): the regime is unknown "
                    "tonight", symbol, exc)
        return []


def _watchlist_symbols(run_log: RunLog) -> list[str]:
    seen = [v.get("symbol") for part in ("kept", "dropped")
            for v in run_log.watchlist.get(part, [])]
    return list(dict.fromkeys(s for s in seen if isinstance(s, str) and s))


def run_after_close(settings: Settings, collected: dict[str, Any], *, sim_date: date | None,
                    sim_seed: int) -> ImprovementOutcome:
    """The cycle for the day just traded (`settings` with the configured parameters)."""
    day: date = collected["day"]
    source, described = replay_source(settings, day, collected, sim_date=sim_date,
                                      sim_seed=sim_seed)
    candidates = [list(collected["regime_bars"])]
    if source is not None and settings.sim:
        candidates.append(regime_bars(source, DEFAULT_SYMBOL))
    data = settings.market_data_dir
    if settings.sim and data is not None and (data / "daily").is_dir():
        candidates.append(regime_bars(CsvBarSource(data), DEFAULT_SYMBOL))
    # the freshest history, then the longest (the broker's, the replay data's, the data dir's)
    regime = max(candidates, key=lambda bars: (
        min(bars[-1].start.date(), day) if bars else date.min, len(bars)))
    return after_close(settings, day=day, allocation=collected["allocation"],
                       equity=collected["equity"], replay_source=source, regime=regime,
                       data_source=described)


def replay_source(settings: Settings, day: date, collected: dict[str, Any] | None = None, *,
                  sim_date: date | None, sim_seed: int) -> tuple[BarSource | None, str]:
    """(the sessions to replay, where they come from) for the night of `day`."""
    symbols = load_watchlist(settings.watchlist_path, settings.params).symbols
    if not settings.sim:
        fetched = (collected or {}).get("history") or Fetched()
        stored = store_history(settings.db_path, fetched.minutes) if fetched.minutes else 0
        return (RecordedBars.window(settings.db_path, symbols, day, daily=fetched.daily),
                f"the bot's recorded minute bars and IB history in {settings.db_path} "
                f"({stored} bars fetched tonight)")
    if sim_date is None:
        calendar = MarketCalendar()
        days = [day]
        while len(days) < SYNTHETIC_SESSIONS:
            days.append(calendar.previous_session(days[-1]).date)
        return SyntheticMarket(sim_seed, symbols, days), f"synthetic market, seed {sim_seed}"
    data = settings.market_data_dir
    if data is None or not (data / "intraday").is_dir():
        return None, ""
    return CsvBarSource(data, symbols), f"the simulator's data folder {data}"
