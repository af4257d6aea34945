"""A small Financial Modeling Prep client: the company screener and TTM key metrics.

Why it is careful: FMP authenticates with `apikey=` in the query string, so every URL is a
secret. aiohttp puts the URL into its exceptions (`ClientResponseError.request_info`), so no
exception text, log line or span of this module ever carries a URL: failures are described by
endpoint path and status only, and any text that does leave (FMP's own error message) passes
`scrub` first. Requests are spaced by a rate limit, time out, and are retried with exponential
backoff on 429, 5xx, timeouts and dropped connections (honouring `Retry-After`, capped);
a refused key (401/403) or a malformed answer is not retried. After the last attempt the
caller gets one `FmpError` line and the cycle stops before any order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://financialmodelingprep.com"
SCREENER_PATH = "/stable/company-screener"
KEY_METRICS_PATH = "/stable/key-metrics-ttm"
_RETRY_STATUSES = {429, 500, 502, 503, 504}
_APIKEY_IN_TEXT = re.compile(r"(apikey=)[^&\s'\"]+", re.IGNORECASE)
MAX_RETRY_AFTER_S = 30.0


class FmpError(Exception):
    """FMP could not answer usefully; `str()` is one line without the key or any URL."""


def scrub(text: str, key: str = "") -> str:
    """`text` with the API key (and any `apikey=` value) replaced by `***`."""
    if key:
        text = text.replace(key, "***")
    return _APIKEY_IN_TEXT.sub(r"\1***", text)


@dataclass(slots=True)
class _RateLimit:
    """At most `per_second` request starts per second (evenly spaced, not bursty)."""

    per_second: float
    _next: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def wait(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = self._next
            self._next = now + 1.0 / self.per_second


class FmpClient:
    """`async with FmpClient(key) as fmp: await fmp.screener(...)`."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_s: float = 10.0,
        attempts: int = 4,
        backoff_s: float = 1.0,
        rate_per_second: float = 5.0,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is empty: set FMP_API_KEY, or run without FMP")
        self._key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._rate = _RateLimit(rate_per_second)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0  # sent, retries included (what a rate budget counts)

    def __repr__(self) -> str:
        return f"FmpClient(base_url={self.base_url!r}, api_key='***')"

    async def __aenter__(self) -> FmpClient:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s), raise_for_status=False
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- endpoints ----------------------------------------------------------------------------
    async def screener(self, min_market_cap: float, limit: int = 10_000) -> list[dict[str, Any]]:
        """Actively trading US-listed companies above `min_market_cap` (FMP's own filter)."""
        data = await self._get(SCREENER_PATH, {
            "marketCapMoreThan": str(int(min_market_cap)), "isActivelyTrading": "true",
            "limit": str(limit),
        })
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise FmpError(f"FMP {SCREENER_PATH}: expected a list of companies, got "
                           f"{type(data).__name__}: check FMP_BASE_URL")
        return data

    async def key_metrics_ttm(self, symbol: str) -> dict[str, Any]:
        """Trailing-twelve-month key metrics of `symbol` ({} when FMP has none)."""
        data = await self._get(KEY_METRICS_PATH, {"symbol": symbol})
        if isinstance(data, list):
            return data[0] if data and isinstance(data[0], dict) else {}
        if isinstance(data, dict):
            return data
        raise FmpError(f"FMP {KEY_METRICS_PATH} for {symbol}: unexpected answer "
                       f"{type(data).__name__}: check FMP_BASE_URL")

    # -- transport ------------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, str]) -> Any:
        if self._session is None:
            raise RuntimeError("use `async with FmpClient(...)` before requests")
        url = self.base_url + path
        query = {**params, "apikey": self._key}
        last = ""
        for attempt in range(1, self.attempts + 1):
            await self._rate.wait()
            self.requests += 1
            retry_after: float | None = None
            try:
                async with self._session.get(url, params=query) as response:
                    status = response.status
                    text = await response.text()
                    header = response.headers.get("Retry-After", "")
                    retry_after = float(header) if header.replace(".", "", 1).isdigit() else None
            except TimeoutError:
                last = f"timed out after {self.timeout_s:g}s"
            except aiohttp.ClientError as exc:
                last = f"connection failed ({type(exc).__name__})"
            else:
                if status == 200:
                    return self._decode(path, text)
                if status in (401, 403):
                    raise FmpError(f"FMP {path}: refused ({status}: {self._message(text)}): "
                                   "check FMP_API_KEY and your plan")
                if status not in _RETRY_STATUSES:
                    raise FmpError(f"FMP {path}: HTTP {status} ({self._message(text)}): "
                                   "check FMP_BASE_URL")
                last = ("rate limited (429)" if status == 429
                        else f"HTTP {status} ({self._message(text)})")
            if attempt < self.attempts:
                delay = self.backoff_s * 2 ** (attempt - 1)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
                log.warning("FMP %s: %s; retry %d/%d in %.1fs", path, last, attempt,
                            self.attempts - 1, delay)
                await asyncio.sleep(delay)
        advice = ("wait for the quota to reset or lower the request rate" if "429" in last
                  else "check the network and FMP_BASE_URL, or unset FMP_API_KEY to screen "
                  "from IB history alone")
        raise FmpError(f"FMP {path}: {last} after {self.attempts} attempts: {advice}")

    def _decode(self, path: str, text: str) -> Any:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise FmpError(f"FMP {path}: the answer is not JSON: check FMP_BASE_URL") from None
        if isinstance(data, dict) and "Error Message" in data:
            raise FmpError(f"FMP {path}: {self._message(text)}: check FMP_API_KEY and your plan")
        return data

    def _message(self, text: str) -> str:
        """FMP's own error text (one line, scrubbed, short), or a placeholder."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = text
        if isinstance(data, dict):
            message = data.get("Error Message") or data.get("message") or ""
        else:
            message = data if isinstance(data, str) else ""
        return scrub(" ".join(str(message).split()), self._key)[:160] or "no message"
