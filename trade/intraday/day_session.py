"""One trading day of the day trader, from a connected broker to the run log.

Order matters for money safety: the entry script validates local input (the watchlist) before it
connects; here a live account without `--live` is refused before anything could send an order;
symbols are qualified (an unknown one stops the bot) before trading; the trader reconciles with
the broker before the first entry; the run log is written even when the day ends early
(SIGINT/SIGTERM). The broker arrives connected, so this module never knows it is talking to IB.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from observability import tracing
from observability.history import HistoryDB
from observability.schema import DailyMetricsRow
from trade.broker import Broker
from trade.calendar import MarketCalendar
from trade.config import Settings
from trade.intraday.run_log import RunLog
from trade.intraday.trader import BOOK, IntradayTrader, TraderOptions
from trade.risk import RiskManager
from trade.watchlist import Watchlist, analyze_watchlist

log = logging.getLogger(__name__)


class StartupRefused(Exception):
    """The bot must not trade (bad input, live account without --live); one line, exit 2."""


@dataclass(frozen=True, slots=True)
class DayResult:
    run_log: RunLog | None
    log_path: str | None
    message: str


async def run_trading_day(
    settings: Settings, watchlist: Watchlist, broker: Broker, stop: asyncio.Event, variant: str = "",
    on_trader: Callable[[IntradayTrader], Awaitable[None]] | None = None,
) -> DayResult:
    """Check the account, analyse the watchlist, trade until flat; return the written run log.

    `on_trader` is awaited once the trader has started (the entry script starts the status page
    there); whatever it raises is logged and trading goes on.
    """
    assert settings.allocation is not None, "load_settings guarantees an allocation"
    db: HistoryDB | None = None
    try:
        account = await broker.account()
        if not account.is_paper and not settings.live:
            raise StartupRefused(
                f"account {account.masked_id} is a live account: pass --live to trade real money "
                "(paper account ids start with DU)"
            )
        calendar = MarketCalendar(
            flatten_minutes=settings.flatten_minutes,
            entry_cutoff_minutes=settings.entry_cutoff_minutes,
        )
        today: date = broker.now().date()
        if not calendar.is_trading_day(today):
            nxt = calendar.next_session(today)
            return DayResult(None, None, f"no NYSE session on {today}: next session {nxt.date}")
        session = calendar.session(today)
        with tracing.span("watchlist.analyze"):
            verdicts = await analyze_watchlist(broker, watchlist.symbols, params=watchlist.params)
        kept = [v for v in verdicts if v.kept]
        handle = tracing.current()
        db = HistoryDB.open(settings.db_path, tracer=handle.tracer if handle and handle.enabled else None)
        risk = RiskManager.standard(
            settings.allocation,
            n_symbols=max(len(kept), 1),
            params=settings.params,
            max_open_positions=settings.max_open_positions,
            daily_loss_pct=settings.daily_loss_cap_pct / 100.0,  # setting in %, rule in fraction
            kill_switch=settings.kill_switch_path,
        )
        run_log = RunLog(
            day=session.date,
            allocation=settings.allocation,
            params={
                "default": settings.params.as_dict(),
                **{s: watchlist.params_for(s).as_dict() for s in watchlist.symbols
                   if watchlist.params_for(s) != settings.params},
            },
            watchlist={
                "kept": [v.as_dict() for v in kept],
                "dropped": [v.as_dict() for v in verdicts if not v.kept],
            },
        )
        run_log.extra["account"] = account.masked_id
        trader = IntradayTrader(
            broker, db, session, {v.symbol: watchlist.params_for(v.symbol) for v in kept},
            risk, TraderOptions(allocation=settings.allocation, variant=variant), run_log,
        )
        await trader.start(
            warmup={v.symbol: v.bars for v in kept},
            daily_atr_pct={v.symbol: v.stats["daily_atr_pct"] for v in kept
                           if "daily_atr_pct" in v.stats},
        )
        if on_trader is not None:
            try:
                await on_trader(trader)
            except Exception:
                log.exception("started-trader hook failed; trading continues")
        stopper = asyncio.get_running_loop().create_task(_stop_on(stop, trader))
        try:
            await trader.run()
        finally:
            stopper.cancel()
        path = run_log.write(settings.logs_dir)
        _record_daily_metrics(db, session.date, variant)
        return DayResult(run_log, str(path), f"run log written to {path}")
    finally:
        if db is not None:
            db.close()


async def _stop_on(stop: asyncio.Event, trader: IntradayTrader) -> None:
    await stop.wait()
    trader.stop("signal")


def _record_daily_metrics(db: HistoryDB, day: date, variant: str) -> None:
    summary = db.daily_summary(day, book=BOOK)
    db.record_daily_metrics(DailyMetricsRow(
        trading_date=day, bot="day_trader", trades=summary.trades, wins=summary.wins,
        win_rate=summary.win_rate, total_pnl=summary.total_pnl, commissions=summary.commissions,
        max_drawdown=summary.max_drawdown, sharpe=None, profit_factor=None, variant=variant,
    ))
