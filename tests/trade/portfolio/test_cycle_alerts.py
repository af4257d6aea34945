"""The weekly cycle's alerts, delivered to a JSON webhook on loopback: one info alert with the
rebalance's orders and fills, a warning when FMP or the LLM fails when needed, none for a re-check
that trades nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from evaluation.llm import LLMEndpoint
from observability.alerts.endpoints import Endpoint
from observability.alerts.notifier import Notifier, Policy
from tests.fakes.alert_servers import FakeWebhook
from tests.fakes.fmp_server import SCREENER, FakeFMPServer, company
from tests.fakes.openai_server import FakeOpenAIServer
from tests.trade.portfolio.conftest import SYMBOLS
from trade.portfolio.cycle import CycleFailed
from trade.portfolio.fmp import FmpClient

FMP_KEY = "fmp-alert-key-0123456789abcdef"


@pytest.fixture
async def hook() -> AsyncIterator[FakeWebhook]:
    server = await FakeWebhook().start()
    yield server
    await server.stop()


def _notifier(hook: FakeWebhook) -> Notifier:
    return Notifier([Endpoint.from_url(hook.url)], policy=Policy(windows={})).start()


async def test_a_rebalance_is_one_info_alert_with_its_orders_and_fills(weekly_market, hook):
    market = await weekly_market()
    alerts = _notifier(hook)
    outcome = await market.cycle(alerts=alerts).run()
    await alerts.aclose()
    (alert,) = hook.received
    stats = outcome.report["stats"]
    assert stats["orders_sent"] == 6 and stats["fills"] == 6
    assert alert.body["type"] == "info"
    assert alert.body["title"] == "INFO weekly: rebalance 2019-02-11: done"
    assert alert.body["message"] == (
        f"2019-02-11: done; 6 orders, 6 fills, turnover {stats['turnover']:.1%}; "
        f"report {outcome.report_path}")


@pytest.mark.parametrize("recheck", [True, False], ids=["--interval re-check", "second run"])
async def test_a_recheck_that_trades_nothing_sends_nothing(weekly_market, hook, recheck):
    market = await weekly_market()
    await market.cycle().run()
    alerts = _notifier(hook)
    again = await market.cycle(alerts=alerts).run(recheck=recheck)
    await alerts.aclose()
    assert again.report["stats"]["orders_sent"] == 6  # the day's, all sent by the first run
    assert hook.received == [] and alerts.stats().notified == 0


async def test_fmp_down_is_a_warning_and_the_failed_rebalance_is_said(weekly_market, hook):
    fmp = await FakeFMPServer(FMP_KEY, [company(s, 1e11) for s in SYMBOLS]).start()
    fmp.fail(SCREENER, 401, times=5)
    market = await weekly_market()
    alerts = _notifier(hook)
    try:
        with pytest.raises(CycleFailed):
            await market.cycle(alerts=alerts, fmp=lambda: FmpClient(FMP_KEY, fmp.base_url)).run()
        await alerts.aclose()
    finally:
        await fmp.stop()
    texts = [f"{r.body['title']}|{r.body['message']}" for r in hook.received]
    assert "".join(r.raw for r in hook.received).count(FMP_KEY) == 0
    messages = [json.loads(r.raw) for r in hook.received]
    kinds = sorted((m["type"], m["title"]) for m in messages)
    everything = "\n".join(texts)
    assert "WARNING weekly: FMP unavailable" in everything
    assert "refused (401" in everything and "the weekly cycle stopped before any order" in everything
    assert "INFO weekly: rebalance 2019-02-11: failed before any order: FMP " in everything
    assert {k[0] for k in kinds} <= {"warning", "info"}


async def test_an_llm_that_answers_garbage_is_a_warning(weekly_market, hook):
    llm = await FakeOpenAIServer().start()
    llm.always("Sure! Buy them all.")
    endpoint = LLMEndpoint("local", "llama3.1", llm.base_url, None, 5.0, 0)
    market = await weekly_market()
    alerts = _notifier(hook)
    try:
        outcome = await market.cycle(alerts=alerts,
                                     choose_llm=lambda _open: (endpoint, "")).run()
        await alerts.aclose()
    finally:
        await llm.stop()
    assert outcome.status == "done"
    everything = "\n".join(f"{r.body['title']}|{r.body['message']}" for r in hook.received)
    assert "WARNING weekly: LLM unavailable|LLM error: invalid json" in everything
    assert "while rating the weekly candidates; the ranking uses the quantitative score only" \
        in everything
    assert "INFO weekly: rebalance 2019-02-11: done" in everything
