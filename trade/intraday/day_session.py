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
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from evaluation import performance
from observability import tracing
from observability.alerts import events as ev
from observability.history import HistoryDB, HistoryDBError
from observability.schema import DailyMetricsRow
from trade.allocation import AllocationRegistry, Claim
from trade.broker import Broker, NotConnected
from trade.calendar import MarketCalendar, Session
from trade.config import Settings
from trade.intraday.context import AlertSink
from trade.intraday.preflight_standing import preflight_standing
from trade.intraday.run_log import RunLog, new_run_id
from trade.intraday.trader import BOOK, IntradayTrader, TraderOptions
from trade.records_routing import records_for
from trade.risk import RiskManager
from trade.startup import check_writable, refuse_live_account
from trade.watchlist import Watchlist, analyze_watchlist

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TradingDayResult:
    run_log: RunLog | None
    log_path: str | None
    message: str
    db_path: Path | None = None  # where this run's records went (trade/records_routing.py)
    logs_dir: Path | None = None
    unrecorded: int = 0  # records that never reached the DB (listed in the run log)
    reports_dir: Path | None = None


async def run_trading_day(
    settings: Settings, watchlist: Watchlist, broker: Broker, stop: asyncio.Event, variant: str = "",
    on_trader: Callable[[IntradayTrader], Awaitable[None]] | None = None,
    alerts: AlertSink | None = None,
    adopt: dict[str, int | None] | None = None,
) -> TradingDayResult:
    """Check the account, analyse the watchlist, trade until flat; return the written run log.

    `on_trader` is awaited once the trader has started (the entry script starts the status page
    there); whatever it raises is logged and trading goes on.
    """
    assert settings.allocation is not None, "load_settings guarantees an allocation"
    db: HistoryDB | None = None
    claim: Claim | None = None
    try:
        account = await through_reconnects(broker.account, "reading the account")
        refuse_live_account(account, settings.live)
        if not account.simulated:  # two processes may not each take 0.9 of one account
            claim = AllocationRegistry(settings.logs_dir).claim(
                account.account_id, "day trader", settings.allocation)
        calendar = MarketCalendar(
            flatten_minutes=settings.flatten_minutes,
            entry_cutoff_minutes=settings.entry_cutoff_minutes,
        )
        today: date = broker.now().date()
        if not calendar.is_trading_day(today):
            nxt = calendar.next_session(today)
            return TradingDayResult(None, None, f"no NYSE session on {today}: next session {nxt.date}")
        session = calendar.session(today)
        records = records_for(settings, account)  # one rule for every entry point
        db_path, logs_dir = records.db_path, records.logs_dir
        # the server's clock read afresh: the estimate runs on at 1x while a simulator holds
        # its clock for the start, and a start of more than a second named the run 09:25:01
        run_id = new_run_id(session.date, await broker.server_now())
        with tracing.span("watchlist.analyze"):
            verdicts = await through_reconnects(
                lambda: analyze_watchlist(broker, watchlist.symbols, params=watchlist.params),
                "the watchlist analysis")
        kept = [v for v in verdicts if v.kept]
        log.info("run %s: %s", run_id, records.describe())
        # every place the run will write, checked before the first order: a logs/ folder found
        # unwritable at the end of a day would lose its run log
        check_writable({"the run log's folder (LOGS_DIR)": logs_dir,
                        "the reports folder (REPORTS_DIR)": records.reports_dir})
        preflight = preflight_standing(logs_dir, account)  # the flatten's release, or its fallback
        log.info("%s", preflight.line)
        handle = tracing.current()
        db = HistoryDB.open(db_path, tracer=handle.tracer if handle and handle.enabled else None)
        risk = RiskManager.standard(
            settings.allocation,
            n_symbols=max(len(kept), 1),
            params=settings.params,
            max_open_positions=settings.max_open_positions,
            daily_loss_pct=settings.daily_loss_cap_pct / 100.0,  # setting in %, rule in fraction
            kill_switch=settings.kill_switch_path,
        )
        run_log = RunLog(
            run_id=run_id,
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
        run_log.extra["preflight"] = preflight.as_dict()
        if alerts is not None:
            alerts.notify(ev.started(ev.DAY_TRADER, account.account_id, settings.allocation,
                                     paper=account.is_paper, kept=[v.symbol for v in kept],
                                     dropped=[v.symbol for v in verdicts if not v.kept],
                                     at=broker.now()))
        trader = IntradayTrader(
            broker, db, session, {v.symbol: watchlist.params_for(v.symbol) for v in kept},
            risk, TraderOptions(allocation=settings.allocation, variant=variant,
                                release_backstop=preflight.release_backstop,
                                adopt=dict(adopt or {}),
                                unprotected_alert_s=settings.alert_unprotected_s,
                                unreachable_alert_s=settings.alert_unreachable_s), run_log,
            alerts=alerts,
        )
        await through_reconnects(lambda: trader.start(
            warmup={v.symbol: v.bars for v in kept},
            daily_atr_pct={v.symbol: v.stats["daily_atr_pct"] for v in kept
                           if "daily_atr_pct" in v.stats},
        ), "the trader's start (sync with the broker)")
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
        path = _write_run_log(run_log, logs_dir)
        _record_run_metrics(db, session, variant, run_log, trader.entries.day_start_equity,
                            settings.allocation)
        lost = len(run_log.extra.get("unrecorded", []))
        return TradingDayResult(run_log, str(path), f"run log written to {path}", db_path, logs_dir,
                                lost, reports_dir=records.reports_dir)
    finally:
        if db is not None:
            db.close()
        if claim is not None:
            claim.release()


def _write_run_log(run_log: RunLog, logs_dir: Path) -> Path:
    """The run log where it belongs or, if that fails at the end of the day (a full disk),
    in the temporary folder, saying so: the day's record is never lost silently."""
    try:
        return run_log.write(logs_dir)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / "ib-trading-run-logs"
        path = run_log.write(fallback)
        log.error("the run log could not be written to %s (%s): written to %s instead",
                  logs_dir, exc, path)
        return path


T = TypeVar("T")
RETRY_FOR_S = 300.0  # how long start-up waits for a Gateway that dropped the connection


async def through_reconnects(step: Callable[[], Awaitable[T]], what: str) -> T:
    """`step`, retried while the connection is down (IBConnection reconnects on its own): a
    Gateway restart during start-up — a restarted bot holding positions, say — must delay the
    bot, not kill it with a traceback."""
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + RETRY_FOR_S, 0.5
    while True:
        try:
            return await step()
        except (ConnectionError, TimeoutError, NotConnected) as exc:
            if loop.time() >= deadline:
                raise
            log.warning("%s interrupted (%s: %s); again in %.1fs, once the Gateway is back",
                        what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def _stop_on(stop: asyncio.Event, trader: IntradayTrader) -> None:
    await stop.wait()
    trader.stop("signal")


SHARPE_SESSIONS = 20


def _record_run_metrics(db: HistoryDB, session: Session, variant: str, run_log: RunLog,
                        starting_equity: float | None, allocation: float) -> None:
    """This run's row in `daily_metrics` (keyed by its run id, so a second run of the same day
    never adds into the first's): its trades' figures (P&L net of commissions, as the run log
    has it), profit factor, and the trailing 20-session Sharpe of the bot's daily net P&L
    including today (a single session has no Sharpe of its own; null below two sessions)."""
    try:
        day = session.date
        calendar = MarketCalendar()
        first = day
        for _ in range(SHARPE_SESSIONS - 1):
            first = calendar.previous_session(first).date
        records = performance.trade_records(db, first, day, book=BOOK)
        own = [r for r in records if r.trading_date == day]
        run_rows = [t for t in db.trades_on(day, book=BOOK) if t.run_id == run_log.run_id]
        equity = starting_equity or 100_000.0
        window = [s.date for s in calendar.sessions_between(first, day)]
        trailing = performance.compute_metrics(
            records, performance.daily_pnl_series(records, window), equity, allocation)
        run = performance.compute_metrics(
            [performance.TradeRecord.from_row(t) for t in run_rows], [(day, sum(
                t.net_pnl for t in run_rows))], equity, allocation)
        db.record_daily_metrics(DailyMetricsRow(
            trading_date=day, bot="day_trader", run_id=run_log.run_id, trades=run.trades,
            wins=run.wins, win_rate=run.win_rate or 0.0, total_pnl=round(run.net_pnl, 6),
            commissions=round(run.commissions, 6), max_drawdown=round(run.max_drawdown, 6),
            sharpe=trailing.sharpe, profit_factor=run.profit_factor, variant=variant,
            extra={"sharpe_window_sessions": len(window), "day_trades": len(own),
                   **run.as_dict()},
        ))
    except HistoryDBError as exc:
        log.error("this run's daily metrics were not recorded: %s", exc)

