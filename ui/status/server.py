"""The status page's HTTP server (aiohttp), running on the bot's own event loop.

    GET  /                 the page (static files, strict Content-Security-Policy)
    GET  /api/status       the trader's snapshot (JSON, read-only, no token needed)
    GET  /api/events       the same snapshot as server-sent events, pushed when it changes
    POST /api/pause        stop new entries              } need `Authorization: Bearer <token>`;
    POST /api/resume       allow entries again           } without it: 401 and nothing happens
    POST /api/flatten      cancel own orders, sell now   }

Why it is built this way: the handlers only read a cached snapshot or call one control method, so
a busy page never slows the per-bar path; the controls want a header (not a cookie), so another
web page cannot trigger them; on a loopback bind the `Host` header must name the loopback
address, so a hostile page cannot reach the API by rebinding its own domain to 127.0.0.1. Every
control action is logged, traced (`status.control`) and handed to `on_control` (the run log).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from observability import tracing
from ui.status.config import is_loopback
from ui.status.controls import TraderControls
from ui.status.hub import SnapshotHub
from ui.status.token import token_matches

log = logging.getLogger("ui.status")

BY = "status page"
STATIC = Path(__file__).with_name("static")
_PAGES = {"/": ("index.html", "text/html"), "/status.js": ("status.js", "text/javascript"),
          "/status.css": ("status.css", "text/css")}
_SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

ControlRecord = dict[str, Any]
OnControl = Callable[[ControlRecord], None]


@dataclass(frozen=True, slots=True)
class StatusOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    interval_s: float = 0.5  # the most often the trader is asked for a snapshot
    keepalive_s: float = 15.0  # SSE comment so proxies and browsers keep the stream open


class StatusServer:
    def __init__(self, controls: TraderControls, token: str, options: StatusOptions = StatusOptions(),
                 on_control: OnControl | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._controls = controls
        self._token = token
        self._options = options
        self._on_control = on_control
        self._clock = clock or (lambda: datetime.now(tz=ZoneInfo("America/New_York")))
        self._hub = SnapshotHub(lambda: controls.status_snapshot(), options.interval_s)
        self._runner: web.AppRunner | None = None
        self._flatten_task: asyncio.Task[None] | None = None
        self.port = options.port
        self._static = {path: (STATIC / name).read_bytes() for path, (name, _) in _PAGES.items()}

    @property
    def url(self) -> str:
        host = self._options.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}/"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard_host])
        for path in _PAGES:
            app.router.add_get(path, self._page)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/events", self._events)
        for action in ("pause", "resume", "flatten"):
            app.router.add_post(f"/api/{action}", self._control_handler(action))
        return app

    async def start(self) -> None:
        """Bind and serve; raises OSError (e.g. the port is in use) with nothing left running."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._options.host, self._options.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if runner.addresses:  # the port actually bound (the tests bind port 0)
            self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        await self._hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._flatten_task is not None and not self._flatten_task.done():
            await asyncio.wait([self._flatten_task], timeout=5.0)

    # -- read-only ---------------------------------------------------------------------------
    async def _page(self, request: web.Request) -> web.Response:
        _, content_type = _PAGES[request.path]
        return web.Response(body=self._static[request.path], content_type=content_type,
                            charset="utf-8", headers=_SECURITY_HEADERS)

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(text=self._hub.current(), content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        queue = self._hub.listen()
        try:
            last = self._hub.current()
            await response.write(_event(last))
            while True:
                try:
                    payload = await asyncio.wait_for(queue.get(), self._options.keepalive_s)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if payload is None:  # the server is stopping
                    break
                if payload != last:
                    last = payload
                    await response.write(_event(payload))
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        finally:
            self._hub.forget(queue)
        return response

    # -- guarded controls ----------------------------------------------------------------------
    def _control_handler(self, action: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self._control(request, action)
        return handle

    async def _control(self, request: web.Request, action: str) -> web.Response:
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else None
        if not token_matches(given, self._token):
            log.warning("status page: %s refused: %s control token (from %s)", action,
                        "no" if not given else "a wrong", request.remote)
            return web.json_response(
                {"error": f"{action} refused: send the control token as 'Authorization: Bearer "
                          "<token>' (printed at start and saved in the token file)"},
                status=401, headers={"WWW-Authenticate": 'Bearer realm="day-trader"'})
        with tracing.span("status.control", attrs={"status.action": action, "status.by": BY}):
            try:
                status, result = await self._act(action)
            except Exception as exc:
                log.error("status page: %s failed: %s: %s", action, type(exc).__name__, exc)
                self._record(action, f"failed: {type(exc).__name__}: {exc}")
                return web.json_response({"action": action, "result": "failed", "error": str(exc)},
                                         status=500)
        self._hub.poke()
        return web.json_response({"action": action, "result": result}, status=status)

    async def _act(self, action: str) -> tuple[int, str]:
        if action == "pause":
            self._controls.pause_entries(BY)
            self._record(action, "entries paused")
            return 200, "entries paused"
        if action == "resume":
            self._controls.resume_entries(BY)
            self._record(action, "entries resumed")
            return 200, "entries resumed"
        if self._flatten_task is not None and not self._flatten_task.done():
            return 202, "already flattening"
        self._record(action, "flatten started")
        context = tracing.current_context()
        self._flatten_task = asyncio.get_running_loop().create_task(self._flatten(context))
        return 202, "flatten started"

    async def _flatten(self, context: Any) -> None:
        with tracing.span_under(context, "status.flatten", attrs={"status.by": BY}):
            try:
                await self._controls.flatten_now(BY)
            except Exception as exc:
                log.error("status page: flatten failed: %s: %s", type(exc).__name__, exc)
                self._record("flatten", f"failed: {type(exc).__name__}: {exc}")
                raise
        self._record("flatten", "flatten finished")
        self._hub.poke()

    def _record(self, action: str, result: str) -> None:
        try:
            moment = self._clock().isoformat()
        except Exception:  # a clock gone with the broker must not lose the record
            moment = datetime.now(tz=ZoneInfo("America/New_York")).isoformat()
        record = {"time": moment, "action": action, "by": BY, "result": result}
        log.info("status page: %s by %s: %s", action, BY, result)
        if self._on_control is not None:
            try:
                self._on_control(record)
            except Exception as exc:
                log.warning("status page: could not add %s to the run log: %s", action, exc)

    # -- host guard ----------------------------------------------------------------------------
    @web.middleware
    async def _guard_host(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
        if is_loopback(self._options.host):
            host = (request.host or "").rsplit(":", 1)[0].strip("[]")
            if not is_loopback(host):
                return web.json_response(
                    {"error": f"Host {request.host!r} is not this machine: open {self.url}"},
                    status=421)
        return await handler(request)


def _event(payload: str) -> bytes:
    return f"event: status\ndata: {payload}\n\n".encode()

