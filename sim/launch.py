"""Start the IB Gateway simulator in-process for `day_trader.py --sim` and `main.py --sim`, and
hand the entry script one typed handle to drive it (`SimulatorHandle`: its address, its clock's
speed, holding and stepping the clock, and the pacing of the flatten).

Lives in `sim/` because `trade/` never imports the simulator; the entry script wires the two.
The clock starts a few minutes before the first session's open so the bot connects, analyses
the watchlist and warms up before the first bar, just as a bot started at 09:25 would at IB.
Several consecutive sessions (`days=[...]`, e.g. from `--sim-from/--sim-to`) run through the one
simulator: the clock crosses the nights (skipping the idle hours by default) and the account,
positions and GTC orders carry over, as they do at IB.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from sim.gateway import GatewaySimulator
from sim.market.bar_sources import CsvBarSource
from sim.market.daily_path import DailyPathSource
from sim.market.replay import BarSource
from sim.market.sessions import is_session, previous_sessions, session_bounds, sessions_between
from sim.market.synthetic import SyntheticMarket
from sim.market.tickers import known_tickers
from sim.tws.realism import Realism
from sim.tws.runner import GatewayThread
from trade.refusal import Refused

LEAD = timedelta(minutes=5)
SYNTHETIC_HISTORY_SESSIONS = 5
FLATTEN_PACE = 60.0  # market seconds per wall second around the flatten
FLATTEN_LEAD = timedelta(seconds=30)
STEP_TIMEOUT_S = 300.0  # stepping over a weekend is thousands of pumps


class SimulatorHandle:
    """The in-process simulator as the entry scripts drive it: where it listens, its clock (run
    at a speed, held, stepped over a night) and the pacing of the flatten. Calls are marshalled
    onto the simulator's own thread."""

    def __init__(self, thread: GatewayThread, sim: GatewaySimulator) -> None:
        self._thread = thread
        self._sim = sim

    @property
    def host(self) -> str:
        return self._thread.host

    @property
    def port(self) -> int:
        return self._thread.port

    def set_speed(self, speed: float | None) -> None:
        """Run the clock at `speed` x real time, or hold it (None)."""
        self._thread.call(self._sim.set_speed, speed)

    @property
    def simulator_id(self) -> str:
        """The id the simulator announces: a bot files its records under it
        (trade/records_routing.py)."""
        return self._sim.simulator_id

    def now(self) -> datetime:
        """The simulator's own clock (the bot's estimate of it trails by its last sample)."""
        return self._sim.now()

    async def step_to(self, moment: datetime) -> None:
        """Step the held clock to `moment` (over a night: the simulator pumps every minute)."""
        await asyncio.to_thread(self._thread.call, self._sim.step_to, moment,
                                timeout=STEP_TIMEOUT_S)

    async def pace_the_flatten(self, flatten_at: datetime, speed: float) -> None:
        """From 30 s before the flatten until the run ends, at most 60x: every answer of the
        simulator takes wall-clock time, so at 2400x a busy machine would show the bot flat
        minutes "late" (a wall second is 40 market minutes); at 60x the flatten is judged as a
        live day would see it. The clock is restored by the next session's start (or the
        process ends). The simulator's own clock is read, not the bot's estimate of it, which
        at 20,000x is minutes of market time behind."""
        start_slow = flatten_at - FLATTEN_LEAD
        while (ahead := (start_slow - self.now()).total_seconds()) > 0:
            await asyncio.sleep(min(1.0, max(0.002, ahead / speed / 2)))
        if speed > FLATTEN_PACE:
            self.set_speed(FLATTEN_PACE)

    def stop(self) -> None:
        self._thread.stop()


class SimulatorSetupError(Refused, ValueError):
    """The requested simulated days cannot be built; one line with the fix."""


def session_days(first: date, last: date) -> list[date]:
    """Every NYSE session from `first` to `last` (both included), for `--sim-from/--sim-to`."""
    if last < first:
        raise SimulatorSetupError(f"--sim-to {last} is before --sim-from {first}: swap them")
    days = sessions_between(first, last)
    if not days:
        raise SimulatorSetupError(f"no NYSE session between {first} and {last}: pick trading days")
    return days


def replay_source(data_dir: Path, days: Sequence[date], symbols: Sequence[str]) -> BarSource:
    if not (data_dir / "intraday").is_dir():
        raise SimulatorSetupError(
            f"--sim-data {data_dir}: no intraday/ directory there: point it at the shared data"
        )
    source = CsvBarSource(data_dir)  # every symbol: history for symbols not traded, as at IB
    for day in days:
        if not any(day in source.sessions(s) for s in symbols):
            raise SimulatorSetupError(
                f"--sim-date {day}: none of {', '.join(symbols)} has intraday data that day in "
                f"{data_dir}: pick a date present under intraday/<SYM>/"
            )
    return source


def synthetic_source(seed: int, days: Sequence[date], symbols: Sequence[str], *,
                     real_tickers_only: bool = False) -> SyntheticMarket:
    """The seeded synthetic days (and their history). `real_tickers_only`: the simulator's
    market, which knows real tickers only (sim/market/tickers.py), so a watchlist typo is
    unknown to it, as to IB, and the bot stops on it; a backtest may trade made-up names."""
    history = previous_sessions(days[0], SYNTHETIC_HISTORY_SESSIONS)
    return SyntheticMarket(seed, symbols, [*history, *days],
                           universe=known_tickers() if real_tickers_only else None)


def start_simulator(
    symbols: Sequence[str],
    *,
    day: date | None = None,
    days: Sequence[date] | None = None,
    speed: float | None,
    data_dir: Path | None = None,
    seed: int = 7,
    cash: float = 100_000.0,
    skip_nights: bool = True,
    state_path: Path | None = None,
    second_account: str | None = None,
    second_positions: Mapping[str, float] | None = None,
    master_client_id: int | None = None,
    realism: Realism | None = None,
    simulator_id: str | None = None,
) -> SimulatorHandle:
    """A running simulator replaying `days` (or the one `day`; CSV when `data_dir`, else
    synthetic) on a free port. `speed=None` holds its clock until `set_speed`. `realism`: IB's
    timing (`sim/tws/realism.py`); off by default, so a replay answers at once."""
    plan = sorted(set(days or ([day] if day else [])))
    if not plan:
        raise SimulatorSetupError("no simulated day: pass day= or days=")
    for d in plan:
        if not is_session(d):
            raise SimulatorSetupError(f"--sim-date {d}: not an NYSE session (weekend or holiday): pick a trading day")
    source = (replay_source(data_dir, plan, symbols) if data_dir
              else synthetic_source(seed, plan, symbols, real_tickers_only=True))
    sim = GatewaySimulator.build(
        source, plan[0], symbols, days=plan, speed=speed, start=session_bounds(plan[0])[0] - LEAD,
        cash=cash, port=0, skip_nights=skip_nights, lead=LEAD, state_path=state_path,
        second_account=second_account, second_positions=second_positions,
        master_client_id=master_client_id, realism=realism, simulator_id=simulator_id,
    )
    return SimulatorHandle(sim.start_in_thread(), sim)


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
    simulator_id: str | None = None,
) -> SimulatorHandle:
    """A running simulator for the weekly bot: `day` replayed from the daily files as minute
    paths (real minutes where they agree), or a seeded synthetic day; same start as above."""
    source: BarSource = (
        daily_source(data_dir, day, symbols) if data_dir
        else synthetic_source(seed, [day], symbols, real_tickers_only=True)
    )
    sim = GatewaySimulator.build(
        source, day, symbols, speed=speed, start=session_bounds(day)[0] - LEAD, cash=cash, port=0,
        simulator_id=simulator_id,
    )
    return SimulatorHandle(sim.start_in_thread(), sim)
