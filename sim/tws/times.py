"""Date/time strings on the TWS wire, both ways.

Clients send times (goodAfterTime, goodTillDate, endDateTime, the executions filter) as
"YYYYMMDD HH:MM:SS <zone>" (e.g. "US/Eastern", "America/New_York", "UTC"), as
"YYYYMMDD-HH:MM:SS" (UTC, the format API 10.18 added), or without a zone (the Gateway's own
zone, New York here). A real Gateway writes the times of US stock bars and executions in the
exchange's zone with IB's name for it, "US/Eastern"; ib_async, ib_insync and ibapi all parse
"YYYYMMDD HH:MM:SS <IANA zone>", and US/Eastern is an IANA alias of America/New_York.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sim.market.sessions import NY

GATEWAY_ZONE_NAME = "US/Eastern"
_GATEWAY_ZONE = ZoneInfo(GATEWAY_ZONE_NAME)
_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "Etc/UTC"})


class IBTimeError(ValueError):
    """A time string a client sent that is not in any IB format; the message names the format."""


def _zone(name: str) -> tzinfo:
    if name.upper() in _UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise IBTimeError(f"unknown time zone {name!r}: use e.g. US/Eastern, America/New_York or UTC") from exc


def parse_ib_time(text: str, default_zone: tzinfo = NY) -> datetime | None:
    """An aware datetime for `text`, or None for "" (unset)."""
    text = text.strip()
    if not text:
        return None
    zone: tzinfo = default_zone
    if len(text) >= 9 and text[8] == "-":  # YYYYMMDD-HH:MM:SS is UTC
        text, zone = text[:8] + " " + text[9:], UTC
    parts = text.split()
    if len(parts) >= 3:
        zone = _zone(" ".join(parts[2:]))
    try:
        if len(parts) == 1:
            naive = datetime.strptime(parts[0], "%Y%m%d")  # noqa: DTZ007 - zone attached next
        else:
            naive = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y%m%d %H:%M:%S")  # noqa: DTZ007
    except ValueError as exc:
        raise IBTimeError(
            f"time {text!r}: use 'YYYYMMDD HH:MM:SS US/Eastern' or 'YYYYMMDD-HH:MM:SS' (UTC)"
        ) from exc
    return naive.replace(tzinfo=zone)


def ib_time(t: datetime) -> str:
    """A moment as a real Gateway writes US stock bar and execution times."""
    return t.astimezone(_GATEWAY_ZONE).strftime("%Y%m%d %H:%M:%S ") + GATEWAY_ZONE_NAME


def ib_time_echo(t: datetime | None) -> str:
    """goodAfterTime / goodTillDate as openOrder echoes them ("" when unset)."""
    return "" if t is None else ib_time(t)
