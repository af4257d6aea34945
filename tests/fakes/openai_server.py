"""A local OpenAI-compatible chat server on loopback: the real LLM clients talk HTTP to it.

Tests script what it answers next (`reply`, `reply_status`, `reply_after`), and read what it was
asked (`requests`: the JSON bodies and the Authorization header), so a test can check both what
the bot does with an answer and that no secret ever reached a prompt. Serves `/chat/completions`
and `/v1/chat/completions` like DeepSeek, Ollama and vLLM.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(slots=True)
class Scripted:
    content: str = ""
    status: int = 200
    delay_s: float = 0.0


@dataclass(slots=True)
class SeenRequest:
    body: dict[str, Any]
    authorization: str

    @property
    def prompt_text(self) -> str:
        """Every message's text, joined: what the model was shown."""
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


@dataclass
class FakeOpenAIServer:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    _script: deque[Scripted] = field(default_factory=deque)
    _default: Scripted = field(default_factory=lambda: Scripted('{"summary": "ok"}'))
    _runner: web.AppRunner | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # -- scripting ----------------------------------------------------------------------------
    def reply(self, content: str | dict[str, Any], *, times: int = 1) -> None:
        text = content if isinstance(content, str) else json.dumps(content)
        for _ in range(times):
            self._script.append(Scripted(text))

    def reply_status(self, status: int, *, times: int = 1) -> None:
        for _ in range(times):
            self._script.append(Scripted('{"error": {"message": "scripted failure"}}', status))

    def reply_after(self, delay_s: float, content: str = '{"summary": "late"}') -> None:
        self._script.append(Scripted(content, 200, delay_s))

    def always(self, content: str | dict[str, Any]) -> None:
        self._default = Scripted(content if isinstance(content, str) else json.dumps(content))

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- server -------------------------------------------------------------------------------
    async def start(self) -> FakeOpenAIServer:
        app = web.Application()
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # bound (any free one when asked for 0)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(SeenRequest(body, request.headers.get("Authorization", "")))
        step = self._script.popleft() if self._script else self._default
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        if step.status != 200:
            return web.json_response(json.loads(step.content), status=step.status)
        return web.json_response({
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": step.content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })
