"""Order refs that are never reused, whatever happened to the DB or the previous run.

A ref (`DT-<day>-<SYM>-<seq>-<leg>`) is how the bot recognises its own orders and executions after
a reconnect or a restart, so a sequence number must never be handed out twice. The next sequence
is one above the highest seen anywhere: the DB's intents, the refs handed out in this run, and
every ref the broker still reports (open orders, executions) — so a new or lost DB, or a failed
intent write, cannot make the bot reuse a number the broker already knows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime

from observability.history import HistoryDB
from observability.schema import IntentRow, IntentState
from trade.intraday.records import SafeRecords
from trade.models import OrderRef


class RefBook:
    def __init__(self, records: SafeRecords, bot: str, book: str, day: date, variant: str,
                 now: Callable[[], datetime], run_id: str = "") -> None:
        self.records = records
        self.bot = bot
        self.book = book
        self.day = day
        self.variant = variant
        self.now = now
        self.run_id = run_id
        self.daystr = day.strftime("%Y%m%d")
        self._used: dict[str, int] = {}  # symbol -> highest sequence known to be used today
        self._entries: dict[str, int] = {}  # symbol -> entries this run sent

    def observe(self, refs: Iterable[str]) -> None:
        """Learn sequences the broker reports (open orders, executions, completed orders)."""
        for text in refs:
            ref = OrderRef.parse(text)
            if ref is not None and ref.bot == self.bot and ref.day == self.daystr:
                self._used[ref.symbol] = max(self._used.get(ref.symbol, 0), ref.seq)

    def next_ref(self, symbol: str, leg: str, side: str, qty: int, price: float,
                 target: float | None, stop: float | None, state: IntentState) -> OrderRef:
        """A fresh ref for `symbol`, recorded as an intent (now, or as soon as the DB allows)."""
        db: HistoryDB = self.records.db
        in_db = self.records.read("max_sequence", lambda: db.max_sequence(self.bot, self.day, symbol), 0)
        seq = max(in_db, self._used.get(symbol, 0)) + 1
        self._used[symbol] = seq
        if leg == "ENTRY":
            self._entries[symbol] = self._entries.get(symbol, 0) + 1
        ref = OrderRef(self.bot, self.daystr, symbol, seq, leg)
        intent = IntentRow(
            order_ref=str(ref), bot=self.bot, trading_date=self.day, symbol=symbol, seq=seq,
            side=side, qty=qty, entry_price=price, target_price=target, stop_price=stop,
            book=self.book, created_time=self.now(), variant=self.variant, state=state,
            run_id=self.run_id,
        )
        self.records.write("record_intent", lambda: db.record_intent(intent))
        return ref

    def entries_sent(self, symbol: str) -> int:
        return self._entries.get(symbol, 0)

    def set_state(self, order_ref: str, state: IntentState, when: datetime | None = None) -> None:
        moment = when or self.now()
        db = self.records.db
        self.records.write("update_intent_state",
                           lambda: db.update_intent_state(order_ref, state, moment))
