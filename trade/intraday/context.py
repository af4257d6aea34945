"""What every part of the day trader shares, handed over as one small object.

The trader's parts (entries, exits, sync, fills, the bar feed, the day's end) each need a few of
these; passing the one context keeps their constructors to what is particular to them, and makes
plain that these are the trader's shared facts: the broker and the session, the books of its
symbols, its own working orders, its refs, its records, its background jobs, the run log and
its state. The context owns nothing: each of those has its own writer (see symbol_book.py and
state.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from observability.alerts.events import Alert
from trade.broker import Broker
from trade.calendar import Session
from trade.intraday.ownership import Ownership
from trade.intraday.records import SafeRecords
from trade.intraday.refs import RefBook
from trade.intraday.run_log import RunLog
from trade.intraday.state import TraderState
from trade.intraday.supervisor import Supervisor
from trade.intraday.symbol_book import SymbolBook
from trade.models import OrderTicket


class AlertSink(Protocol):
    """Where the trader's alerts go (observability/alerts/notifier.py `Notifier`): `notify` never
    blocks and never raises, so an alert can be raised anywhere on the trading path."""

    def notify(self, alert: Alert) -> None: ...


class NoAlerts:
    """No alerts at all (tests, backtests, replays): nobody is waiting for them."""

    def notify(self, alert: Alert) -> None:
        return None


BOT = "DT"  # the day trader's order-ref prefix (trade/models.py OrderRef)
BOOK = "intraday"  # its book in the history DB's book_positions
OTHER_BOOKS = ("weekly",)  # books of other bots that may share the account


@dataclass(slots=True)
class TraderContext:
    broker: Broker
    session: Session
    books: dict[str, SymbolBook]  # symbol -> its book (watchlist symbols, then any held)
    orders: dict[int, OrderTicket]  # the bot's own working orders, by order id
    refs: RefBook
    records: SafeRecords
    jobs: Supervisor
    run_log: RunLog
    state: TraderState
    variant: str = ""
    bot: str = BOT
    book_name: str = BOOK
    # entry ref -> the indicators and reason at its decision (written by the entry desk; the
    # fill recorder puts them on the trade row)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    ownership: Ownership = field(default_factory=Ownership)  # which shares are the bot's
    alerts: AlertSink = field(default_factory=NoAlerts)  # the owner's phone (docs/alerts.md)

    @property
    def day(self) -> date:
        return self.session.date
