"""When an order may trade: the regular session, and for `outsideRth` limit orders the
extended sessions around it (04:00-09:30 and 16:00-20:00 New York, 17:00 on half days).

IB: `Order.outsideRth` "allows triggering or filling of orders outside regular trading hours"
(TWS API Order class). Its extended sessions for US stocks accept limit orders (LMT, STP LMT);
a market or stop order stays held until the regular open whatever the flag says, and a DAY
order marked outsideRth stays working through the after-hours session instead of expiring at
16:00. The shared data holds regular-session bars only, so outside 09:30-16:00 the replay's
price is flat at the last regular-session print (the previous close before the open, the close
after it): an outsideRth limit order that is marketable against it fills there, any other waits
for the open. No extended-hours trade is invented beyond that.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sim.market.sessions import extended_bounds, session_bounds, sessions_between

EXTENDED_TYPES = frozenset({"LMT", "STP LMT"})


def works_outside_rth(order: Any) -> bool:
    """An order IB lets trade in the extended sessions: outsideRth set, and a limit order."""
    return bool(order.outside_rth) and order.order_type in EXTENDED_TYPES


def in_regular(replay: Any, now: datetime) -> bool:
    return bool(replay.session_open <= now < replay.session_close)


def in_extended(replay: Any, now: datetime) -> bool:
    opened, closed = extended_bounds(replay.day)
    return opened <= now < closed


def tradable(order: Any, replay: Any, now: datetime) -> bool:
    """May `order` match at `now`? In the session; in the extended hours if it works there."""
    return in_regular(replay, now) or (works_outside_rth(order) and in_extended(replay, now))


def after_hours_close(day: date) -> datetime:
    """When a DAY order marked outsideRth expires: the end of the after-hours session."""
    return extended_bounds(day)[1]


def next_start(day: date, now: datetime, extended: bool) -> datetime:
    """The next regular open (or extended open) after `now`, on `day` or a later session."""
    for candidate in [day, *sessions_between(day + timedelta(days=1), day + timedelta(days=14))]:
        start = extended_bounds(candidate)[0] if extended else session_bounds(candidate)[0]
        if start > now:
            return start
    return now
