"""Start the IB Gateway simulator for `day_trader.py --sim` (in-process, its own thread).

Lives in `sim/` because `trade/` never imports the simulator; the entry script wires the two.
The clock starts a few minutes before the session open so the bot connects, analyses the
watchlist and warms up before the first bar, just as a bot started at 09:25 would at IB.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from sim.gateway import GatewaySimulator
from sim.market.bar_sources import CsvBarSource
from sim.market.daily_path import DailyPathSource
from sim.market.replay import BarSource
from sim.market.sessions import session_bounds
from sim.market.synthetic import SyntheticMarket
from sim.tws.runner import GatewayThread
from trade.calendar import MarketCalendar

LEAD = timedelta(minutes=5)
SYNTHETIC_HISTORY_SESSIONS = 5


class SimulatorSetupError(ValueError):
    """The requested simulated day cannot be built; one line with the fix."""


def replay_source(data_dir: Path, day: date, symbols: Sequence[str]) -> BarSource:
    if not (data_dir / "intraday").is_dir():
        raise SimulatorSetupError(
            f"--sim-data {data_dir}: no intraday/ directory there: point it at the shared data"
        )
    source = CsvBarSource(data_dir, symbols)
    if not any(day in source.sessions(s) for s in symbols):
        raise SimulatorSetupError(
            f"--sim-date {day}: none of {', '.join(symbols)} has intraday data that day in "
            f"{data_dir}: pick a date present under intraday/<SYM>/"
        )
    return source


def synthetic_source(seed: int, day: date, symbols: Sequence[str]) -> SyntheticMarket:
    calendar = MarketCalendar()
    days = [day]
    for _ in range(SYNTHETIC_HISTORY_SESSIONS):
        days.append(calendar.previous_session(days[-1]).date)
    return SyntheticMarket(seed, symbols, days)


def start_simulator(
    symbols: Sequence[str],
    *,
    day: date,
    speed: float,
    data_dir: Path | None = None,
    seed: int = 7,
    cash: float = 100_000.0,
) -> GatewayThread:
    """A running simulator replaying `day` (CSV when `data_dir`, else synthetic) on a free port."""
    source = replay_source(data_dir, day, symbols) if data_dir else synthetic_source(seed, day, symbols)
    sim = GatewaySimulator.build(
        source, day, symbols, speed=speed, start=session_bounds(day)[0] - LEAD, cash=cash, port=0,
    )
    return sim.start_in_thread()


# -- the weekly bot's simulator (main.py --sim): daily data as minute paths --------------------


def daily_source(data_dir: Path, day: date, symbols: Sequence[str]) -> DailyPathSource:
    """The shared daily files as a replay (sim/market/daily_path.py); refuses a day none of
    `symbols` has a daily bar for, naming the range the data covers."""
    if not (data_dir / "daily").is_dir():
        raise SimulatorSetupError(
            f"--sim-data {data_dir}: no daily/ directory there: point it at the shared data"
        )
    source = DailyPathSource(data_dir, symbols, day=day)
    days = [d for s in symbols for d in (b.start.date() for b in source.daily_bars(s))]
    if not days:
        raise SimulatorSetupError(
            f"--sim-data {data_dir}: none of {', '.join(symbols)} has a daily file there: "
            "use symbols present under daily/"
        )
    if day not in set(days):
        raise SimulatorSetupError(
            f"--sim-date {day}: none of the symbols has a daily bar that day in {data_dir}: "
            f"pick a session between {min(days)} and {max(days)}"
        )
    return source


def start_daily_simulator(
    symbols: Sequence[str],
    *,
    day: date,
    speed: float,
    data_dir: Path | None = None,
    seed: int = 7,
    cash: float = 100_000.0,
) -> GatewayThread:
    """A running simulator for the weekly bot: `day` replayed from the daily files as minute
    paths (real minutes where they agree), or a seeded synthetic day; same start as above."""
    source: BarSource = (
        daily_source(data_dir, day, symbols) if data_dir else synthetic_source(seed, day, symbols)
    )
    sim = GatewaySimulator.build(
        source, day, symbols, speed=speed, start=session_bounds(day)[0] - LEAD, cash=cash, port=0,
    )
    return sim.start_in_thread()
