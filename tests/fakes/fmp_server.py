"""A loopback imitation of Financial Modeling Prep's endpoints the weekly screener uses.

Serves `/stable/company-screener` (filtered by `marketCapMoreThan`, `limit`) and
`/stable/key-metrics-ttm?symbol=` with FMP's shapes, and answers like FMP when things go wrong:
401 with an "Error Message" for a wrong `apikey`, 429 "Limit Reach" (optionally with
`Retry-After`), 5xx, a 200 that carries an "Error Message", a body that is not JSON, and slow
answers (for client timeouts). Tests script failures per path and read `requests` (path and
query) to count attempts and check what was sent.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SCREENER = "/stable/company-screener"
KEY_METRICS = "/stable/key-metrics-ttm"
INVALID_KEY = ("Invalid API KEY. Feel free to create a Free API Key or visit "
               "https://site.financialmodelingprep.com/faqs for more information.")
LIMIT_REACHED = ("Limit Reach . Please upgrade your plan or visit our documentation for more "
                 "details at https://site.financialmodelingprep.com/")


@dataclass(slots=True)
class Scripted:
    status: int = 200
    body: str | None = None  # None: the normal answer
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SeenRequest:
    path: str
    query: dict[str, str]


def company(symbol: str, market_cap: float, **extra: Any) -> dict[str, Any]:
    """One screener row in FMP's shape."""
    return {"symbol": symbol, "companyName": f"{symbol} Inc.", "marketCap": market_cap,
            "sector": "Technology", "industry": "Software", "beta": 1.1, "price": 100.0,
            "lastAnnualDividend": 0.5, "volume": 5_000_000, "exchange": "NASDAQ Global Select",
            "exchangeShortName": "NASDAQ", "country": "US", "isEtf": False, "isFund": False,
            "isActivelyTrading": True, **extra}


@dataclass
class FakeFMPServer:
    api_key: str = "fmp-test-key-0123456789"
    companies: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    _script: dict[str, deque[Scripted]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    # -- scripting ----------------------------------------------------------------------------
    def fail(self, path: str, status: int, *, times: int = 1, body: str | None = None,
             retry_after: float | None = None) -> None:
        if body is None:
            message = LIMIT_REACHED if status == 429 else INVALID_KEY if status == 401 else \
                "Internal Server Error"
            body = json.dumps({"Error Message": message})
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        for _ in range(times):
            self._script.setdefault(path, deque()).append(Scripted(status, body, 0.0, headers))

    def answer(self, path: str, body: str, *, times: int = 1) -> None:
        """A 200 with this exact body (e.g. an "Error Message" object, or not JSON at all)."""
        for _ in range(times):
            self._script.setdefault(path, deque()).append(Scripted(200, body))

    def slow(self, path: str, delay_s: float, *, times: int = 1) -> None:
        for _ in range(times):
            self._script.setdefault(path, deque()).append(Scripted(200, None, delay_s))

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- server -------------------------------------------------------------------------------
    async def start(self) -> FakeFMPServer:
        app = web.Application()
        app.router.add_get(SCREENER, self._screener)
        app.router.add_get(KEY_METRICS, self._key_metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # bound (any free one when asked for 0)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _scripted(self, request: web.Request) -> web.Response | None:
        self.requests.append(SeenRequest(request.path, dict(request.query)))
        queue = self._script.get(request.path)
        step = queue.popleft() if queue else Scripted()
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        if request.query.get("apikey") != self.api_key:
            return web.json_response({"Error Message": INVALID_KEY}, status=401)
        if step.body is not None or step.status != 200:
            return web.Response(status=step.status, text=step.body or "",
                                content_type="application/json", headers=step.headers)
        return None

    async def _screener(self, request: web.Request) -> web.Response:
        scripted = await self._scripted(request)
        if scripted is not None:
            return scripted
        floor = float(request.query.get("marketCapMoreThan", "0"))
        limit = int(request.query.get("limit", "1000"))
        rows = [c for c in self.companies if c["marketCap"] > floor][:limit]
        return web.json_response(rows)

    async def _key_metrics(self, request: web.Request) -> web.Response:
        scripted = await self._scripted(request)
        if scripted is not None:
            return scripted
        found = self.metrics.get(request.query.get("symbol", "").upper())
        return web.json_response([{"symbol": request.query.get("symbol"), **found}]
                                 if found else [])
