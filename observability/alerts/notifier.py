"""The notifier: `notify(alert)` from anywhere in a bot, delivery somewhere else, never in the way.

The guarantees, and how they are kept:
- `notify()` is synchronous, takes a lock for a list append, never blocks and never raises. It
  logs the alert (the log is the record, with or without endpoints) and hands it over.
- Delivery runs on the notifier's own thread and asyncio loop, not the bot's: a bot can alert
  before its loop starts and after it has ended (the error that stopped it), and nothing a send
  does can take time from a trading coroutine. That loop drains a bounded intake queue; each
  endpoint sends on its own thread (see endpoints.py) under a timeout, one send at a time, so a
  hanging endpoint holds only its own alerts and a failing one costs only its own count.
- A full intake (or an endpoint's full backlog) drops the least urgent, oldest alert first and
  counts it per level; the next message says how many were dropped.
- Bursts: a batched warning (reconnects, market-data refusals; `events.BATCHED`) is held for its
  window and sent as one "3 reconnects in 5 min" alert. Each endpoint has a token bucket (a burst
  of `burst` messages, then one per `refill_s`); alerts that wait for a token go out together as
  one digest, most urgent first. A critical alert never waits for a token.
- A failed send is counted and logged once per endpoint (again only after it has delivered
  since); a failed critical alert is tried once more.
- `close()` flushes what is pending (batches included, tokens ignored) for at most `flush_s`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from observability.alerts.config import AlertSettings, muted_levels
from observability.alerts.endpoints import Endpoint, SendResult
from observability.alerts.events import Alert, Event, Level, merge
from observability.alerts.policy import (
    AlertStats,
    EndpointStats,
    Policy,
    TokenBucket,
    least_urgent,
)

__all__ = ["AlertStats", "EndpointStats", "Notifier", "Policy", "open_notifier"]

log = logging.getLogger("alerts")

_LOG_LEVEL = {Level.CRITICAL: logging.CRITICAL, Level.WARNING: logging.WARNING,
              Level.INFO: logging.INFO}
MAX_IDLE_WAIT_S = 1.0  # with work pending, the loop looks again at least this often


@dataclass(slots=True)
class _Pending:
    alert: Alert
    attempts: int = 0


class _Outlet:
    """The notifier's view of one endpoint: its backlog, bucket, in-flight send and stats."""

    def __init__(self, endpoint: Endpoint, policy: Policy, now: float) -> None:
        self.endpoint = endpoint
        self.bucket = TokenBucket(policy.burst, policy.refill_s, now)
        self.backlog: list[_Pending] = []
        self.busy = False
        self.in_flight = 0  # alerts in the send under way
        self.waiting = False  # for a token
        self.failing = False
        self.failed_in_a_row = 0
        self.unreported_drops = 0
        self.stats = EndpointStats(endpoint.label)


class Notifier:
    """Alerts for one bot process. Build with `open_notifier` (or the constructor in tests),
    `start()` it, `notify()` freely, `close()` (or `await aclose()`) at the end."""

    def __init__(self, endpoints: Sequence[Endpoint] = (), *,
                 muted: Collection[Level | str] = (), policy: Policy | None = None,
                 clock: Callable[[], float] = time.monotonic, link: str | None = None) -> None:
        self.policy = policy or Policy()
        self._clock = clock
        self._muted = frozenset(Level(m) for m in muted)
        self._lock = threading.Lock()
        self._intake: list[Alert] = []
        self._outlets = [_Outlet(e, self.policy, clock()) for e in endpoints]
        self._stats = AlertStats(endpoints=[o.stats for o in self._outlets])
        self._batches: dict[Event, tuple[float, list[Alert]]] = {}
        self._link = _bare_link(link)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._wake_pending = False
        self._thread: threading.Thread | None = None
        self._closing = False
        self._closed = False
        self._close_deadline = 0.0
        self._intake_drops_unreported = 0
        self._warned_notify_failure = False

    # == the caller's side (any thread) ==========================================================
    @property
    def pushing(self) -> bool:
        """True when alerts go to at least one endpoint (False: the log only)."""
        return bool(self._outlets)

    def notify(self, alert: Alert) -> None:
        """Log `alert` and queue it for the endpoints. Never blocks, never raises."""
        try:
            log.log(_LOG_LEVEL[alert.level], "alert: %s: %s", alert.headline, alert.text)
            first_drop = False
            with self._lock:
                self._stats.notified += 1
                if alert.level in self._muted:
                    self._stats.muted += 1
                    return
                if not self._outlets or self._closed:
                    return
                if len(self._intake) >= self.policy.queue_size:
                    victim = least_urgent(self._intake)
                    if self._intake[victim].level.rank < alert.level.rank:
                        dropped = self._intake.pop(victim)
                        self._intake.append(alert)
                    else:
                        dropped = alert
                    self._stats.dropped[dropped.level.value] += 1
                    self._intake_drops_unreported += 1
                    first_drop = sum(self._stats.dropped.values()) == 1
                else:
                    self._intake.append(alert)
                loop, wake = self._loop, not self._wake_pending
                self._wake_pending = True
            if loop is not None and wake:
                loop.call_soon_threadsafe(self._poke_in_loop)
            if first_drop:
                log.warning("alerts: queue full (%d): dropping the least urgent alerts, counted",
                            self.policy.queue_size)
        except Exception as exc:  # notify() is called on the trading path: it must not raise
            if not self._warned_notify_failure:
                self._warned_notify_failure = True
                log.warning("alerts: notify failed (%s); alerts may be lost", type(exc).__name__)

    def set_link(self, url: str | None) -> None:
        """The status page's address, added to every alert from now on (never its token)."""
        self._link = _bare_link(url)

    def poke(self) -> None:
        """Make the loop look at its clock now (a test's fake clock has moved)."""
        with self._lock:
            loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._poke_in_loop)
            except RuntimeError:  # the loop has ended
                pass

    def stats(self) -> AlertStats:
        """A snapshot of the counters."""
        with self._lock:
            return AlertStats(self._stats.notified, self._stats.muted, self._stats.batched,
                              self._stats.held, Counter(self._stats.dropped),
                              self._stats.unsent_at_close,
                              [dataclasses.replace(o.stats) for o in self._outlets])

    # == lifecycle ================================================================================
    def start(self) -> Notifier:
        """Start the delivery thread (nothing to start without endpoints). Idempotent."""
        if self._outlets and self._thread is None:
            ready = threading.Event()
            self._thread = threading.Thread(target=self._thread_main, args=(ready,),
                                            name="alerts", daemon=True)
            self._thread.start()
            ready.wait(timeout=5.0)
        return self

    def close(self, timeout: float | None = None) -> None:
        """Flush pending alerts for at most `timeout` (default `policy.flush_s`), then stop.

        Blocking: from a coroutine use `aclose()`."""
        wait_s = self.policy.flush_s if timeout is None else timeout
        with self._lock:
            if self._closing or self._closed:
                return
            self._closing = True
            self._close_deadline = time.monotonic() + wait_s
        self.poke()
        if self._thread is not None:
            self._thread.join(wait_s + 0.5)
        with self._lock:
            self._closed = True
            # (a thread still stuck in a send may touch the batches: read a copy)
            unsent = len(self._intake) + sum(len(o.backlog) for o in self._outlets) + sum(
                len(alerts) for _, alerts in list(self._batches.values()))
            self._stats.unsent_at_close += unsent
        for outlet in self._outlets:
            outlet.endpoint.stop()
        if self._outlets:
            stats = self.stats()
            sent = sum(e.messages for e in stats.endpoints)
            failed = sum(e.failures for e in stats.endpoints)
            dropped = sum(stats.dropped.values()) + sum(e.dropped for e in stats.endpoints)
            log.info("alerts: %d notified, %d messages sent, %d failed sends, %d dropped, "
                     "%d unsent at close", stats.notified, sent, failed, dropped,
                     stats.unsent_at_close)

    async def aclose(self, timeout: float | None = None) -> None:
        """`close()` without blocking the calling loop."""
        await asyncio.to_thread(self.close, timeout)

    # == the notifier's loop (its own thread) =====================================================
    def _thread_main(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._run(ready))
        except Exception as exc:  # the delivery thread dying must be visible, once
            log.error("alerts: delivery stopped (%s: %s); alerts go to the log only",
                      type(exc).__name__, exc)
            ready.set()
        finally:
            with self._lock:
                self._loop = None

    def _poke_in_loop(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self, ready: threading.Event) -> None:
        self._wake = asyncio.Event()
        sends: set[asyncio.Task[None]] = set()
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._wake_pending = False
        ready.set()
        while True:
            with self._lock:
                arrived, self._intake = self._intake, []
                self._wake_pending = False
                closing = self._closing
                intake_drops, self._intake_drops_unreported = self._intake_drops_unreported, 0
            now = self._clock()
            for outlet in self._outlets:
                outlet.unreported_drops += intake_drops
            for alert in arrived:
                self._route(alert, now)
            self._release_batches(now, everything=closing)
            for outlet in self._outlets:
                if not outlet.busy and outlet.backlog:
                    urgent = any(p.alert.level is Level.CRITICAL for p in outlet.backlog)
                    if outlet.bucket.take(now, force=urgent or closing):
                        outlet.waiting = False
                        task = asyncio.create_task(self._deliver(outlet))
                        sends.add(task)
                        task.add_done_callback(sends.discard)
                    elif not outlet.waiting:
                        outlet.waiting = True
                        with self._lock:
                            outlet.stats.rate_limited += 1
            if closing:
                remaining = self._close_deadline - time.monotonic()
                done = not sends and not any(o.backlog for o in self._outlets)
                if done or remaining <= 0:
                    break
                timeout: float | None = min(remaining, MAX_IDLE_WAIT_S)
            else:
                timeout = self._next_wait(now)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
        cut = sum(o.in_flight for o in self._outlets if o.busy)  # sends the deadline cut off
        if cut:
            with self._lock:
                self._stats.unsent_at_close += cut
        for task in sends:
            task.cancel()

    def _route(self, alert: Alert, now: float) -> None:
        window = self.policy.windows.get(alert.event, 0.0)
        if window > 0 and alert.level is not Level.CRITICAL:
            first, alerts = self._batches.setdefault(alert.event, (now, []))
            alerts.append(alert)
            with self._lock:
                self._stats.held += 1
            return
        self._to_outlets(alert)

    def _release_batches(self, now: float, everything: bool) -> None:
        for event, (first, alerts) in list(self._batches.items()):
            window = self.policy.windows.get(event, 0.0)
            if everything or now - first >= window:
                del self._batches[event]
                with self._lock:
                    self._stats.batched += len(alerts) - 1
                    self._stats.held -= len(alerts)
                self._to_outlets(merge(alerts, window))

    def _to_outlets(self, alert: Alert) -> None:
        with self._lock:
            for outlet in self._outlets:
                self._push(outlet, _Pending(alert))

    def _push(self, outlet: _Outlet, pending: _Pending, front: bool = False) -> None:
        """Into an endpoint's backlog (lock held); a full backlog drops its least urgent."""
        backlog = outlet.backlog
        if len(backlog) >= self.policy.backlog_size:
            victim = least_urgent([p.alert for p in backlog])
            if backlog[victim].alert.level.rank >= pending.alert.level.rank:
                outlet.stats.dropped += 1
                outlet.unreported_drops += 1
                return
            backlog.pop(victim)
            outlet.stats.dropped += 1
            outlet.unreported_drops += 1
        if front:
            backlog.insert(0, pending)
        else:
            backlog.append(pending)

    def _next_wait(self, now: float) -> float | None:
        deadlines = [first + self.policy.windows.get(event, 0.0)
                     for event, (first, _) in self._batches.items()]
        deadlines += [o.bucket.next_token_at(now) for o in self._outlets
                      if o.backlog and not o.busy]
        if not deadlines:
            return None  # nothing pending: sleep until notify() wakes us
        return min(max(0.0, min(deadlines) - now), MAX_IDLE_WAIT_S)

    async def _deliver(self, outlet: _Outlet) -> None:
        with self._lock:
            batch, outlet.backlog = outlet.backlog, []
            drops, outlet.unreported_drops = outlet.unreported_drops, 0
            outlet.busy = True
            outlet.in_flight = len(batch)
        title, body, level = self._compose([p.alert for p in batch], drops)
        future = asyncio.wrap_future(outlet.endpoint.submit(title, body, level))
        timeout = self.policy.send_timeout_s
        try:
            try:
                result: SendResult = await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                result = SendResult(False, f"no answer within {timeout:g} s")
                with self._lock:
                    outlet.stats.timeouts += 1
            self._record(outlet, batch, result)
            if not future.done():
                await future  # the endpoint's thread is still stuck: one send at a time
        finally:
            with self._lock:
                outlet.busy = False
                outlet.in_flight = 0
            self._poke_in_loop()

    def _record(self, outlet: _Outlet, batch: list[_Pending], result: SendResult) -> None:
        stats = outlet.stats
        with self._lock:
            if result.ok:
                stats.messages += 1
                stats.alerts += len(batch)
                stats.digests += len(batch) > 1
                if outlet.failing:
                    log.info("alerts: %s delivering again after %d failed sends", stats.label,
                             outlet.failed_in_a_row)
                outlet.failing = False
                outlet.failed_in_a_row = 0
                return
            stats.failures += 1
            stats.last_error = result.why
            outlet.failed_in_a_row += 1
            first = not outlet.failing
            outlet.failing = True
            for pending in reversed(batch):  # a critical alert gets one more try
                if pending.alert.level is Level.CRITICAL and pending.attempts == 0:
                    self._push(outlet, _Pending(pending.alert, 1), front=True)
        if first:
            log.warning("alerts: %s failed: %s (further failures are counted, not logged, "
                        "until it delivers again)", stats.label, result.why)

    def _compose(self, alerts: list[Alert], drops: int) -> tuple[str, str, Level]:
        """One message: a single alert as it is, several as a digest, most urgent first."""
        ordered = sorted(alerts, key=lambda a: -a.level.rank)
        top = ordered[0]
        lines: list[str]
        if len(ordered) == 1:
            title, lines = top.headline, [top.text]
        else:
            counts = Counter(a.level.value for a in ordered)
            summary = ", ".join(f"{counts[lv.value]} {lv.value}" for lv in
                                (Level.CRITICAL, Level.WARNING, Level.INFO) if counts[lv.value])
            title = f"{top.level.value.upper()} {top.bot}: {len(ordered)} alerts ({summary})"
            shown = ordered[: self.policy.digest_lines]
            lines = [f"- {a.headline}: {a.text}" for a in shown]
            if len(ordered) > len(shown):
                lines.append(f"- and {len(ordered) - len(shown)} more (see the log)")
        if drops:
            lines.append(f"({drops} less urgent alerts dropped: too many at once; see the log)")
        if self._link:
            lines.append(f"status page: {self._link}")
        return title, "\n".join(lines), top.level


def _bare_link(url: str | None) -> str | None:
    """The page's address without query or fragment: a control token never rides along."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def open_notifier(settings: AlertSettings, *, say: Callable[[str], None],
                  policy: Policy | None = None, link: str | None = None) -> Notifier:
    """The bot's notifier from its settings, started; says once where alerts go."""
    policy = policy or Policy()
    endpoints = [Endpoint.from_url(url, timeout_s=policy.send_timeout_s) for url in settings.urls]
    say(settings.describe())
    return Notifier(endpoints, muted=muted_levels(settings.mute), policy=policy,
                    link=link).start()
