"""The event engine: the unchanged live `IntradayTrader` over `PaperBroker`, one session at a time.

This is the reference the fast engine is proven against, so it runs the day exactly as
`trade.intraday.day_session` does (pre-market analyst with the daily ATR screen, warm-up from
the analyst's bars, risk sized over the kept symbols, the trader's own loop and flatten), with
only what a replay must fix decided here:

- **The clock.** A stepping replay clock at the session open; `run()` starts at the open, then
  the clock moves one minute at a time (orders are matched along the intra-bar path up to the
  minute, then that minute's bars are delivered, symbol by symbol in subscription order), and
  after each minute the event loop is given `SETTLE_TURNS` turns so the trader's loop and its
  jobs (exit repricing, gap backfills) finish before the market moves on.
- **The account.** The trader refreshes net liquidation and buying power at its health checks,
  every `health_interval_s` = 60 market seconds from the start of `run()` (as live). With the
  stepping clock that is every minute boundary from 09:31, after that minute's bars were
  delivered (and before bars held back by a gap backfill are decided).
- **Health.** A replay has no connection, data feed or event loop to be sick: the thresholds that
  would pause entries or re-subscribe on event-loop lag, data staleness, CPU or memory are set
  out of reach, so only market data decides. Everything else in `TraderOptions` is the default.
- **Records.** An in-memory history DB, tracing suspended, the trader's INFO log lines muted.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from evaluation.health import HealthThresholds
from observability import tracing
from observability.history import HistoryDB
from sim.backtest.config import BacktestConfig
from sim.backtest.result import DayResult, Trade
from sim.engine.exchange import MatchingEngine
from sim.market.clock import ReplayClock
from sim.market.replay import BarSource, MarketReplay
from sim.market.sessions import session_bounds
from sim.paper_broker import PaperBroker
from trade.broker import Broker
from trade.calendar import MarketCalendar, Session
from trade.intraday.context import AlertSink
from trade.intraday.ledger import RoundTrip
from trade.intraday.run_log import RunLog
from trade.intraday.trader import IntradayTrader, TraderOptions
from trade.models import Params
from trade.risk import RiskManager
from trade.watchlist import analyze_watchlist

SETTLE_TURNS = 12  # event-loop turns after each minute: the trader's loop and jobs catch up
FLATTEN_TIMEOUT_S = 60.0
HEALTH_INTERVAL_S = 60.0
_NEVER = math.inf
REPLAY_THRESHOLDS = HealthThresholds(
    stale_warning_s=_NEVER, stale_critical_s=_NEVER, loop_lag_warning_ms=_NEVER,
    loop_lag_critical_ms=_NEVER, memory_warning_mb=_NEVER, cpu_warning_pct=_NEVER,
)
_CALENDAR = MarketCalendar()


def trader_options(config: BacktestConfig, **changes: object) -> TraderOptions:
    """The trader's options for a replay (see the module docstring)."""
    options = TraderOptions(allocation=config.allocation, tick_s=0.0,
                            health_interval_s=HEALTH_INTERVAL_S, thresholds=REPLAY_THRESHOLDS)
    for name, value in changes.items():
        setattr(options, name, value)
    return options


def risk_for(config: BacktestConfig, default: Params, kept: int) -> RiskManager:
    """`RiskManager.standard` as the day session builds it (no kill switch in a replay)."""
    return RiskManager.standard(config.allocation, n_symbols=max(kept, 1), params=default,
                                max_open_positions=config.max_open_positions,
                                daily_loss_pct=config.daily_loss_pct)


def session_of(day: date) -> Session:
    return _CALENDAR.session(day)


def run_event_day(source: BarSource, day: date, symbols: Sequence[str], default: Params,
                  config: BacktestConfig,
                  overrides: Mapping[str, Params] | None = None) -> DayResult:
    """Trade one session with the live trader over the paper broker (a fresh event loop)."""
    with quiet():
        return asyncio.run(trade_event_day(source, day, symbols, default, config, overrides))


async def trade_event_day(source: BarSource, day: date, symbols: Sequence[str], default: Params,
                          config: BacktestConfig, overrides: Mapping[str, Params] | None = None,
                          options: TraderOptions | None = None,
                          alerts: AlertSink | None = None) -> DayResult:
    """`symbols` in subscription order; those without bars on `day` sit the session out (the
    day's batch); `overrides`: per-symbol params replacing `default`; `alerts`: where the
    trader's alerts go (none by default: nobody waits for a replay's)."""
    symbols = [s for s in symbols if day in source.sessions(s)]
    if not symbols:
        return DayResult(day)
    opened, _ = session_bounds(day)
    replay = MarketReplay(source, ReplayClock(opened), day, list(symbols))
    engine = MatchingEngine(replay, cash=config.equity, slippage_bps=config.slippage_bps)
    broker = PaperBroker(engine)
    own = {s: (overrides or {}).get(s, default) for s in symbols}
    return await trade_day(broker, day, symbols, own, default, config, step=broker.step_to,
                           options=options, alerts=alerts)


Step = Callable[[datetime], Awaitable[None]]
Settle = Callable[[IntradayTrader], Awaitable[None]]


async def trade_day(broker: Broker, day: date, symbols: Sequence[str], own: Mapping[str, Params],
                    default: Params, config: BacktestConfig, *, step: Step,
                    options: TraderOptions | None = None, settle: Settle | None = None,
                    alerts: AlertSink | None = None) -> DayResult:
    """The day session's sequence over any connected `broker` whose market moves by
    `await step(t)`; `await settle(trader)` (default: `SETTLE_TURNS` event-loop turns) runs
    after `run()` starts and after each minute, so the trader has reacted before the market
    moves on (the IB parity test settles on the Gateway simulator's round trips)."""
    db = HistoryDB.open(":memory:")
    try:
        verdicts = await analyze_watchlist(broker, tuple(symbols), params=dict(own))
        kept = [v for v in verdicts if v.kept]
        if not kept:
            return DayResult(day)
        session = session_of(day)
        trader = IntradayTrader(
            broker, db, session, {v.symbol: own[v.symbol] for v in kept},
            risk_for(config, default, len(kept)), options or trader_options(config),
            RunLog(day, config.allocation, {}), alerts=alerts,
        )
        await trader.start(warmup={v.symbol: v.bars for v in kept},
                           daily_atr_pct={v.symbol: v.stats["daily_atr_pct"] for v in kept
                                          if "daily_atr_pct" in v.stats})
        run = asyncio.get_running_loop().create_task(trader.run())
        settle = settle or _turns
        await settle(trader)  # run() starts at the open: health checks fall on the minutes
        now = broker.now()
        while now < session.flatten_at and not run.done():
            now = min(now.replace(second=0, microsecond=0) + timedelta(minutes=1),
                      session.flatten_at)
            await step(now)
            await settle(trader)
        run_log = await asyncio.wait_for(run, timeout=FLATTEN_TIMEOUT_S)
        trades = tuple(trade_of(trip) for trip in trader.fills.ledger.closed)
        return DayResult(day, trades, run_log.flat_at, tuple(v.symbol for v in kept))
    finally:
        db.close()


async def _turns(_trader: IntradayTrader) -> None:
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)


def trade_of(trip: RoundTrip) -> Trade:
    """A closed round trip as the backtest reports it (exact floats, the ledger's sums)."""
    gross = sum(f.qty * f.price for f in trip.exit_fills) - sum(
        f.qty * f.price for f in trip.entry_fills)
    entry_time, exit_time = trip.entry_time, trip.exit_time
    assert entry_time is not None and exit_time is not None
    return Trade(trip.symbol, trip.entry_qty, entry_time, trip.entry_price, exit_time,
                 trip.exit_price, trip.exit_reason, trip.commission, gross)


@contextmanager
def quiet() -> Iterator[None]:
    """A replay's decisions never happened: no spans, and the trader's INFO lines (thousands
    per replay) stay out of the log."""
    logger = logging.getLogger("trade")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        with tracing.suspended():
            yield
    finally:
        logger.setLevel(level)
