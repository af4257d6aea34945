"""How each fault kind is applied to a running chaos session (a mixin of `ChaosSession`).

Faults that need something to act on wait for it: a cancel from TWS or "Cancel all" for a
working order of the bot, a manual sale for a position of the bot, a restart under another
client id for the bot to be running; a weekly fill for the session to be open. They are tried
again at every step of the loop until the close, and count as injected only once they acted.

The new kinds of issue 20 act as a person or another program would, never through the bot:
- `cancel_all`: TWS "Cancel all" - every working order of the account, each owner told
  Cancelled and 202;
- `manual_sale`: a person sells part of the bot's position in TWS (client id 0, no orderRef);
  the campaign notes how many shares it took from the bot's lot (I8); never from 10 s before
  the flatten time on (`SALE_CLEAR_OF_FLATTEN`: the bot's flatten sale races it);
- `weekly_unbooked`: the weekly bot's market buy fills at the broker (client id 1, its ref) and
  reaches its book in the DB only seconds later, or not this session: foreign shares (I8);
- `restart_other_client`: the bot is killed and started under another --client-id, where it
  cannot see or manage the exits it left; it must refuse to trade, naming the old id. After it
  ends (or `WRONG_ID_S`), the campaign starts it again with the right id. Orders it placed
  under the wrong id are X3.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from observability.history import HistoryDB
from sim.chaos.bot import CLIENT_ID, BotProcess
from sim.chaos.invariants import RECONNECT_GRACE_S, RESTORE_GRACE_S
from sim.chaos.ownership import OwnershipTruth
from sim.chaos.schedule import Fault, FaultEvent
from sim.tws.faults import OrderFilter
from sim.tws.runner import GatewayThread

WRONG_ID = CLIENT_ID + 1
WRONG_ID_S = 8.0  # real seconds the bot under the wrong client id gets before it is replaced
WEEKLY_CLIENT_ID = 1
# Sells resting on foreign shares (a person just sold part of the bot's lot): a fill sells them
# at once, and the bot resizes its exits in real seconds, so those seconds run at the market's
# own pace. At the campaign's fast pace one real second was 25 market minutes and the
# take-profit won every race (seed 128).
REAL_PACE = 1.0
# real seconds the bot needs to confirm shares that appeared as foreign (its quiet window of
# 2.5 s, a confirming look, the positions' lag)
FOREIGN_SEEN_S = 4.0
# A person's sale this close to the flatten time (or after it) races the bot's own flatten
# sale: the bot sells the lot it knows, the person's shares come out of the foreign ones, and
# no bot can see a sale in the fraction of a second before its own order goes out (seed 242 at
# 3000x: a sale 0.18 real seconds before the release of the backstop). From the sale on the
# clock runs at the real pace, so a sale earlier than this leaves the bot these real seconds
# to confirm it and shrink its exits (about 4) before it flattens.
SALE_CLEAR_OF_FLATTEN = timedelta(seconds=10)
EXIT_LEGS = ("TP", "SL", "BKS")
WAITING_KINDS = (Fault.CANCEL_FROM_TWS, Fault.CANCEL_ALL, Fault.MANUAL_SALE,
                 Fault.WEEKLY_UNBOOKED, Fault.RESTART_OTHER_CLIENT)


class FaultInjection:
    """The faults of `sim/chaos/schedule.py` applied to the simulator, the bot and its DB."""

    sim: Any
    setup: Any
    result: Any
    ownership: OwnershipTruth
    close: datetime
    flatten_at: datetime
    pending: list[tuple[float, str, Any]]
    reachable_from: float
    waiting: list[FaultEvent]
    paced_by_fault: bool
    foreign_changed: tuple[float, datetime] | None  # (wall, market) the last foreign shares came
    real_pace_until: float  # wall time until which the clock runs at the real pace

    # provided by ChaosSession
    def _settle(self, grace_s: float) -> None: ...
    def _fresh_db(self, bot: BotProcess, now: datetime) -> None: ...
    def _trace(self, now: datetime, what: str) -> None: ...

    def _inject(self, gw: GatewayThread, bot: BotProcess, event: FaultEvent, now: datetime) -> bool:
        """Apply `event`; False when it has nothing to act on yet (tried again later)."""
        kind, args, sim = event.kind, event.args, self.sim
        wall = time.monotonic()
        if kind in WAITING_KINDS:
            applied = self._targeted(gw, bot, event, now)
            if not applied:
                return False
        elif kind is Fault.GATEWAY_RESTART:
            gw.call(sim.restart, args["refuse_s"])
            self.reachable_from = wall + args["refuse_s"]
            # the bot's reconnect backoff doubles from 0.5 s: it may try again up to the
            # refusal's length after the Gateway is back
            self._settle(2 * args["refuse_s"] + RECONNECT_GRACE_S)
        elif kind is Fault.CONNECTIVITY:
            gw.call(sim.connectivity_lost)
            self.pending.append((wall + args["for_s"], "restore", args["data_kept"]))
            self.reachable_from = wall + args["for_s"]
            self._settle(args["for_s"] + RESTORE_GRACE_S)
        elif kind is Fault.REJECT_ENTRY:
            gw.call(sim.reject_next_order, 201, OrderFilter(role="parent", ref="-ENTRY"))
        elif kind is Fault.REJECT_CHILD:
            gw.call(sim.reject_next_child, 201, OrderFilter(role="child"))
        elif kind is Fault.REJECT_STOP:
            gw.call(sim.reject_next_order, 201, OrderFilter(order_type="STP", ref="DT-"))
        elif kind is Fault.PARTIAL_FILL:
            gw.call(sim.partial_fill_next, args["fraction"], OrderFilter(role=args["role"], ref="DT-"))
        elif kind is Fault.DB_LOCK:
            threading.Thread(target=_lock_db, args=(bot.db, args["for_s"]), daemon=True).start()
        elif kind is Fault.KILL_RESTART:
            bot.kill()
            self._settle(float("inf"))  # until it is back (see _run_pending)
            mode = args["mode"]
            if mode == "after_close":
                self.pending.append((0.0, "restart_after_close", None))
            else:
                if mode == "empty_db":
                    self._fresh_db(bot, now)
                self.pending.append((wall + args["down_s"], "restart", mode))
        self.result.faults.append(kind.value)
        return True

    def _targeted(self, gw: GatewayThread, bot: BotProcess, event: FaultEvent, now: datetime) -> bool:
        kind, args = event.kind, event.args
        if kind is Fault.CANCEL_FROM_TWS:
            target = self._working_exit(gw)
            if target is None:
                return False
            gw.call(self.sim.cancel_order_from_tws, target)
        elif kind is Fault.CANCEL_ALL:
            return bool(gw.call(self._cancel_all))
        elif kind is Fault.MANUAL_SALE:
            if not bot.running:  # nothing but the bot can shrink its exits (docs/safety.md)
                return False
            if now >= self.flatten_at - SALE_CLEAR_OF_FLATTEN:  # a race no bot can win
                return False
            if self._foreign_change_unseen(now):
                return False
            return bool(gw.call(self._manual_sale, args["fraction"]))
        elif kind is Fault.WEEKLY_UNBOOKED:
            return self._weekly_fill(gw, bot, args)
        elif kind is Fault.RESTART_OTHER_CLIENT:
            if not bot.running or self._restart_pending():
                return False
            bot.kill()
            self._settle(float("inf"))
            self.pending.append((time.monotonic() + args["down_s"], "start_wrong_id", None))
        return True

    # -- on the simulator's thread --------------------------------------------------------------
    def _cancel_all(self) -> int:
        """TWS "Cancel all": every working order of the trading account."""
        ids = [o.order_id for o in self.sim.engine.open_orders() if o.account == self.ownership.account]
        return len(self.sim.orders.cancel_from_tws(sorted(ids)))

    def _manual_sale(self, fraction: float) -> int:
        """A person sells part of the bot's position in TWS; returns the shares sold."""
        state = self.sim.state()
        lots = self.ownership.bot_lots(state["fills"])
        held = {s: int(p["qty"]) for s, p in state["accounts"][self.ownership.account]["positions"].items()}
        candidates = sorted(s for s, lot in lots.items() if lot >= 2 and held.get(s, 0) >= lot)
        if not candidates or not self._in_session():
            return 0
        symbol = candidates[0]
        qty = max(1, min(lots[symbol] - 1, round(lots[symbol] * fraction)))
        self.sim.set_speed(REAL_PACE)  # before the sale, on this thread: no market time slips by
        self.paced_by_fault = True
        order = self.sim.orders.place_from_tws(self.ownership.account, symbol, "SELL", qty)
        if order.status != "Filled":
            self.sim.orders.cancel_from_tws([order.order_id])
            return 0
        self.ownership.take(symbol, qty)
        self.result.notes.append(f"manual_sale: {qty} {symbol} sold from the bot's {lots[symbol]}")
        return qty

    def _weekly_buy(self, symbol: str, qty: int) -> bool:
        if not self._in_session():
            return False
        day = self.setup.day.strftime("%Y%m%d")
        order = self.sim.orders.place_from_tws(self.ownership.account, symbol, "BUY", qty,
                                               ref=f"WK-{day}-{symbol}", client_id=WEEKLY_CLIENT_ID)
        if order.status != "Filled":
            self.sim.orders.cancel_from_tws([order.order_id])
            return False
        self.ownership.add_foreign(symbol, qty)
        return True

    def _in_session(self) -> bool:
        replay = self.sim.engine.replay
        return bool(replay.session_open <= self.sim.now() < replay.session_close - timedelta(seconds=30))

    # -- in the campaign's thread -----------------------------------------------------------------
    def _weekly_fill(self, gw: GatewayThread, bot: BotProcess, args: dict[str, Any]) -> bool:
        symbols = self.setup.symbols
        symbol = symbols[min(int(args["pick"] * len(symbols)), len(symbols) - 1)]
        if not gw.call(self._weekly_buy, symbol, args["qty"]):
            return False
        self.foreign_changed = (time.monotonic(), gw.call(self.sim.now))
        if args["booked_after_s"] is not None:
            self.pending.append((time.monotonic() + args["booked_after_s"], "book_weekly",
                                 (symbol, args["qty"])))
        return True

    def _foreign_change_unseen(self, now: datetime) -> bool:
        """A person's sale waits while shares that appeared (a weekly fill) are older in market
        time than the bot needs to see them stay, but not yet in real time: at 1500x a fill
        five market minutes before the sale came 0.2 real seconds before it, while the bot
        confirms appeared shares as foreign after `FOREIGN_SEEN_S` real seconds (seed 154).
        Closer than that in market time it is the race a real account can have, and stays."""
        if self.foreign_changed is None:
            return False
        wall, market = self.foreign_changed
        unseen = (time.monotonic() - wall < FOREIGN_SEEN_S
                  and (now - market).total_seconds() >= FOREIGN_SEEN_S)
        if unseen:  # the clock waits with it (at the real pace), the sale keeps its market time
            self.real_pace_until = wall + FOREIGN_SEEN_S
        return unseen

    def _book_weekly(self, db_path: Any, symbol: str, qty: int, now: datetime) -> None:
        """The weekly bot records its fill in its book (seconds after the execution)."""
        db = HistoryDB.open(db_path)
        try:
            held = {p.symbol: p.qty for p in db.book_positions("weekly")}
            db.set_book_position("weekly", symbol, held.get(symbol, 0) + qty, 0.0, now)
        finally:
            db.close()

    def _working_exit(self, gw: GatewayThread) -> int | None:
        state = gw.call(self.sim.state)
        exits = [o for o in state["open_orders"] if o["ref"].startswith("DT-")
                 and o["ref"].rsplit("-", 1)[-1] in EXIT_LEGS]
        if not exits:
            return None
        # the stop first: a position left with only its take-profit is the dangerous case
        exits.sort(key=lambda o: (o["type"] != "STP", o["order_id"]))
        return int(exits[0]["order_id"])

    def _retry_waiting(self, gw: GatewayThread, bot: BotProcess, now: datetime) -> None:
        """Faults that found nothing to act on: again, until the close."""
        still = []
        for event in self.waiting:
            if now >= self.close:
                self.result.notes.append(f"{event.label()}: nothing to act on before the close")
            elif not self._inject(gw, bot, event, now):
                still.append(event)
            else:
                self._trace(now, f"fault {event.kind.value} {event.args}")
        self.waiting = still

    def _restart_pending(self) -> bool:
        return any(action.startswith(("restart", "start_wrong_id", "replace_wrong_id"))
                   for _, action, _ in self.pending)

    def _used_under(self, client_id: int) -> Callable[[], bool]:
        """The bot has orders of today under `client_id` that work or executed: only a run
        under that id sees them (their executions), so that is the id a person restarts it
        with, as its refusal says (seeds 64, 449)."""
        def used() -> bool:
            return any(o["client_id"] == client_id and o["ref"].startswith("DT-")
                       and (o["status"] in ("PreSubmitted", "Submitted") or o["filled"] > 0)
                       for o in self.sim.state()["orders"])
        return used

    def _wrong_id_orders(self, since: datetime) -> Callable[[], list[str]]:
        def placed() -> list[str]:
            return [o["ref"] for o in self.sim.state()["orders"]
                    if o["client_id"] == WRONG_ID and o["ref"].startswith("DT-")
                    and o["submitted_at"] is not None
                    and datetime.fromisoformat(o["submitted_at"]) >= since]
        return placed


def _lock_db(path: Any, seconds: float) -> None:
    """Another process's write lock on the bot's DB (BEGIN EXCLUSIVE) for `seconds`."""
    if not path.exists():
        return
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        conn.execute("COMMIT")
    except sqlite3.Error:
        pass
    finally:
        conn.close()
