"""Log lines stamped with the market's time, and the wall time beside it when they differ.

A simulated day runs hundreds of times faster than the wall clock, and a trader reading the log
thinks in market time ("10:31: SPY bracket sent"), so once a bot knows its broker's clock every
line carries that time; when it differs from the wall clock by more than a few seconds (a
simulator, a replay) the wall time follows in brackets, so a line can still be matched with
other programs' logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SAME_WITHIN_S = 2.0


class MarketTimeFormatter(logging.Formatter):
    """`clock` (set once the broker is connected) gives the market time; until then, wall time."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self.clock: Callable[[], datetime] | None = None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        wall = datetime.fromtimestamp(record.created).astimezone()
        if self.clock is None:
            return wall.strftime("%Y-%m-%d %H:%M:%S")
        try:
            market = self.clock()
        except Exception:  # a clock not synchronised yet: the wall time alone
            return wall.strftime("%Y-%m-%d %H:%M:%S")
        text = market.strftime("%Y-%m-%d %H:%M:%S")
        if abs((market - wall).total_seconds()) > SAME_WITHIN_S:
            text += wall.strftime(" [wall %H:%M:%S]")
        return text


def install(level: int | str) -> MarketTimeFormatter:
    """The process's root log handler with a market-time formatter; returns the formatter."""
    formatter = MarketTimeFormatter()
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return formatter
