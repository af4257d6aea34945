"""Loopback imitations of the alert endpoints apprise talks to, on aiohttp.

- `FakeTelegram`: the Bot API's `POST /bot<TOKEN>/sendMessage` (JSON `chat_id`, `text`,
  `parse_mode`), answering `{"ok": true, "result": {...}}`, 401 "Unauthorized" for another token
  and 400 "Bad Request: chat not found" for another chat, like api.telegram.org.
- `FakeSlack`: an incoming webhook, `POST /services/T.../B.../X...`, answering the text `ok`
  (Slack's webhook reply), 404 `no_service` for any other path.
- `FakeWebhook`: a generic JSON endpoint for apprise's `json://host:port/path`.

Apprise has no URL parameter to point `tgram://` or `slack://` at another host (their base URLs
are class constants: `NotifyTelegram.notify_url`, `NotifySlack.webhook_url`), so `route()` sets
that attribute on the one plugin instance under test; everything else (the request, the payload,
the reading of the answer) is apprise's own code, unchanged.

Each server records what it received (`received`, bodies as parsed JSON) and can be scripted to
fail (`fail(status, times)`) or to hang (`hang()`: requests are held until `release()`), which is
how tests show that a slow or broken endpoint costs the bot nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from observability.alerts.endpoints import Endpoint

_DIGEST = re.compile(r"^[A-Z]+ .+: \d+ alerts \(")


@dataclass(slots=True)
class Received:
    path: str
    body: Any  # parsed JSON (or the raw text when it is not JSON)
    raw: str

    def text(self) -> str:
        """Everything the endpoint was sent, as one string (for "no secret anywhere" checks)."""
        return f"{self.path}\n{self.raw}"


@dataclass
class _LoopbackEndpoint:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    requests_seen: int = 0  # including the ones failed or held
    held: int = 0  # requests waiting on a hang right now
    _script: deque[int] = field(default_factory=deque)
    _hanging: bool = False
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None

    # -- scripting --------------------------------------------------------------------------
    def fail(self, status: int, *, times: int = 1) -> None:
        self._script.extend([status] * times)

    def hang(self) -> None:
        """Hold every request from now on until `release()` (or the server stops)."""
        self._hanging = True
        self._release.clear()

    def release(self) -> None:
        self._hanging = False
        self._release.set()

    async def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        """Until `predicate(self)` holds (a count, not a time, decides what the test checks)."""
        assert self._arrived is not None

        async def until() -> None:
            assert self._arrived is not None
            async with self._arrived:
                await self._arrived.wait_for(lambda: predicate(self))

        await asyncio.wait_for(until(), timeout)

    async def wait_for_messages(self, n: int, timeout: float = 15.0) -> list[Received]:
        await self.wait_for(lambda s: len(s.received) >= n, timeout)
        return self.received

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- server -----------------------------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        self._arrived = asyncio.Condition()
        app = web.Application()
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # bound (any free one when asked for 0)
        return self

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notify(self) -> None:
        assert self._arrived is not None
        async with self._arrived:
            self._arrived.notify_all()

    async def _gate(self, request: web.Request) -> tuple[web.Response | None, str]:
        """Count the request, hold it while hanging, answer a scripted failure."""
        raw = await request.text()
        self.requests_seen += 1
        await self._notify()
        if self._hanging:
            self.held += 1
            await self._notify()
            try:
                await self._release.wait()
            finally:
                self.held -= 1
        if self._script:
            status = self._script.popleft()
            return web.Response(status=status, text=f"scripted failure {status}"), raw
        return None, raw

    async def _record(self, request: web.Request, raw: str) -> None:
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        self.received.append(Received(request.path, body, raw))
        await self._notify()


@dataclass
class FakeTelegram(_LoopbackEndpoint):
    token: str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
    chat_id: str = "987654321"

    @property
    def url(self) -> str:
        """The apprise URL a user would configure (then `route()` the endpoint here)."""
        return f"tgram://{self.token}/{self.chat_id}"

    def route(self, endpoint: Endpoint) -> Endpoint:
        endpoint.plugin.notify_url = f"{self.base_url}/bot"  # type: ignore[attr-defined]
        return endpoint

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._method)

    async def _method(self, request: web.Request) -> web.Response:
        failed, raw = await self._gate(request)
        if failed is not None:
            return failed
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        if method != "sendMessage":
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found"}, status=404)
        body = json.loads(raw or "{}")
        if str(body.get("chat_id")) != self.chat_id:
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: chat not found"}, status=400)
        await self._record(request, raw)
        return web.json_response({"ok": True, "result": {
            "message_id": len(self.received), "date": 0, "text": body.get("text", ""),
            "chat": {"id": int(self.chat_id), "type": "private"}}})

    def texts(self) -> list[str]:
        return [str(r.body.get("text", "")) for r in self.received]


@dataclass
class FakeSlack(_LoopbackEndpoint):
    tokens: tuple[str, str, str] = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7")

    @property
    def url(self) -> str:
        return "slack://{}/{}/{}/#trading".format(*self.tokens)

    def route(self, endpoint: Endpoint) -> Endpoint:
        endpoint.plugin.webhook_url = f"{self.base_url}/services"  # type: ignore[attr-defined]
        return endpoint

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/services/{a}/{b}/{c}", self._webhook)

    async def _webhook(self, request: web.Request) -> web.Response:
        failed, raw = await self._gate(request)
        if failed is not None:
            return failed
        got = (request.match_info["a"], request.match_info["b"], request.match_info["c"])
        if got != self.tokens:
            return web.Response(status=404, text="no_service")
        await self._record(request, raw)
        return web.Response(text="ok")

    def texts(self) -> list[str]:
        """The visible text of each message (apprise puts it in an attachment)."""
        out = []
        for r in self.received:
            parts = [str(r.body.get("text", ""))]
            for attachment in r.body.get("attachments", []):
                parts += [str(attachment.get("title", "")), str(attachment.get("text", ""))]
            out.append("\n".join(p for p in parts if p))
        return out


@dataclass
class FakeWebhook(_LoopbackEndpoint):
    path: str = "/alerts"

    @property
    def url(self) -> str:
        return f"json://{self.host}:{self.port}{self.path}"

    def _routes(self, app: web.Application) -> None:
        app.router.add_post(self.path, self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        failed, raw = await self._gate(request)
        if failed is not None:
            return failed
        await self._record(request, raw)
        return web.json_response({"received": True})

    def texts(self) -> list[str]:
        return [f"{r.body.get('title', '')}\n{r.body.get('message', '')}" for r in self.received]

    def types(self) -> list[str]:
        return [str(r.body.get("type", "")) for r in self.received]

    def alerts(self) -> list[str]:
        """Every alert received, one `HEADLINE: text` each, in the order the messages came: a
        digest's lines are unpacked (within a digest the most urgent come first)."""
        out: list[str] = []
        for r in self.received:
            title, message = str(r.body.get("title", "")), str(r.body.get("message", ""))
            lines = [line for line in message.splitlines() if not line.startswith("status page:")]
            digest = [line[2:] for line in lines if line.startswith("- ") and
                      not line.startswith("- and ")]
            out.extend(digest if _DIGEST.match(title) else [f"{title}: {lines[0] if lines else ''}"])
        return out
