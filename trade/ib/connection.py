"""The one shared IB connection per process: connect, watchdog, reconnect, restore hooks.

IB's client library does not reconnect by itself, and after a reconnect its state (trades,
fills) is rebuilt from scratch from the Gateway's replies. So this module owns the lifecycle:
it connects with retry and backoff, treats socket loss and error 1100 as *lost*, reconnects
after a Gateway restart (IB restarts Gateways nightly), and on every (re)connect runs the
registered restore hooks in order (re-subscribe market data, then reconcile) before it reports
the connection *restored* and trading resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ib_async import IB

from observability import tracing
from observability.tracing import SpanNames
from trade.broker import BrokerError, ConnectionState
from trade.ib import errors as ib_errors
from trade.ib.pacing import SlidingWindowPacer

log = logging.getLogger(__name__)

RestoreHook = Callable[[], Awaitable[None]]
StateListener = Callable[[ConnectionState], None]
HOOK_TIMEOUT_S = 10.0  # a restore step that hangs (a lost reply) must not block every reconnect


class ConnectionFailed(BrokerError):
    """The Gateway could not be reached or refused us; the message is one line with the fix."""


class IBConnection:
    """Owns the `ib_async.IB` instance shared by every part of one process."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: int,
        *,
        connect_timeout: float = 4.0,
        attempts: int = 3,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        reconnect: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.ib = IB()
        self.state = ConnectionState.LOST
        self.reconnects = 0
        self.history_pacer = SlidingWindowPacer()
        self._connect_timeout = connect_timeout
        self._attempts = attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._auto_reconnect = reconnect
        self._closing = False
        self._restore_hooks: list[RestoreHook] = []
        self._listeners: list[StateListener] = []
        self._reconnect_task: asyncio.Task[None] | None = None
        self._last_error_code: int | None = None
        self._max_order_id_used = 0
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.errorEvent += self._on_error

    # -- wiring ---------------------------------------------------------------------------
    def add_restore_hook(self, hook: RestoreHook) -> None:
        """Run `hook` after every reconnect, in registration order, before trading resumes."""
        self._restore_hooks.append(hook)

    def add_state_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def remove_state_listeners(self, *listeners: object) -> None:
        self._listeners[:] = [f for f in self._listeners if f not in listeners]

    @property
    def connected(self) -> bool:
        return self.ib.isConnected() and self.state != ConnectionState.LOST

    def note_order_id(self, order_id: int) -> None:
        """Remember the highest order id sent, so a reconnect never hands it out again."""
        self._max_order_id_used = max(self._max_order_id_used, order_id)

    # -- connect ----------------------------------------------------------------------------
    async def connect(self) -> None:
        """Initial connect: a few attempts with backoff, then a one-line `ConnectionFailed`."""
        delay = self._backoff_initial
        last: ConnectionFailed | None = None
        for attempt in range(1, self._attempts + 1):
            try:
                await self._connect_once()
                self._set_state(ConnectionState.CONNECTED)
                return
            except ConnectionFailed as exc:
                last = exc
                if "already in use" in str(exc) or attempt == self._attempts:
                    break
                log.debug("connect attempt %d failed: %s; retrying in %.1fs", attempt, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
        assert last is not None
        raise last

    async def _connect_once(self) -> None:
        self._last_error_code = None
        where = f"{self.host}:{self.port}"
        try:
            await self.ib.connectAsync(
                self.host, self.port, clientId=self.client_id, timeout=self._connect_timeout
            )
        except ConnectionRefusedError:
            raise ConnectionFailed(
                f"cannot reach IB Gateway/TWS at {where} (connection refused): start it with the API "
                f"enabled and check --host/--port (Gateway 4001 live / 4002 paper, TWS 7496 / 7497), "
                f"or run with --sim"
            ) from None
        except TimeoutError:
            if self._last_error_code == ib_errors.CLIENT_ID_IN_USE:
                raise ConnectionFailed(
                    f"client id {self.client_id} is already in use at {where}: stop the other "
                    f"session using it (a previous run of this bot?) and start again with the same "
                    f"--client-id: IB binds orders to the client id, so the exits a previous run "
                    f"left at the broker can only be managed under it"
                ) from None
            raise ConnectionFailed(
                f"no IB API handshake from {where} within {self._connect_timeout:g}s: check that "
                f"--port is the API port of IB Gateway/TWS and that API socket clients are enabled"
            ) from None
        except OSError as exc:
            raise ConnectionFailed(f"cannot reach IB Gateway/TWS at {where}: {exc.strerror or exc}") from None
        except ConnectionError as exc:
            raise ConnectionFailed(f"IB Gateway/TWS at {where} dropped the connection: {exc}") from None
        # never reuse an order id: the Gateway's nextValidId may lag what we sent before a restart
        self.ib.client.updateReqId(self._max_order_id_used + 1)

    async def close(self) -> None:
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        if self.ib.isConnected():
            self.ib.disconnect()

    # -- watchdog ---------------------------------------------------------------------------
    def _on_error(self, req_id: int, code: int, message: str, contract: object = None) -> None:
        self._last_error_code = code
        if code in ib_errors.CONNECTIVITY_LOST:
            log.warning("%s: trading paused until connectivity is restored", ib_errors.describe(code, message))
            self._set_state(ConnectionState.LOST)
        elif code in ib_errors.CONNECTIVITY_RESTORED:
            log.info("%s", ib_errors.describe(code, message))
            if self.state == ConnectionState.LOST:
                self._start_restore()
        elif ib_errors.is_informational(code):
            log.debug("%s", ib_errors.describe(code, message))

    def _on_disconnected(self) -> None:
        if self._closing:
            return
        log.warning("lost the API connection to %s:%s", self.host, self.port)
        self._set_state(ConnectionState.LOST)
        if self._auto_reconnect:
            self._start_restore()

    def _start_restore(self) -> None:
        """One restore at a time; a running one re-checks the socket before it finishes, so a
        disconnect that happens while it runs is never left without a reconnect."""
        if self._reconnect_task is not None and not self._reconnect_task.done():
            return
        self._reconnect_task = asyncio.get_running_loop().create_task(self._restore())

    async def _restore(self) -> None:
        while not self._closing:
            delay = self._backoff_initial
            while self._auto_reconnect and not self._closing and not self.ib.isConnected():
                try:
                    await self._connect_once()
                except ConnectionFailed as exc:
                    log.warning("reconnect failed: %s; next try in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff_max)
            if self._closing:
                return
            with tracing.span(SpanNames.RECONNECT, attrs={"trading.reconnects": self.reconnects + 1}):
                for hook in self._restore_hooks:
                    name = getattr(hook, "__qualname__", repr(hook))
                    try:
                        await asyncio.wait_for(hook(), HOOK_TIMEOUT_S)
                    except TimeoutError:
                        log.error("restore step %s took more than %gs; going on", name, HOOK_TIMEOUT_S)
                    except (ConnectionError, OSError) as exc:  # dropped again: expected, no trace
                        log.warning("restore step %s: the connection dropped again (%s: %s); "
                                    "reconnecting", name, type(exc).__name__, exc)
                    except Exception:
                        log.exception("restore step %s failed", name)
            if self.ib.isConnected() or not self._auto_reconnect:
                break  # else the socket dropped again while restoring: reconnect once more
        if self._closing:
            return
        self.reconnects += 1
        log.info("connection restored (reconnect #%d)", self.reconnects)
        self._set_state(ConnectionState.RESTORED)

    def _set_state(self, state: ConnectionState) -> None:
        if state == self.state:
            return
        self.state = state
        for listener in self._listeners:
            listener(state)

