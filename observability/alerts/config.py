"""Reading the alert settings: `ALERT_URLS` / `--alert-url` and `ALERT_MUTE` / `--alert-mute`.

The URLs are apprise URLs (tgram://, slack://, mailtos://, json://, ntfy://, pover:// ...). They
hold secrets (a bot token, a webhook path, a mail password), so nothing here ever prints one: an
invalid entry is named by its position and its scheme only (`masked_url`).

Several URLs go in one variable separated by whitespace, commas or semicolons. A comma is also
legal inside one URL (`mailto://...?to=a@x.com,b@y.com`), so the text is cut only where a delimiter
is followed by the next `scheme://`.

Apprise is imported only when there is a URL to check: a bot without alerts never loads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from observability.alerts.events import Level

URLS_FIX = ("apprise URLs such as tgram://BOT_TOKEN/CHAT_ID, mailtos://USER:PASSWORD@smtp.host"
            "?to=you@example.com or json://127.0.0.1:8080/alerts, separated by spaces or commas")
MUTE_FIX = "levels to keep off the phone: info, warning or critical, comma-separated, or none"

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
_SPLIT = re.compile(r"[\s,;]+(?=[a-z][a-z0-9+.-]*://)", re.IGNORECASE)


class AlertConfigError(ValueError):
    """An alert setting is invalid. `shown` is the offending value with its secrets masked."""

    def __init__(self, message: str, shown: str) -> None:
        super().__init__(message)
        self.shown = shown


def masked_url(url: str) -> str:
    """`tgram://…`: the scheme alone, which says what the URL is for and nothing more."""
    match = _SCHEME.match(url.strip())
    return f"{match.group(1).lower()}://…" if match else "…"


def split_urls(text: str) -> list[str]:
    """One or more URLs from a variable's text (see the module doc for the delimiters)."""
    pieces = _SPLIT.split(text.strip())
    return [p.strip(" \t\r\n,;") for p in pieces if p.strip(" \t\r\n,;")]


def parse_urls(value: Any) -> tuple[str, ...]:
    """Validated alert URLs from text (the variable) or a list (repeated `--alert-url`).

    Raises `AlertConfigError` naming the first entry apprise does not accept."""
    texts = [value] if isinstance(value, str) else list(value or ())
    urls: list[str] = []
    for text in texts:
        if not isinstance(text, str):
            raise AlertConfigError(f"alert URL {text!r} is not text", "…")
        urls.extend(split_urls(text))
    for position, url in enumerate(urls, start=1):
        shown = masked_url(url) if len(urls) == 1 else f"entry {position} ({masked_url(url)})"
        if not _SCHEME.match(url):
            raise AlertConfigError(f"{shown} is not a URL", shown)
        if not url_is_supported(url):
            raise AlertConfigError(f"{shown} is not an apprise URL it can send to", shown)
    return tuple(dict.fromkeys(urls))


def url_is_supported(url: str) -> bool:
    """Does apprise know this scheme and accept the URL's parts (token formats and so on)?"""
    from observability.alerts.endpoints import instantiate

    return instantiate(url) is not None


def parse_mute(value: Any) -> tuple[str, ...]:
    """Muted levels, most urgent first: "info", "info,warning"; "none" or empty mutes nothing."""
    texts = [value] if isinstance(value, str) else list(value or ())
    words = [w.lower() for t in texts for w in re.split(r"[\s,;]+", str(t).strip()) if w]
    if words in ([], ["none"]):
        return ()
    levels = set()
    for word in words:
        try:
            levels.add(Level(word))
        except ValueError:
            raise AlertConfigError(f"{word} is not an alert level", word) from None
    return tuple(level.value for level in sorted(levels, key=lambda lv: -lv.rank))


def muted_levels(names: Iterable[str]) -> frozenset[Level]:
    return frozenset(Level(name) for name in names)


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """What the notifier is built from (the bot's `Settings` carries the same two fields)."""

    urls: tuple[str, ...] = ()
    mute: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the start-up banner; never a URL's secret."""
        if not self.urls:
            return "alerts: log only (set ALERT_URLS or --alert-url to push them to a phone)"
        where = ", ".join(masked_url(u) for u in self.urls)
        muted = f"; muted: {', '.join(self.mute)}" if self.mute else ""
        return f"alerts: {len(self.urls)} endpoint(s): {where}{muted}"
