"""One weekly cycle, start to report: screen -> analyse -> targets -> sells, then buys -> report.

One cycle per NY trading day, remembered in the history DB (`weekly_cycles`, `weekly_targets`):
- a new day: screen and analyse, fix the targets (stored with the decision per name), trade;
- a cycle found `trading` (the bot stopped mid-rebalance): the stored targets are completed,
  nothing is re-analysed, orders still working at the broker are waited for, not re-sent;
- a cycle found `done` (a second --once, or an --interval re-check): finish what the cycle left
  unfilled, and rebalance names that were inside the band only if they have drifted out of it
  since; a name already traded to its target is not traded again for the same target.
The market must be open to trade; a cycle outside the session analyses and reports the orders it
would send ("market closed") and sends nothing. `--dry-run` does the same any time and writes
nothing to the DB. Each agent runs in its own `agent.<name>` span under one `weekly.cycle` span.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from evaluation.llm import LLMEndpoint
from observability import tracing
from observability.alerts import events as alerts
from observability.alerts.notifier import Notifier
from observability.history import HistoryDB
from observability.schema import WeeklyCycleRow, WeeklyTargetRow
from observability.tracing import SpanNames
from trade.broker import Broker, BrokerError
from trade.calendar import MarketCalendar, Session
from trade.models import Side
from trade.portfolio import monitor
from trade.portfolio.analyst import Analysis, analyse
from trade.portfolio.book import BOOK, BOT, BookState, WeeklyBook
from trade.portfolio.decision import Decision, decide, select
from trade.portfolio.execution import OrderDesk, wait_until
from trade.portfolio.fmp import FmpClient, FmpError
from trade.portfolio.manager import (
    PlannedOrder,
    Target,
    band_verdict,
    fit_to_cash,
    orders_for,
)
from trade.portfolio.screener import NoCandidates, screen
from trade.portfolio.universe import Universe

log = logging.getLogger(__name__)

NY = ZoneInfo("America/New_York")
CYCLE_SPAN = "weekly.cycle"
TRADE_AFTER_OPEN = timedelta(minutes=1)  # a completed minute bar gives the reference price


class CycleFailed(Exception):
    """The cycle stopped before any order (FMP failed, nothing to hold, ...); one line."""


LLMChooser = Callable[[bool], tuple[LLMEndpoint | None, str]]  # market open? -> endpoint, why not
FmpFactory = Callable[[], FmpClient | None]


@dataclass(slots=True)
class CycleConfig:
    universe: Universe
    allocation: float
    reports_dir: Path
    choose_llm: LLMChooser
    fmp: FmpFactory = lambda: None
    dry_run: bool = False
    # the owner's phone (docs/alerts.md); without endpoints, alerts go to the log only
    alerts: Notifier = field(default_factory=Notifier)


@dataclass(slots=True)
class CycleOutcome:
    day: date
    status: str  # done | market closed | dry run | interrupted | nothing to re-check
    report_path: Path | None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        stats = self.report.get("stats", {})
        return (f"{self.day}: {self.status}; {stats.get('orders_sent', 0)} orders, "
                f"{stats.get('fills', 0)} fills, turnover {stats.get('turnover') or 0:.1%}; "
                f"report {self.report_path}")


class WeeklyCycle:
    """Runs cycles for one process; registers its broker handlers once."""

    def __init__(self, broker: Broker, db: HistoryDB, config: CycleConfig,
                 calendar: MarketCalendar | None = None,
                 stop: asyncio.Event | None = None) -> None:
        self.broker = broker
        self.db = db
        self.config = config
        self.rules = config.universe.rules
        self.calendar = calendar or MarketCalendar()
        self.stop = stop or asyncio.Event()
        self.book = WeeklyBook(db, broker, dry_run=config.dry_run)
        self.desk = OrderDesk(broker, db, self.book, self.broker.now().date())
        self._qualified: set[str] = set()
        self._sent_this_run = 0  # orders this run sent (a re-check alerts only when it traded)

    # == the cycle ==========================================================================
    async def run(self, recheck: bool = False) -> CycleOutcome:
        """A cycle (or a re-check) for today; raises `CycleFailed` before any order on bad data."""
        now = self.broker.now()
        day = now.astimezone(NY).date()
        self.desk.day = day
        self._sent_this_run = 0
        session = self.calendar.session(day) if self.calendar.is_trading_day(day) else None
        with tracing.span(CYCLE_SPAN, attrs={"weekly.date": day.isoformat(),
                                             "weekly.dry_run": self.config.dry_run,
                                             "weekly.recheck": recheck}, book=BOOK):
            try:
                outcome = await self._run(day, now, session, recheck)
            except CycleFailed as exc:
                self.config.alerts.notify(alerts.weekly_rebalance(
                    alerts.WEEKLY, day, f"failed before any order: {exc}", 0, 0))
                raise
        self._alert_outcome(outcome, recheck)
        return outcome

    def _alert_outcome(self, outcome: CycleOutcome, recheck: bool) -> None:
        """One info alert per cycle with the day's orders and fills; a re-check (an --interval
        one, or a second run the same day) only when it sent orders itself."""
        again = recheck or "re-check of today's cycle" in outcome.report.get("notes", [])
        if outcome.status == "nothing to re-check" or (again and not self._sent_this_run):
            return
        stats = outcome.report.get("stats", {})
        planned = sum(1 for o in outcome.report.get("orders", []) if not o.get("order_ref"))
        status = outcome.status + (f" ({planned} orders not sent)" if planned else "")
        if again:
            status += f" (re-check sent {self._sent_this_run})"
        self.config.alerts.notify(alerts.weekly_rebalance(
            alerts.WEEKLY, outcome.day, status, int(stats.get("orders_sent") or 0),
            int(stats.get("fills") or 0), stats.get("turnover"),
            str(outcome.report_path) if outcome.report_path else None))

    async def _run(self, day: date, started: datetime, session: Session | None,
                   recheck: bool) -> CycleOutcome:
        dry = self.config.dry_run
        state = await self.book.sync(day)
        stored = None if dry else self.db.weekly_cycle(day)
        if stored is not None and stored.status == "failed":
            stored = None
        tradeable = session is not None and started < session.close and not dry
        notes: list[str] = []
        if stored is None:
            if recheck:
                return CycleOutcome(day, "nothing to re-check", None)
            analysis, screening = await self._analyse(day, session, started)
            if tradeable and session is not None:
                if not await wait_until(self.broker, session.open + TRADE_AFTER_OPEN, self.stop):
                    return CycleOutcome(day, "interrupted", None)
                state = await self.book.sync(day)  # the book as it is at the open
            with tracing.span(SpanNames.agent("manager"), attrs={"weekly.step": "targets"}):
                budget, decision, prices = await self._targets(analysis, state)
            targets = decision.targets
            record = {"screener": screening, **analysis.as_dict(), **decision.as_dict(),
                      "portfolio_risk": decision.risk.as_dict() if decision.risk else None}
            before = monitor.book_snapshot(state.held, state.avg_cost, prices, budget)
            if tradeable:
                self.db.record_weekly_cycle(self._cycle_row(day, started, budget, analysis,
                                                            record, before), [
                    WeeklyTargetRow(day, t.symbol, t.weight, t.qty, t.ref_price, t.planned,
                                    t.reason) for t in targets])
        else:
            record, budget = dict(stored.analysis), stored.budget
            before = dict(stored.book_before)
            targets = [Target(t.symbol, t.weight, t.qty, t.ref_price, t.planned, t.reason)
                       for t in self.db.weekly_targets(day)]
            if stored.status == "done":
                recheck = True
            notes.append("re-check of today's cycle" if recheck else
                         "resumed today's unfinished cycle with its stored targets")
            prices = await self._prices([t.symbol for t in targets] + list(state.held),
                                        {t.symbol: t.ref_price for t in targets})
            if recheck and tradeable:
                targets = self._replan_drifted(day, targets, state, prices, budget, notes)
        if not tradeable:
            status = "dry run" if dry else "market closed"
            if not dry:
                notes.append("market closed: no orders sent" + (
                    f"; next session {self.calendar.next_session(day).date}" if session is None
                    or started >= session.close else ""))
            planned = self._would_send(targets, state, prices)
            return self._finish(day, status, started, record, budget, targets, before, state,
                                prices, notes, planned)
        assert session is not None  # tradeable
        await self._trade(day, session, targets, prices, notes)
        if self.stop.is_set():
            status = "interrupted"
        else:
            status = "done"
        state = await self.book.sync(day)
        return self._finish(day, status, started, record, budget, targets, before, state,
                            prices, notes, [])

    # == agents ==============================================================================
    async def _analyse(self, day: date, session: Session | None,
                       now: datetime) -> tuple[Analysis, dict[str, Any]]:
        try:
            with tracing.span(SpanNames.agent("screener")):
                fmp = self.config.fmp()
                if fmp is None:
                    screened = await screen(self.broker, self.config.universe.symbols,
                                            self.rules, day)
                else:
                    async with fmp:
                        screened = await screen(self.broker, self.config.universe.symbols,
                                                self.rules, day, fmp)
            self._qualified |= {c.symbol for c in screened.candidates}
        except (FmpError, NoCandidates) as exc:
            if isinstance(exc, FmpError):
                self.config.alerts.notify(alerts.fmp_unavailable(
                    alerts.WEEKLY, str(exc), "the weekly cycle stopped before any order"))
            self._record_failure(day, now, str(exc))
            raise CycleFailed(str(exc)) from None
        with tracing.span(SpanNames.agent("analyst")) as span:
            open_now = session is not None and session.contains(now)
            endpoint, why = self.config.choose_llm(open_now)
            analysis = await analyse(screened.candidates, self.rules, endpoint, why,
                                     seed=int(day.strftime("%Y%m%d")))
            tracing.set_attrs(span, attrs={"llm.model": analysis.llm.model,
                                           "llm.status": analysis.llm.status})
        if analysis.llm.status.startswith("error"):  # configured, asked, and no usable answer
            self.config.alerts.notify(alerts.llm_unavailable(
                alerts.WEEKLY, "rating the weekly candidates", analysis.llm.status,
                "the ranking uses the quantitative score only"))
        return analysis, screened.as_dict()

    async def _targets(self, analysis: Analysis, state: BookState
                       ) -> tuple[float, Decision, dict[str, float]]:
        """The manager's decision (`decision.py`, shared with the weekly backtest)."""
        account = await self.broker.account()
        budget = self.config.allocation * account.net_liquidation
        selection = select(analysis, state.held, self.rules)
        closes = {a.symbol: a.last_close for a in analysis.assessments}
        prices = await self._prices(list(selection.weights) + list(state.held), closes)
        decision = decide(selection, analysis, state.held, prices, budget, self.rules)
        for target in decision.targets:
            log.info("target %s: weight %.1f%%, %d shares; %s: %s", target.symbol,
                     target.weight * 100, target.qty, target.planned or "leave", target.reason)
        cost = decision.expected
        log.info("manager: expected turnover %.1f%% of the budget, cost %.2f (commission %.2f, "
                 "slippage %.2f)", cost.turnover * 100, cost.total, cost.commission, cost.slippage)
        return budget, decision, prices

    def _replan_drifted(self, day: date, targets: list[Target], state: BookState,
                        prices: Mapping[str, float], budget: float, notes: list[str]
                        ) -> list[Target]:
        """Re-check: a name left alone by the cycle that has since drifted out of the band is
        planned now (to its target weight at today's price); planned names keep their plan."""
        out = []
        for target in targets:
            price = prices.get(target.symbol, target.ref_price)
            have = state.held.get(target.symbol, 0)
            if not target.planned:
                outside, why = band_verdict(target.weight, have * price / budget, self.rules)
                qty = int(target.weight * budget // price) if target.weight > 0 else 0
                if outside and qty != have and (target.weight == 0 or abs(qty - have) * price
                                                >= self.rules.min_order_value):
                    target = Target(target.symbol, target.weight, qty, price,
                                    Side.BUY.value if qty > have else Side.SELL.value,
                                    f"re-check: {why}")
                    self.db.update_weekly_target(WeeklyTargetRow(
                        day, target.symbol, target.weight, target.qty, target.ref_price,
                        target.planned, target.reason))
                    notes.append(f"{target.symbol}: {target.reason}")
            out.append(target)
        return out

    async def _trade(self, day: date, session: Session, targets: Sequence[Target],
                     prices: Mapping[str, float], notes: list[str]) -> None:
        """Sells first and settled (their cash funds the buys), then buys; nothing is sent once
        the session has closed (a DAY order would only expire)."""
        timeout = timedelta(minutes=self.rules.order_timeout_minutes)
        with tracing.span(SpanNames.agent("manager"), attrs={"weekly.step": "orders"}):
            for side in (Side.SELL, Side.BUY):
                if self.stop.is_set():
                    return
                if self.broker.now() >= session.close:
                    notes.append(f"the session closed before the {side.value.lower()} orders "
                                 "went out: none sent (a re-check or the next cycle completes "
                                 "the targets)")
                    return
                state = await self.book.sync(day)
                # orders sent before a restart and still working count as pending: only the
                # rest of the gap is sent now, and all of them settle together
                waiting = {o.order_ref: o.qty for o in state.working if o.side is side}
                if waiting:
                    notes.append(f"{len(waiting)} {side.value.lower()} order(s) from before a "
                                 "restart still working: waited for, not re-sent")
                orders = orders_for(side, targets, state.held, state.working_qty(side.value),
                                    prices, self.rules, state.sellable)
                if side is Side.BUY and orders:
                    account = await self.broker.account()
                    committed = sum(o.remaining * (o.limit_price or 0.0) for o in state.working
                                    if o.side is side)
                    orders, note = fit_to_cash(orders, account.cash - committed)
                    if note:
                        notes.append(note)
                        log.warning("manager: %s", note)
                sent = await self.desk.send(orders)
                self._sent_this_run += len(sent)
                waiting.update({s.order_ref: s.order.qty for s in sent if not s.rejected})
                await self.desk.settle(waiting, timeout, self.stop)

    def _finish(self, day: date, status: str, started: datetime, record: Mapping[str, Any],
                budget: float, targets: Sequence[Target], before: Mapping[str, Any],
                state: BookState, prices: Mapping[str, float], notes: list[str],
                planned: Sequence[PlannedOrder]) -> CycleOutcome:
        with tracing.span(SpanNames.agent("monitor")):
            intents = [i for i in self.db.intents_on(day, BOOK) if i.bot == BOT]
            start_of_day = datetime(day.year, day.month, day.day, tzinfo=NY)
            executions = [e for e in self.db.executions_since(start_of_day, BOOK)
                          if e.order_ref.startswith(f"{BOT}-{day:%Y%m%d}-")]
            after = monitor.book_snapshot(state.held, state.avg_cost, prices, budget)
            reasons = {t.symbol: t.reason for t in targets}
            orders = monitor.order_rows(intents, executions, reasons)
            if planned:
                orders += [{**o.as_dict(), "order_ref": None, "state": f"not sent ({status})",
                            "filled": 0, "avg_price": None} for o in planned]
            fills = monitor.fill_rows(executions, intents, NY)
            sent = [o for o in orders if o["order_ref"]]
            report = {
                "date": day.isoformat(), "dry_run": self.config.dry_run, "status": status,
                "started_at": started.isoformat(), "ended_at": self.broker.now().isoformat(),
                "allocation": self.config.allocation, "budget": round(budget, 2),
                "universe": {"path": self.config.universe.path,
                             "symbols": list(self.config.universe.symbols)},
                "rules": self.rules.as_dict(),
                "llm": record.get("llm", {"model": "none", "status": "not run", "used": False}),
                "screener": record.get("screener", {}),
                "candidates": record.get("candidates", []),
                "thresholds": record.get("thresholds", {}),
                "portfolio_risk": record.get("portfolio_risk"),
                "membership": record.get("membership"),
                "expected_cost": record.get("expected_cost"),
                "targets": [t.as_dict() for t in targets],
                "orders": orders, "fills": fills,
                "book": {"before": dict(before), "after": after},
                "versus_targets": monitor.versus_targets(targets, after),
                "stats": monitor.figures(sent, fills, targets, before, after, budget),
                "warnings": state.warnings, "notes": notes,
            }
            path = monitor.write_report(
                monitor.report_path(self.config.reports_dir, day, self.config.dry_run), report)
            if status == "done" and not self.config.dry_run:
                self.db.set_weekly_cycle_status(day, "done", self.broker.now(), str(path))
        outcome = CycleOutcome(day, status, path, report)
        log.info("weekly cycle %s", outcome.summary)
        return outcome

    # == helpers =============================================================================
    def _would_send(self, targets: Sequence[Target], state: BookState,
                    prices: Mapping[str, float]) -> list[PlannedOrder]:
        sells = orders_for(Side.SELL, targets, state.held, {}, prices, self.rules, state.sellable)
        buys = orders_for(Side.BUY, targets, state.held, {}, prices, self.rules)
        return sells + buys

    async def _prices(self, symbols: Sequence[str], fallback: Mapping[str, float]
                      ) -> dict[str, float]:
        """Reference prices: the last completed minute today, else the last daily close."""
        wanted = sorted(set(symbols))
        unknown = [s for s in wanted if s not in self._qualified]
        if unknown:
            known = await self.broker.qualify(unknown)
            self._qualified |= {s for s, ok in known.items() if ok}
        today = self.broker.now().astimezone(NY).date()
        prices: dict[str, float] = {}
        for symbol in wanted:
            price = self.broker.last_price(symbol)
            if price is None and symbol in self._qualified:
                try:
                    # "1 D" of minutes: the session so far (or the previous one before the
                    # first bar of today, which the date filter drops)
                    bars = await self.broker.history(symbol, "1 D", "1 min")
                    today_bars = [b for b in bars if b.start.astimezone(NY).date() == today]
                    price = today_bars[-1].close if today_bars else None
                    if price is None and symbol not in fallback:
                        daily = await self.broker.history(symbol, "5 D", "1 day")
                        price = daily[-1].close if daily else None
                except BrokerError as exc:
                    log.warning("price of %s: %s", symbol, exc)
            price = price or fallback.get(symbol)
            if price is None or price <= 0:
                raise CycleFailed(f"no price for {symbol}: the broker has no recent bars for it")
            prices[symbol] = float(price)
        return prices

    def _cycle_row(self, day: date, started: datetime, budget: float, analysis: Analysis,
                   record: Mapping[str, Any], before: Mapping[str, Any]) -> WeeklyCycleRow:
        return WeeklyCycleRow(day, "trading", self.config.allocation, budget, started,
                              llm=analysis.llm.model, llm_status=analysis.llm.status,
                              analysis=dict(record), book_before=dict(before))

    def _record_failure(self, day: date, now: datetime, why: str) -> None:
        log.error("weekly cycle %s failed before any order: %s", day, why)
        if not self.config.dry_run:
            self.db.record_weekly_cycle(WeeklyCycleRow(day, "failed", self.config.allocation,
                                                       0.0, now, analysis={"error": why}), [])
