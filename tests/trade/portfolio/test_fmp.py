"""The FMP client against a loopback imitation of FMP: answers, retries with backoff on 429 /
5xx / timeouts, no retry on a refused key or garbage, a rate limit, and the key in no text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from tests.fakes.fmp_server import KEY_METRICS, SCREENER, FakeFMPServer, company
from trade.portfolio.fmp import FmpClient, FmpError, scrub

KEY = "fmp-test-key-0123456789"


@pytest.fixture
async def fmp_server() -> AsyncIterator[FakeFMPServer]:
    server = FakeFMPServer(api_key=KEY, companies=[company("AAPL", 2e12), company("TINY", 5e8)],
                           metrics={"AAPL": {"earningsYieldTTM": 0.034, "returnOnEquityTTM": 1.5}})
    await server.start()
    yield server
    await server.stop()


def client(server: FakeFMPServer, key: str = KEY, **kwargs) -> FmpClient:
    options = {"timeout_s": 2.0, "attempts": 3, "backoff_s": 0.01, "rate_per_second": 1000.0}
    return FmpClient(key, server.base_url, **{**options, **kwargs})


def assert_no_key(text: str) -> None:
    assert KEY not in text and "apikey=" not in text.lower().replace("apikey=***", "")


async def test_screener_and_key_metrics_answer_in_fmp_shapes(fmp_server):
    async with client(fmp_server) as fmp:
        listed = await fmp.screener(min_market_cap=1e9)
        metrics = await fmp.key_metrics_ttm("AAPL")
        missing = await fmp.key_metrics_ttm("ZZZZ")
    assert [row["symbol"] for row in listed] == ["AAPL"]
    assert metrics["earningsYieldTTM"] == 0.034 and missing == {}
    sent = fmp_server.requests[0]
    assert sent.path == SCREENER and sent.query["apikey"] == KEY
    assert sent.query["marketCapMoreThan"] == "1000000000"


async def test_429_is_retried_with_backoff_then_succeeds(fmp_server, caplog):
    fmp_server.fail(SCREENER, 429, times=2, retry_after=0.02)
    with caplog.at_level(logging.WARNING, logger="trade.portfolio.fmp"):
        async with client(fmp_server) as fmp:
            assert [r["symbol"] for r in await fmp.screener(1e9)] == ["AAPL"]
    assert fmp_server.count(SCREENER) == 3
    assert "retry 1/2" in caplog.text and "retry 2/2" in caplog.text
    assert "rate limited (429)" in caplog.text
    assert_no_key(caplog.text)


async def test_a_quota_that_stays_exhausted_is_one_line_without_the_key(fmp_server, caplog):
    fmp_server.fail(SCREENER, 429, times=5)
    with caplog.at_level(logging.DEBUG):
        async with client(fmp_server) as fmp:
            with pytest.raises(FmpError) as failure:
                await fmp.screener(1e9)
    message = str(failure.value)
    assert message == (f"FMP {SCREENER}: rate limited (429) after 3 attempts: wait for the quota "
                       "to reset or lower the request rate")
    assert fmp_server.count(SCREENER) == 3
    assert_no_key(message)
    assert_no_key(caplog.text)


async def test_a_refused_key_is_not_retried(fmp_server, caplog):
    with caplog.at_level(logging.DEBUG):
        async with client(fmp_server, key="wrong-key-9876543210") as fmp:
            with pytest.raises(FmpError, match=r"refused \(401: Invalid API KEY.*check FMP_API_KEY"):
                await fmp.key_metrics_ttm("AAPL")
    assert fmp_server.count(KEY_METRICS) == 1
    assert "wrong-key-9876543210" not in caplog.text


async def test_server_errors_and_timeouts_are_retried(fmp_server):
    fmp_server.fail(KEY_METRICS, 503)
    fmp_server.slow(KEY_METRICS, 0.5)
    async with client(fmp_server, timeout_s=0.2) as fmp:
        assert (await fmp.key_metrics_ttm("AAPL"))["returnOnEquityTTM"] == 1.5
    assert fmp_server.count(KEY_METRICS) == 3


async def test_a_server_that_stays_slow_is_a_timeout(fmp_server):
    fmp_server.slow(SCREENER, 0.5, times=3)
    async with client(fmp_server, timeout_s=0.1) as fmp:
        with pytest.raises(FmpError, match=r"timed out after 0.1s after 3 attempts"):
            await fmp.screener(1e9)


@pytest.mark.parametrize(("body", "expected"), [
    ('{"Error Message": "Exclusive Endpoint: not available under your plan"}',
     "Exclusive Endpoint: not available under your plan: check FMP_API_KEY"),
    ("<html>gateway says hi</html>", "the answer is not JSON"),
    ('{"weird": true}', "expected a list of companies, got dict"),
])
async def test_garbage_answers_are_one_line_and_not_retried(fmp_server, body, expected):
    fmp_server.answer(SCREENER, body)
    async with client(fmp_server) as fmp:
        with pytest.raises(FmpError, match=expected):
            await fmp.screener(1e9)
    assert fmp_server.count(SCREENER) == 1


async def test_an_unreachable_host_is_a_connection_failure():
    server = await FakeFMPServer(api_key=KEY).start()
    url = server.base_url
    await server.stop()
    async with FmpClient(KEY, url, attempts=2, backoff_s=0.01) as fmp:
        with pytest.raises(FmpError, match="connection failed") as failure:
            await fmp.screener(1e9)
    assert_no_key(str(failure.value))
    assert url not in str(failure.value)


async def test_requests_are_spaced_by_the_rate_limit(fmp_server):
    async with client(fmp_server, rate_per_second=20.0) as fmp:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(fmp.key_metrics_ttm("AAPL") for _ in range(5)))
        assert loop.time() - started >= 4 / 20.0 - 0.01  # 5 starts, 4 gaps of 50 ms at least
    assert fmp.requests == 5


def test_the_key_is_scrubbed_from_any_text_and_repr():
    text = f"GET https://x/stable/company-screener?limit=5&apikey={KEY}&x=1 failed ({KEY})"
    assert scrub(text, KEY) == ("GET https://x/stable/company-screener?limit=5&apikey=***&x=1 "
                                "failed (***)")
    assert KEY not in repr(FmpClient(KEY))
