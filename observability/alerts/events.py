"""The alert catalog: which events need a person, at which level, and their one-line wording.

An alert is read on a phone's lock screen, so each one is a short title and one line of text, built
here from typed values, never from free text the caller formats: that keeps every alert of a kind
alike, and it is the one place secrets are kept out. Account ids are cut to their last 4
characters (`mask_account`); every text also goes through `scrub_text`, which masks an account id
or an API key that reached an exception message. Money is in the account's currency, rounded.

Levels say what the owner must do:
- critical: act now (the money is at risk, or the bot is not trading as it should);
- warning: something degraded that the bot works around (batched: several in a few minutes
  become one alert);
- info: what happened (start, each round trip, the day's end, the weekly rebalance).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from observability.redaction import mask_account, scrub_text

NY = ZoneInfo("America/New_York")
DAY_TRADER = "day trader"  # who speaks: the first words after the level
WEEKLY = "weekly"
TITLE_CHARS = 80
MESSAGE_CHARS = 300


class Level(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more urgent: what a full queue keeps, what a digest lists first."""
        return _RANK[self]


_RANK = {Level.INFO: 0, Level.WARNING: 1, Level.CRITICAL: 2}


class Event(StrEnum):
    # critical
    UNPROTECTED_POSITION = "unprotected_position"
    NOT_FLAT_AT_CLOSE = "not_flat_at_close"
    GATEWAY_UNREACHABLE = "gateway_unreachable"
    LOSS_CAP_HIT = "loss_cap_hit"
    ACCOUNT_REFUSED = "account_refused"
    BOT_STOPPED = "bot_stopped"
    # warning
    RECONNECTED = "reconnected"
    MARKET_DATA_REFUSED = "market_data_refused"
    HISTORY_DB_UNWRITABLE = "history_db_unwritable"
    LLM_UNAVAILABLE = "llm_unavailable"
    FMP_UNAVAILABLE = "fmp_unavailable"
    # info
    STARTED = "started"
    ROUND_TRIP = "round_trip"
    DAY_END = "day_end"
    NIGHTLY_DECISION = "nightly_decision"
    WEEKLY_REBALANCE = "weekly_rebalance"

    @property
    def level(self) -> Level:
        return LEVELS[self]


LEVELS: dict[Event, Level] = {
    Event.UNPROTECTED_POSITION: Level.CRITICAL,
    Event.NOT_FLAT_AT_CLOSE: Level.CRITICAL,
    Event.GATEWAY_UNREACHABLE: Level.CRITICAL,
    Event.LOSS_CAP_HIT: Level.CRITICAL,
    Event.ACCOUNT_REFUSED: Level.CRITICAL,
    Event.BOT_STOPPED: Level.CRITICAL,
    Event.RECONNECTED: Level.WARNING,
    Event.MARKET_DATA_REFUSED: Level.WARNING,
    Event.HISTORY_DB_UNWRITABLE: Level.WARNING,
    Event.LLM_UNAVAILABLE: Level.WARNING,
    Event.FMP_UNAVAILABLE: Level.WARNING,
    Event.STARTED: Level.INFO,
    Event.ROUND_TRIP: Level.INFO,
    Event.DAY_END: Level.INFO,
    Event.NIGHTLY_DECISION: Level.INFO,
    Event.WEEKLY_REBALANCE: Level.INFO,
}


@dataclass(frozen=True, slots=True)
class Batching:
    """How a batched event is gathered: every alert of the event within `window_s` of the first
    becomes one alert, "<n> <plural> in <window>", listing each one's short `item`."""

    window_s: float
    plural: str


# Warnings only: a critical alert is never held back, an info alert is never merged away.
BATCHED: dict[Event, Batching] = {
    Event.RECONNECTED: Batching(300.0, "reconnects"),
    Event.MARKET_DATA_REFUSED: Batching(60.0, "market-data refusals"),
    Event.HISTORY_DB_UNWRITABLE: Batching(300.0, "history DB write failures"),
    Event.LLM_UNAVAILABLE: Batching(300.0, "LLM failures"),
    Event.FMP_UNAVAILABLE: Batching(300.0, "FMP failures"),
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing a person should know. Build it with the constructors below."""

    event: Event
    bot: str  # "day trader" or "weekly": which bot speaks
    title: str  # a few words: what happened
    message: str  # one line: the figures, and what to do when something must be done
    item: str = ""  # the short form a batch lists, e.g. "AAPL (354)"
    at: datetime | None = None  # when it happened (the bot's clock: market time in a replay)

    @property
    def level(self) -> Level:
        return self.event.level

    @property
    def headline(self) -> str:
        """`CRITICAL day trader: AAPL has no exits`: the level first, readable on a lock screen."""
        return f"{self.level.value.upper()} {self.bot}: {self.title}"

    @property
    def text(self) -> str:
        """The message line, prefixed with the event's New York time when it is known."""
        if self.at is None:
            return self.message
        return f"{_clock(self.at)} {self.message}"


def _clean(text: str, limit: int) -> str:
    """One line, no secret, at most `limit` characters."""
    line = " ".join(scrub_text(str(text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _alert(event: Event, bot: str, title: str, message: str, *, item: str = "",
           at: datetime | None = None) -> Alert:
    return Alert(event, _clean(bot, 20), _clean(title, TITLE_CHARS), _clean(message, MESSAGE_CHARS),
                 _clean(item, 60), at)


def _clock(at: datetime) -> str:
    local = at.astimezone(NY) if at.tzinfo is not None else at
    return f"{local:%H:%M} ET"


def _money(value: float) -> str:
    return f"{value:+,.2f}" if math.isfinite(value) else str(value)


def _positions(held: Mapping[str, float], limit: int = 8) -> str:
    """`AAPL +100, MSFT -50`: what is held, largest first."""
    ordered = sorted(held.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    shown = [f"{symbol} {qty:+g}" for symbol, qty in ordered[:limit]]
    if len(ordered) > limit:
        shown.append(f"and {len(ordered) - limit} more")
    return ", ".join(shown) if shown else "nothing"


def _names(symbols: Iterable[str], limit: int = 12) -> str:
    names = list(symbols)
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# == critical ====================================================================================


def unprotected_position(bot: str, symbol: str, qty: float, grace_s: float, *,
                         at: datetime | None = None) -> Alert:
    """A position the broker holds with no working exit (stop/target) past its grace period."""
    return _alert(Event.UNPROTECTED_POSITION, bot, f"{symbol} has no exits",
                  f"{symbol} {qty:+g} held with no stop or target at the broker for over "
                  f"{_duration(grace_s)}: protect or close it in TWS", item=symbol, at=at)


def not_flat_at_close(bot: str, held: Mapping[str, float], *, at: datetime | None = None) -> Alert:
    """The flatten did not leave the book flat: what is still held at the close."""
    return _alert(Event.NOT_FLAT_AT_CLOSE, bot, "not flat at the close",
                  f"still held after the flatten: {_positions(held)}: close them in TWS before "
                  "the bell or they stay overnight", at=at)


def gateway_unreachable(bot: str, down_s: float, held: Mapping[str, float], *,
                        at: datetime | None = None) -> Alert:
    """No connection to IB Gateway (or IB's servers) for `down_s` while positions are open."""
    return _alert(Event.GATEWAY_UNREACHABLE, bot, f"IB unreachable {_duration(down_s)}",
                  f"no connection to IB for {_duration(down_s)} while holding {_positions(held)}; "
                  "orders already at IB keep working, the bot cannot act: check the Gateway",
                  at=at)


def loss_cap_hit(bot: str, day_pnl: float, cap_pct: float, *, at: datetime | None = None) -> Alert:
    """The daily loss cap is reached: no new positions for the rest of the day."""
    return _alert(Event.LOSS_CAP_HIT, bot, "daily loss cap hit",
                  f"day P&L {_money(day_pnl)} reached the {cap_pct:g}% loss cap: no new positions "
                  "today", at=at)


def account_refused(bot: str, account: str | None, reason: str, *,
                    at: datetime | None = None) -> Alert:
    """The bot will not trade this account (a live account without --live, an unknown id)."""
    who = mask_account(account) if account else "the account"
    return _alert(Event.ACCOUNT_REFUSED, bot, "account refused", f"{who}: {reason}", at=at)


def bot_stopped(bot: str, error: BaseException | str, *, at: datetime | None = None) -> Alert:
    """The bot stopped on an error it could not go on from."""
    why = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    return _alert(Event.BOT_STOPPED, bot, "stopped by an error",
                  f"{why}; the bot is not running: see its log", at=at)


# == warning =====================================================================================


def reconnected(bot: str, down_s: float | None = None, *, at: datetime | None = None) -> Alert:
    """The connection to IB came back (reconnects are batched: see BATCHED)."""
    down = f" after {_duration(down_s)}" if down_s is not None else ""
    return _alert(Event.RECONNECTED, bot, "reconnected to IB", f"connection to IB restored{down}",
                  item=f"down {_duration(down_s)}" if down_s is not None else "reconnect", at=at)


def market_data_refused(bot: str, symbol: str, code: int | None, reason: str, *,
                        at: datetime | None = None) -> Alert:
    """IB refused a market-data subscription (354 not subscribed, 10089/10090/10167 ...)."""
    what = f"error {code}: " if code is not None else ""
    return _alert(Event.MARKET_DATA_REFUSED, bot, f"no market data for {symbol}",
                  f"{symbol}: IB refused its market data ({what}{reason}); the bot does not "
                  "trade it", item=f"{symbol} ({code})" if code is not None else symbol, at=at)


def history_db_unwritable(bot: str, reason: str, deferred: int, *,
                          at: datetime | None = None) -> Alert:
    """The history DB cannot be written; records are kept in memory and written later."""
    return _alert(Event.HISTORY_DB_UNWRITABLE, bot, "history DB not writable",
                  f"history DB write failed ({reason}); {deferred} records deferred, trading "
                  "goes on", item=reason[:40], at=at)


def llm_unavailable(bot: str, purpose: str, status: str, fallback: str, *,
                    at: datetime | None = None) -> Alert:
    """The LLM was needed (`purpose`) and did not answer usably; `fallback` is what decides."""
    return _alert(Event.LLM_UNAVAILABLE, bot, "LLM unavailable",
                  f"LLM {status} while {purpose}; {fallback}", item=status[:40], at=at)


def fmp_unavailable(bot: str, reason: str, consequence: str, *,
                    at: datetime | None = None) -> Alert:
    """Financial Modeling Prep was needed and failed."""
    return _alert(Event.FMP_UNAVAILABLE, bot, "FMP unavailable", f"{reason}; {consequence}",
                  item=reason[:40], at=at)


# == info ========================================================================================


def started(bot: str, account: str, allocation: float, *, paper: bool,
            kept: Sequence[str] = (), dropped: Sequence[str] = (), note: str = "",
            at: datetime | None = None) -> Alert:
    """The bot is connected and about to trade: which account (masked), how much, which names."""
    kind = "paper" if paper else "LIVE"
    parts = [f"account {mask_account(account)} ({kind}), allocation {allocation:.0%}"]
    if kept or dropped:
        parts.append(f"watchlist kept {_names(kept) or 'none'}"
                     + (f"; dropped {_names(dropped)}" if dropped else ""))
    if note:
        parts.append(note)
    return _alert(Event.STARTED, bot, "started", "; ".join(parts), at=at)


def round_trip(bot: str, symbol: str, qty: float, pnl: float, exit_reason: str, *,
               at: datetime | None = None) -> Alert:
    """A position opened and closed: its P&L and why it was closed."""
    return _alert(Event.ROUND_TRIP, bot, f"{symbol} {_money(pnl)}",
                  f"{symbol} {qty:g} shares closed ({exit_reason}): P&L {_money(pnl)}",
                  item=symbol, at=at)


def day_end(bot: str, day: date, net_pnl: float, trades: int, flat_at: datetime | None,
            report: str | None = None) -> Alert:
    """The trading day is over: the day's net P&L, how many trades, when the book was flat."""
    flat = f"flat at {_clock(flat_at)}" if flat_at is not None else "flat NOT confirmed"
    tail = f"; report {report}" if report else ""
    return _alert(Event.DAY_END, bot, f"{day}: {_money(net_pnl)}",
                  f"{day}: net P&L {_money(net_pnl)}, {trades} trades, {flat}{tail}")


def nightly_decision(bot: str, day: date, decision: str) -> Alert:
    """The nightly improvement cycle's decision, in one line."""
    return _alert(Event.NIGHTLY_DECISION, bot, f"nightly cycle {day}", decision)


def weekly_rebalance(bot: str, day: date, status: str, orders: int, fills: int,
                     turnover: float | None = None, report: str | None = None) -> Alert:
    """The weekly cycle's outcome: its orders and fills (or why it sent none)."""
    turned = f", turnover {turnover:.1%}" if turnover is not None else ""
    tail = f"; report {report}" if report else ""
    return _alert(Event.WEEKLY_REBALANCE, bot, f"rebalance {day}: {status}",
                  f"{day}: {status}; {orders} orders, {fills} fills{turned}{tail}")


def merge(alerts: Sequence[Alert], window_s: float) -> Alert:
    """Several alerts of one batched event as one: "3 reconnects in 5 min: down 12 s, ..."."""
    if len(alerts) == 1:
        return alerts[0]
    first, last = alerts[0], alerts[-1]
    plural = BATCHED[first.event].plural if first.event in BATCHED else "alerts"
    items = list(dict.fromkeys(a.item or a.title for a in alerts))
    title = f"{len(alerts)} {plural} in {_duration(window_s)}"
    return _alert(first.event, first.bot, title, f"{title}: {_names(items, 8)}; last: {last.message}",
                  item=first.item, at=last.at)
