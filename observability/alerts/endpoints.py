"""One alert endpoint: an apprise plugin, its own sending thread, and a name safe to log.

Why each endpoint has its own thread: apprise sends with blocking `requests` / `smtplib` calls,
one endpoint at a time. A hanging Telegram must not hold up the e-mail, and must not take a worker
from the default executor the bot's own `asyncio.to_thread` calls share. So every endpoint owns one
daemon thread (a daemon: a send stuck in a socket never holds the process at exit) and the
notifier awaits each send as a future, with its own timeout. The plugin's socket timeouts are cut
to that timeout too, so a stuck send also ends by itself soon after.

Apprise logs through the `apprise` logger, and some of its lines carry the URL's secrets (an
invalid bot token is quoted back; debug lines show the full Telegram URL). Those records never
reach the bot's log: the logger stops propagating, and the warnings of a send are captured per
thread, their secrets replaced, and used as the reason of a failure. Below apprise, urllib3 logs
each request line at DEBUG ("POST /bot<TOKEN>/sendMessage") and retries at WARNING: records of
urllib3 and requests made on an alert thread have every endpoint's secrets masked.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from observability.alerts.events import Level
from observability.redaction import scrub_text

if TYPE_CHECKING:
    from apprise.plugins.base import NotifyBase

MIN_SECRET_CHARS = 4
THREAD_PREFIX = "alert:"  # the name of every endpoint's sending thread
_HTTP_LOGGERS = ("urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager",
                 "urllib3.util.retry", "urllib3.response", "requests")
_ALL_SECRETS: set[str] = set()  # every endpoint's, for the HTTP libraries' log records
_APPRISE_TYPE = {Level.CRITICAL: "failure", Level.WARNING: "warning", Level.INFO: "info"}


class _PerThreadCapture(logging.Handler):
    """Keeps the apprise records of each sending thread, for that thread's failure reason."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def begin(self) -> list[logging.LogRecord]:
        records: list[logging.LogRecord] = []
        self._local.records = records
        return records

    def end(self) -> None:
        self._local.records = None

    def emit(self, record: logging.LogRecord) -> None:
        records = getattr(self._local, "records", None)
        if records is not None:
            records.append(record)


class _ScrubAlertThreads(logging.Filter):
    """Masks the endpoints' secrets in the HTTP libraries' records made on an alert thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.threadName or "").startswith(THREAD_PREFIX):
            text = record.getMessage()
            for secret in sorted(_ALL_SECRETS, key=len, reverse=True):
                text = text.replace(secret, "****")
            record.msg, record.args = scrub_text(text), None
        return True


_CAPTURE = _PerThreadCapture()
_SCRUB = _ScrubAlertThreads()
_quiet_lock = threading.Lock()
_quieted = False


def quiet_apprise() -> None:
    """Apprise's own log stays out of the bot's log (it may quote a URL's token), and the HTTP
    libraries' records of alert threads are scrubbed."""
    global _quieted
    with _quiet_lock:
        if _quieted:
            return
        logger = logging.getLogger("apprise")
        logger.propagate = False
        logger.setLevel(logging.WARNING)
        logger.addHandler(_CAPTURE)
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(_SCRUB)
        _quieted = True


def instantiate(url: str) -> NotifyBase | None:
    """The apprise plugin for `url`, or None when apprise does not accept it."""
    quiet_apprise()
    with warnings.catch_warnings():  # apprise 2.3's e-mail plugin imports imghdr (deprecated)
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    return plugin if plugin is not None else None


def url_secrets(url: str) -> tuple[str, ...]:
    """Every part of `url` that could be a secret (user, password, host, path segments, query
    values), longest first, so the longest match is masked before its own substrings."""
    try:
        parts = urlsplit(url.strip())
        netloc = parts.netloc
    except ValueError:
        return (url,)
    userinfo, _, hostport = netloc.rpartition("@")
    # a Telegram token ("123456789:AAH...") sits where a host and port would: keep it whole too
    pieces = [userinfo, *userinfo.split(":"), hostport, *hostport.split(":"),
              *parts.path.split("/"), *(v for _, v in parse_qsl(parts.query))]
    found = {unquote(p) for p in pieces if len(unquote(p)) >= MIN_SECRET_CHARS}
    found |= {p for p in pieces if len(p) >= MIN_SECRET_CHARS}
    return tuple(sorted(found, key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    why: str = ""  # when not ok: apprise's reason, secrets masked


class Endpoint:
    """One configured alert URL. `send` blocks (call it through `submit`)."""

    def __init__(self, url: str, plugin: NotifyBase, *, timeout_s: float = 10.0) -> None:
        self.plugin = plugin
        # the known-good reference before the secrets are listed: the label is apprise's privacy
        # URL (tokens shortened to "1...8", passwords as ****) without its query of defaults
        self.label = _label(plugin)
        self._secrets = tuple(s for s in url_secrets(url) if s not in self.label)
        with _quiet_lock:
            _ALL_SECRETS.update(self._secrets)
        self.timeout_s = timeout_s
        for name in ("socket_connect_timeout", "socket_read_timeout"):
            current = getattr(plugin, name, None)
            if isinstance(current, int | float) and current > timeout_s:
                setattr(plugin, name, timeout_s)
        # the notifier paces each endpoint (its token bucket, a critical alert never waiting);
        # apprise's own throttle would sleep on the sending thread before a message that follows
        # another within `request_rate_per_sec` seconds: 5.5 s for e-mail, which held a critical
        # alert back behind an info one and let the exit flush (2 s) lose the day's last mail
        if isinstance(getattr(plugin, "request_rate_per_sec", None), int | float):
            plugin.request_rate_per_sec = 0
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]
                                      | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 10.0) -> Endpoint:
        from observability.alerts.config import AlertConfigError, masked_url

        plugin = instantiate(url)
        if plugin is None:
            shown = masked_url(url)
            raise AlertConfigError(f"{shown} is not an apprise URL it can send to", shown)
        return cls(url, plugin, timeout_s=timeout_s)

    def scrub(self, text: str) -> str:
        """`text` with this URL's secrets and any token or account id masked."""
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return scrub_text(text)

    def send(self, title: str, body: str, level: Level) -> SendResult:
        """Deliver one message; blocking, never raises."""
        records = _CAPTURE.begin()
        try:
            ok = bool(self.plugin.notify(body=body, title=title,
                                         notify_type=_APPRISE_TYPE[level]))
        except Exception as exc:  # a plugin bug is a failed send, never a crash
            return SendResult(False, self.scrub(f"{type(exc).__name__}: {exc}")[:200])
        finally:
            _CAPTURE.end()
        if ok:
            return SendResult(True)
        reasons = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
        why = reasons[0] if reasons else "apprise reported a failed send"
        return SendResult(False, " ".join(self.scrub(why).split())[:200])

    def submit(self, title: str, body: str, level: Level) -> concurrent.futures.Future[SendResult]:
        """`send` on this endpoint's own thread; the future completes when it returns."""
        future: concurrent.futures.Future[SendResult] = concurrent.futures.Future()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, daemon=True,
                                            name=f"{THREAD_PREFIX}{self.label[:24]}")
            self._thread.start()
        self._jobs.put((lambda: self.send(title, body, level), future))
        return future

    def stop(self) -> None:
        """Let the thread end after its current send (it is a daemon: never waited for)."""
        if self._thread is not None:
            self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            call, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # send() never raises; keep the thread alive anyway
                future.set_exception(exc)


def _label(plugin: NotifyBase) -> str:
    try:
        text = str(plugin.url(privacy=True))
    except Exception:
        text = f"{type(plugin).__name__}://…"
    return text.split("?", 1)[0]
