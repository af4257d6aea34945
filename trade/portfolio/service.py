"""What `main.py` runs on its one broker connection: the weekly cycle once or on its schedule,
and optionally the day trader beside it (its own book, same connection and client id).

Kept out of the entry script so the script only wires, and the orchestration (when the process
is done, how a failed cycle is reported, how the hosted day trader waits for each session) is
testable with a fake clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from evaluation.llm import LLMEndpoint
from observability.history import HistoryDB
from trade.broker import Broker
from trade.calendar import MarketCalendar
from trade.config import Settings
from trade.intraday.context import AlertSink
from trade.intraday.day_session import run_trading_day
from trade.portfolio.cycle import CycleFailed, CycleOutcome, WeeklyCycle
from trade.portfolio.execution import wait_until
from trade.portfolio.scheduler import WeeklyScheduler
from trade.portfolio.scheduling import NY, Action, DayRecord, RunPlan, ScheduleDecision
from trade.watchlist import Watchlist

log = logging.getLogger(__name__)

DAY_TRADER_LEAD = timedelta(minutes=10)  # the hosted day trader starts before each open

Report = Callable[[str], None]


def llm_env(settings: Settings) -> dict[str, str]:
    """The LLM client's variables, from the validated settings (nothing reads os.environ)."""
    env = {"DEEPSEEK_API_BASE": settings.llm_base_url, "DEEPSEEK_MODEL": settings.llm_model,
           "LOCAL_LLM_MODEL": settings.local_llm_model,
           "LLM_TIMEOUT_S": str(settings.llm_timeout_s)}
    for name, value in (("DEEPSEEK_API_KEY", settings.deepseek_api_key),
                        ("LOCAL_LLM_BASE_URL", settings.local_llm_base_url),
                        ("LOCAL_LLM_API_KEY", settings.local_llm_api_key)):
        if value:
            env[name] = value
    return env


async def one_trading_day(settings: Settings, allocation: float, watchlist: Watchlist,
                          broker: Broker, stop: asyncio.Event,
                          alerts: AlertSink | None = None) -> str:
    """One day of the hosted day trader with its own allocation (same connection, own book)."""
    day_settings = dataclasses.replace(settings, bot="day_trader", allocation=allocation)
    result = await run_trading_day(day_settings, watchlist, broker, stop, alerts=alerts)
    if result.run_log is None:
        return result.message
    log_ = result.run_log
    flat = log_.flat_at.isoformat() if log_.flat_at else "NOT CONFIRMED"
    return (f"{log_.day}: {len(log_.trades)} trades, realized P&L {log_.realized_pnl:+.2f}, "
            f"flat at {flat}; {result.message}")


def llm_chooser(env: Mapping[str, str], force_online: bool
                ) -> Callable[[bool], tuple[LLMEndpoint | None, str]]:
    """The design's LLM choice: a local OpenAI-compatible server while the market is closed,
    DeepSeek while it is open (or always with `force_online`); the reason when there is none."""
    def choose(market_open: bool) -> tuple[LLMEndpoint | None, str]:
        if market_open or force_online:
            why = "no DEEPSEEK_API_KEY set" + ("" if market_open else " (--force-online)")
            return LLMEndpoint.deepseek(env), why
        return LLMEndpoint.local(env), ("market closed and no LOCAL_LLM_BASE_URL set "
                                        "(--force-online uses DeepSeek)")

    return choose


@dataclass(slots=True)
class DayMemory:
    """What happened today for the schedule: the DB's cycle row, or (dry runs write nothing to
    the DB) what this process remembers."""

    db: HistoryDB
    dry_run: bool
    runs: dict[date, DayRecord] = field(default_factory=dict)

    def record(self, day: date) -> DayRecord:
        if not self.dry_run:
            row = self.db.weekly_cycle(day)
            if row is not None:
                return DayRecord(row.status, row.updated_time)
        return self.runs.get(day, DayRecord())

    def remember(self, day: date, status: str, end: datetime) -> None:
        self.runs[day] = DayRecord(status, end)


async def run_cycle(cycle: WeeklyCycle, memory: DayMemory, report: Report,
                    recheck: bool = False) -> CycleOutcome | None:
    """One cycle; a `CycleFailed` is one line in the log and on stdout, never a crash."""
    day = cycle.broker.now().astimezone(NY).date()
    try:
        outcome = await cycle.run(recheck=recheck)
    except CycleFailed as exc:
        memory.remember(day, "failed", cycle.broker.now())
        report(f"cycle failed before any order: {exc}")
        return None
    memory.remember(day, "done" if outcome.status in ("done", "dry run") else outcome.status,
                    cycle.broker.now())
    report(outcome.summary)
    return outcome


async def run_scheduled(cycle: WeeklyCycle, plan: RunPlan, calendar: MarketCalendar,
                        memory: DayMemory, stop: asyncio.Event, report: Report, *,
                        until: Callable[[], bool] | None = None, beat_s: float = 1.0) -> None:
    """The APScheduler heartbeat until `stop` (or until `until()` says the run is over, e.g. the
    simulated session has closed), letting a running cycle finish first."""
    async def run(decision: ScheduleDecision) -> None:
        await run_cycle(cycle, memory, report, recheck=decision.action is Action.RECHECK)

    scheduler = WeeklyScheduler(plan, calendar, cycle.broker.now, memory.record, run, beat_s)
    scheduler.start()
    try:
        while not stop.is_set():
            if until is not None and until() and not scheduler.running:
                await scheduler.beat()  # the schedule's last word (e.g. no re-check before the close)
                break
            await asyncio.sleep(min(beat_s, 0.2))
    finally:
        await scheduler.shutdown(wait_for_cycle=30.0)


async def host_day_trader(run_day: Callable[[], Awaitable[str]], broker: Broker,
                          calendar: MarketCalendar, stop: asyncio.Event, report: Report, *,
                          one_day: bool) -> None:
    """The day trader in this process: each session (from `DAY_TRADER_LEAD` before the open
    until it is flat), or only today's with `one_day` (the simulator replays one session)."""
    while not stop.is_set():
        now = broker.now()
        session = calendar.session_at_or_after(now)
        if now >= session.flatten_at:  # today's trading is over: the next session
            session = calendar.next_session(session.date)
        if now < session.open - DAY_TRADER_LEAD:
            if one_day:
                report(f"day trader: no session today; next session {session.date}")
                return
            log.info("day trader: waiting for the %s session", session.date)
            if not await wait_until(broker, session.open - DAY_TRADER_LEAD, stop, poll_s=1.0):
                return
        report(f"day trader: {await run_day()}")
        if one_day:
            return
        await wait_until(broker, session.close + timedelta(minutes=1), stop, poll_s=1.0)
