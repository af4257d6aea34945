"""What one chaos session replays and which faults hit it, when: seeded, so a seed reproduces.

A session is a real shared day (several watchlist symbols that have intraday data that day) that
the bot joins in the afternoon (the morning adds trades, not new fault interactions), with a
random schedule of faults in market time, about a third of them packed around the flatten time
and the close — where a fault does the most harm. Conditions that hold for the whole session
(a second account under the login holding watchlist symbols, shares the weekly book owns, the
owner's own holdings, yesterday's leftover of the bot in a symbol off today's watchlist) are
faults too: the bot must never touch the shares that are not its own, and must protect and
flatten the ones that are.

Where IB's behaviour is unknown, each session draws a variant of the simulator's timing model
(`realism`, sim/tws/realism.py): a bracket's children working for a partial parent fill or held
until it completes; a modification releasing a held order allowed, or refused with 201 or 105.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from typing import Any


class Fault(StrEnum):
    GATEWAY_RESTART = "gateway_restart"  # every socket dropped, connections refused for N s
    CONNECTIVITY = "connectivity"  # 1100, then 1101 (data lost) or 1102 after N s
    REJECT_ENTRY = "reject_entry"  # the next entry (bracket parent) rejected with 201
    REJECT_CHILD = "reject_child"  # the next child order (a bracket exit) rejected with 201
    REJECT_STOP = "reject_stop"  # the next stop order (bracket or protective) rejected
    PARTIAL_FILL = "partial_fill"  # the next fill of a parent or of a child only partly fills
    CANCEL_FROM_TWS = "cancel_from_tws"  # a working exit cancelled by a person in TWS
    DB_LOCK = "db_lock"  # the bot's history DB write-locked by another process for N s
    KILL_RESTART = "kill_restart"  # SIGKILL the bot, restart it (same DB, an empty DB, late)
    CANCEL_ALL = "cancel_all"  # TWS "Cancel all": every working order of the account
    MANUAL_SALE = "manual_sale"  # a person sells part of the bot's position from another client
    WEEKLY_UNBOOKED = "weekly_unbooked"  # a weekly fill at the broker, not yet in the weekly book
    RESTART_OTHER_CLIENT = "restart_other_client"  # the bot restarted under another --client-id
    SECOND_ACCOUNT = "second_account"  # a linked account holding watchlist symbols
    OTHER_BOOK = "other_book"  # shares of a watchlist symbol the weekly book owns
    OWNER_HOLDINGS = "owner_holdings"  # the owner's own shares of watchlist symbols, in no book
    LEFTOVER_OFF_WATCHLIST = "leftover_off_watchlist"  # yesterday's leftover, off today's list


TIMED = (Fault.GATEWAY_RESTART, Fault.CONNECTIVITY, Fault.REJECT_ENTRY, Fault.REJECT_CHILD,
         Fault.REJECT_STOP, Fault.PARTIAL_FILL, Fault.CANCEL_FROM_TWS, Fault.DB_LOCK,
         Fault.KILL_RESTART, Fault.CANCEL_ALL, Fault.MANUAL_SALE, Fault.WEEKLY_UNBOOKED,
         Fault.RESTART_OTHER_CLIENT)
SESSION_WIDE = (Fault.SECOND_ACCOUNT, Fault.OTHER_BOOK, Fault.OWNER_HOLDINGS,
                Fault.LEFTOVER_OFF_WATCHLIST)
LEGACY = frozenset({Fault.GATEWAY_RESTART, Fault.CONNECTIVITY, Fault.REJECT_ENTRY,
                    Fault.REJECT_CHILD, Fault.REJECT_STOP, Fault.PARTIAL_FILL,
                    Fault.CANCEL_FROM_TWS, Fault.DB_LOCK, Fault.KILL_RESTART,
                    Fault.SECOND_ACCOUNT, Fault.OTHER_BOOK})  # the kinds before issue 20

# real sessions of the shared data with many symbols that day (checked by the tests)
DAYS_2026 = [date(2026, 1, d) for d in (22, 23, 26, 27, 28, 29, 30)] + [
    date(2026, 2, d) for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 17, 18, 19, 20, 23, 24, 25, 26, 27)]
SYMBOLS_2026 = ("NVDA", "META", "QQQ", "SMH", "SOXL", "COIN", "IONQ", "SPY", "AFRM", "MRNA")
DAYS_2019 = [date(2019, 2, d) for d in (11, 12, 13, 14)]
SYMBOLS_2019 = ("AAPL", "AMZN", "MSFT", "MU", "QQQ", "SPY", "TSLA", "BAC")

SECOND_ACCOUNT_ID = "DU7654321"


@dataclass(frozen=True, slots=True)
class FaultEvent:
    at: time  # market time (America/New_York) the fault fires
    kind: Fault
    args: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.args.items()))
        return f"{self.at:%H:%M:%S} {self.kind.value}" + (f"({extra})" if extra else "")


@dataclass(frozen=True, slots=True)
class SessionSetup:
    """Everything one seed needs: the day, the watchlist, who else holds what, the faults."""

    name: str
    day: date
    symbols: tuple[str, ...]
    start: time  # market time the clock starts at (the bot joins then)
    events: tuple[FaultEvent, ...]
    second_account: dict[str, int] = field(default_factory=dict)  # symbol -> shares held there
    weekly: dict[str, int] = field(default_factory=dict)  # symbol -> shares the weekly book owns
    params: dict[str, Any] = field(default_factory=dict)  # watchlist overrides for every symbol
    owner: dict[str, int] = field(default_factory=dict)  # symbol -> the owner's own shares
    leftover: dict[str, int] = field(default_factory=dict)  # off-watchlist symbol -> the bot's
    realism: dict[str, Any] = field(default_factory=dict)  # the timing model's drawn variants

    @property
    def faults(self) -> list[Fault]:
        """Every fault of the session, the session-wide conditions included."""
        kinds = [e.kind for e in self.events]
        for kind, present in ((Fault.SECOND_ACCOUNT, self.second_account),
                              (Fault.OTHER_BOOK, self.weekly), (Fault.OWNER_HOLDINGS, self.owner),
                              (Fault.LEFTOVER_OFF_WATCHLIST, self.leftover)):
            if present:
                kinds.append(kind)
        return kinds

    @property
    def replayed(self) -> tuple[str, ...]:
        """The symbols the simulator replays: the watchlist and any leftover off it."""
        return (*self.symbols, *(s for s in self.leftover if s not in self.symbols))


BASE_PARAMS = {"atr_timeframe": "1 min", "atr_min_pct": 0.001, "stop_loss": 0.005}


def _time(seconds: int) -> time:
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def random_session(seed: int, allowed: frozenset[Fault] | None = None) -> SessionSetup:
    """The session of `seed`: a day, 3-5 symbols, and 3-6 random faults (of `allowed` kinds)."""
    rng = random.Random(f"chaos:{seed}")
    allowed = allowed or frozenset(Fault)
    pool: tuple[str, ...]
    if rng.random() < 0.8:
        day, pool = rng.choice(DAYS_2026), SYMBOLS_2026
    else:
        day, pool = rng.choice(DAYS_2019), SYMBOLS_2019
    symbols = tuple(rng.sample(pool, rng.randint(3, 5)))
    start_s = rng.randint(13 * 3600, 14 * 3600 + 30 * 60)
    timed = [k for k in TIMED if k in allowed]
    events: list[FaultEvent] = []
    for _ in range(rng.randint(3, 6) if timed else 0):
        kind = rng.choice(timed)
        if rng.random() < 0.35:  # around the flatten (15:55) and the close (16:00)
            at_s = rng.randint(15 * 3600 + 53 * 60, 16 * 3600 + 60)
        else:
            at_s = rng.randint(start_s + 120, 15 * 3600 + 58 * 60)
        events.append(FaultEvent(_time(at_s), kind, _args(rng, kind, at_s)))
    events.sort(key=lambda e: e.at)
    second = ({s: rng.choice((10, 25, 50)) for s in rng.sample(symbols, 2)}
              if Fault.SECOND_ACCOUNT in allowed and rng.random() < 0.3 else {})
    weekly = ({rng.choice(symbols): rng.choice((5, 15, 40))}
              if Fault.OTHER_BOOK in allowed and rng.random() < 0.3 else {})
    more = random.Random(f"chaos-ownership:{seed}")  # drawn apart: the older draws stay as they were
    owner = ({s: more.choice((10, 30, 100)) for s in more.sample(symbols, more.randint(1, 2))}
             if Fault.OWNER_HOLDINGS in allowed and more.random() < 0.3 else {})
    off_list = [s for s in pool if s not in symbols]
    leftover = ({more.choice(off_list): more.choice((10, 20, 40))}
                if Fault.LEFTOVER_OFF_WATCHLIST in allowed and more.random() < 0.25 else {})
    return SessionSetup(f"seed-{seed}", day, symbols, _time(start_s), tuple(events), second,
                        weekly, dict(BASE_PARAMS), owner, leftover, realism_variants(seed))


def realism_variants(seed: int) -> dict[str, Any]:
    """The timing model's settings where IB's behaviour is unknown (sim/tws/realism.py items 7
    and 8), drawn per session so the campaign covers each: children of a partly filled bracket
    parent working or held; a release-by-modify of goodAfterTime allowed or refused; the 399
    warning for an order held by goodAfterTime sent or not."""
    rng = random.Random(f"chaos-realism:{seed}")
    return {"children_on_partial_fill": rng.random() < 0.5,
            "release_refusal": rng.choice((0, 201, 105)),
            "held_warning": rng.random() < 0.5}


def _args(rng: random.Random, kind: Fault, at_s: int) -> dict[str, Any]:
    if kind is Fault.GATEWAY_RESTART:
        return {"refuse_s": round(rng.uniform(0.3, 4.0), 1)}
    if kind is Fault.CONNECTIVITY:
        return {"for_s": round(rng.uniform(0.1, 1.5), 1), "data_kept": rng.random() < 0.5}
    if kind is Fault.PARTIAL_FILL:
        return {"role": rng.choice(("parent", "child")), "fraction": rng.choice((0.3, 0.5, 0.7))}
    if kind is Fault.DB_LOCK:
        return {"for_s": round(rng.uniform(0.5, 4.0), 1)}
    if kind is Fault.KILL_RESTART:
        mode = rng.choice(("same_db", "same_db", "empty_db", "after_close"))
        return {"mode": mode, "down_s": round(rng.uniform(0.0, 2.0), 1)}
    if kind is Fault.MANUAL_SALE:
        return {"fraction": rng.choice((0.25, 0.5, 0.75))}
    if kind is Fault.WEEKLY_UNBOOKED:
        book_after = rng.choice((None, round(rng.uniform(2.0, 20.0), 1)))
        return {"qty": rng.choice((5, 15, 40)), "booked_after_s": book_after,
                "pick": round(rng.random(), 3)}  # which watchlist symbol
    if kind is Fault.RESTART_OTHER_CLIENT:
        return {"down_s": round(rng.uniform(0.0, 1.0), 1)}
    return {}


def scenario_sessions() -> dict[str, SessionSetup]:
    """The fixed schedules of issue 16 item 10: each provoked a defect in the code before it.

    - reconnect-hang: Gateway restarts while the bot's clock loop keeps asking for the server
      time (the reconnect's own request was overwritten and never answered);
    - bars-after-restart: a long refusal makes the data stale, so the health check
      re-subscribes; bars must reach the trader again and the day end flat;
    - rejected-entry-legs: every entry of the morning rejected (the children used to stay
      working as standalone sells and later sold short);
    - reconcile-race: a 1101 reconnect while stops are filling (a tight stop on a volatile day);
    - double-drop: two Gateway restarts a second apart (reconcile and backfill died with
      "Task exception was never retrieved").
    """
    day, symbols = date(2026, 2, 10), ("NVDA", "META", "QQQ", "SMH", "SOXL")

    def at(hh: int, mm: int, ss: int = 0) -> time:
        return _time(hh * 3600 + mm * 60 + ss)

    restart = Fault.GATEWAY_RESTART
    return {
        "reconnect-hang": SessionSetup("reconnect-hang", day, symbols, at(13, 30), (
            FaultEvent(at(14, 5), restart, {"refuse_s": 1.0}),
            FaultEvent(at(14, 40), restart, {"refuse_s": 2.0}),
            FaultEvent(at(15, 20), restart, {"refuse_s": 1.0}),
            FaultEvent(at(15, 54, 30), restart, {"refuse_s": 1.5}),
        ), params=dict(BASE_PARAMS)),
        "bars-after-restart": SessionSetup("bars-after-restart", day, symbols, at(13, 30), (
            FaultEvent(at(14, 0), restart, {"refuse_s": 4.0}),
            FaultEvent(at(14, 50), restart, {"refuse_s": 4.0}),
        ), params=dict(BASE_PARAMS)),
        "rejected-entry-legs": SessionSetup("rejected-entry-legs", day, symbols, at(13, 30), tuple(
            FaultEvent(at(13, 31 + 3 * i), Fault.REJECT_ENTRY) for i in range(8)
        ), params=dict(BASE_PARAMS)),
        "reconcile-race": SessionSetup("reconcile-race", day, symbols, at(13, 30), tuple(
            FaultEvent(at(13, 40 + 10 * i), Fault.CONNECTIVITY, {"for_s": 0.2, "data_kept": False})
            for i in range(12)
        ), params={**BASE_PARAMS, "stop_loss": 0.005}),
        "double-drop": SessionSetup("double-drop", day, symbols, at(13, 30), (
            FaultEvent(at(14, 10), restart, {"refuse_s": 0.3}),
            FaultEvent(at(14, 10, 30), restart, {"refuse_s": 0.3}),
            FaultEvent(at(15, 10), restart, {"refuse_s": 0.5}),
            FaultEvent(at(15, 10, 20), restart, {"refuse_s": 0.5}),
        ), params=dict(BASE_PARAMS)),
    }
