"""The status server over real HTTP on loopback: read-only API, live updates, guarded controls."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from observability.tracing import setup_tracing
from tests.observability.otlp_receiver import OtlpHttpReceiver
from tests.ui.fake_trader import FakeTrader
from ui.status.hub import SnapshotHub
from ui.status.server import StatusOptions, StatusServer

TOKEN = "t0k3n-for-tests-0123456789abcdef"


class Served:
    def __init__(self, trader: FakeTrader, server: StatusServer, http: aiohttp.ClientSession) -> None:
        self.trader, self.server, self.http = trader, server, http
        self.records: list[dict[str, Any]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    async def post(self, action: str, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with self.http.post(self.url(f"/api/{action}"), headers=headers) as reply:
            return reply.status, await reply.json()

    async def status(self) -> dict[str, Any]:
        async with self.http.get(self.url("/api/status")) as reply:
            assert reply.status == 200
            return await reply.json()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    trader = FakeTrader()
    trader.hold("SPY", 40, 620.0)
    records: list[dict[str, Any]] = []
    server = StatusServer(trader, TOKEN, StatusOptions(port=0, interval_s=0.05),
                          on_control=records.append, clock=lambda: trader.now)
    await server.start()
    async with aiohttp.ClientSession() as http:
        s = Served(trader, server, http)
        s.records = records
        yield s
    await server.stop()


async def test_the_page_is_served_with_a_strict_content_security_policy(served: Served) -> None:
    async with served.http.get(served.url("/")) as reply:
        body = await reply.text()
        assert reply.status == 200
        policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert 'id="positions"' in body and '<script src="/status.js"' in body
    async with served.http.get(served.url("/status.js")) as reply:
        assert reply.status == 200 and "EventSource" in await reply.text()


async def test_the_api_returns_the_traders_snapshot(served: Served) -> None:
    served.trader.bar("SPY", 622.5, "hold", "RSI 64.2 >= 60")
    snapshot = await served.status()
    assert snapshot["positions"][0]["symbol"] == "SPY"
    assert snapshot["positions"][0]["unrealized"] == pytest.approx(100.0)
    assert snapshot["decisions"]["SPY"]["reason"] == "RSI 64.2 >= 60"
    assert [e["type"] for e in snapshot["positions"][0]["exits"]] == ["LMT", "STP"]


@pytest.mark.parametrize("token", [None, "", "wrong-token-wrong-token-wrong"])
@pytest.mark.parametrize("action", ["pause", "resume", "flatten"])
async def test_a_control_without_the_token_is_401_and_changes_nothing(
    served: Served, action: str, token: str | None
) -> None:
    served.trader.entries_paused = "health" if action == "resume" else None
    before = await served.status()
    status, body = await served.post(action, token)
    assert status == 401
    assert "token" in body["error"]
    await asyncio.sleep(0.1)  # a flatten would have started by now
    assert served.trader.calls == []
    assert await served.status() == before
    assert served.records == []


async def test_pause_and_resume_with_the_token_reach_the_trader_and_the_run_log(served: Served) -> None:
    status, body = await served.post("pause")
    assert (status, body["result"]) == (200, "entries paused")
    assert (await served.status())["entries_paused"] == "status page"
    served.trader.bar("SPY", 621.0)
    status, _ = await served.post("resume")
    assert status == 200
    assert served.trader.calls == [("pause", "status page"), ("resume", "status page")]
    assert [(r["action"], r["by"], r["time"]) for r in served.records] == [
        ("pause", "status page", "2025-07-03T10:00:00-04:00"),
        ("resume", "status page", "2025-07-03T10:01:00-04:00"),
    ]


async def test_flatten_runs_in_the_background_once_and_is_recorded_when_done(served: Served) -> None:
    served.trader.flatten_gate = asyncio.Event()
    first = await served.post("flatten")
    second = await served.post("flatten")
    assert first == (202, {"action": "flatten", "result": "flatten started"})
    assert second == (202, {"action": "flatten", "result": "already flattening"})
    assert (await served.status())["flattening"] is True
    served.trader.flatten_gate.set()
    for _ in range(100):
        if served.records[-1]["result"] == "flatten finished":
            break
        await asyncio.sleep(0.01)
    snapshot = await served.status()
    assert snapshot["positions"] == [] and snapshot["flat_at"] is not None
    assert served.trader.calls == [("flatten", "status page")]
    assert [r["result"] for r in served.records] == ["flatten started", "flatten finished"]


async def _events(http: aiohttp.ClientSession, url: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    async with http.get(url) as reply:
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        async for raw in reply.content:
            line = raw.decode().strip()
            if line.startswith("data: "):
                found.append(json.loads(line[6:]))
                if len(found) == count:
                    return found
    return found


async def test_live_updates_push_each_new_snapshot(served: Served) -> None:
    listener = asyncio.create_task(_events(served.http, served.url("/api/events"), 3))
    await asyncio.sleep(0.2)
    served.trader.bar("SPY", 623.0, "hold", "RSI 61.0 >= 60")
    await asyncio.sleep(0.2)
    served.trader.bar("SPY", 624.0, "enter", "close 624.00 > vwap 622.10, rsi 55.0 < 60")
    events = await asyncio.wait_for(listener, 5)
    assert [e["time"][11:16] for e in events] == ["10:00", "10:01", "10:02"]
    assert events[-1]["decisions"]["SPY"]["verdict"] == "enter"


async def test_one_poll_serves_every_listener_and_nobody_listening_costs_nothing() -> None:
    trader = FakeTrader()
    hub = SnapshotHub(trader.status_snapshot, interval_s=3600)
    await asyncio.sleep(0.05)
    assert trader.snapshots_taken == 0  # no page open: the trader is never asked
    queues = [hub.listen() for _ in range(3)]
    first = [await asyncio.wait_for(q.get(), 1) for q in queues]
    assert trader.snapshots_taken == 1 and len(set(first)) == 1
    trader.bar("SPY", 1.0)
    hub.poke()
    second = [await asyncio.wait_for(q.get(), 1) for q in queues]
    assert trader.snapshots_taken == 2 and second[0] != first[0]
    hub.poke()  # nothing changed: nothing is sent
    await asyncio.sleep(0.05)
    assert trader.snapshots_taken == 3 and all(q.empty() for q in queues)
    await hub.close()
    assert [q.get_nowait() for q in queues] == [None, None, None]


async def test_a_failing_snapshot_never_breaks_the_page(served: Served) -> None:
    good = await served.status()
    served.trader.fail_snapshot = True
    await asyncio.sleep(0.06)
    assert await served.status() == good  # the last good snapshot stays
    served.trader.fail_snapshot = False
    served.trader.bar("SPY", 625.0)
    await asyncio.sleep(0.06)
    assert (await served.status())["time"] != good["time"]


async def test_a_request_naming_another_host_is_refused(served: Served) -> None:
    headers = {"Host": f"attacker.example:{served.server.port}"}
    async with served.http.get(served.url("/api/status"), headers=headers) as reply:
        assert reply.status == 421
    async with served.http.post(served.url("/api/pause"),
                                headers={**headers, "Authorization": f"Bearer {TOKEN}"}) as reply:
        assert reply.status == 421
    assert served.trader.calls == []
    async with served.http.get(served.url("/api/status"),
                               headers={"Host": f"localhost:{served.server.port}"}) as reply:
        assert reply.status == 200


async def test_stop_ends_open_event_streams() -> None:
    trader = FakeTrader()
    server = StatusServer(trader, TOKEN, StatusOptions(port=0, interval_s=0.05))
    await server.start()
    async with aiohttp.ClientSession() as http:
        listener = asyncio.create_task(_events(http, f"http://127.0.0.1:{server.port}/api/events", 99))
        await asyncio.sleep(0.2)
        await asyncio.wait_for(server.stop(), 5)
        assert len(await asyncio.wait_for(listener, 5)) >= 1
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass


async def test_every_control_action_is_traced() -> None:
    with OtlpHttpReceiver() as receiver:
        handle = setup_tracing("day-trader", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
        trader = FakeTrader()
        server = StatusServer(trader, TOKEN, StatusOptions(port=0))
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                for action in ("pause", "flatten"):
                    async with http.post(f"http://127.0.0.1:{server.port}/api/{action}",
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as reply:
                        assert reply.status in (200, 202)
        finally:
            await server.stop()
            handle.shutdown()
        spans = receiver.wait_for_spans(3)
    controls = {s.attributes["status.action"]: s for s in spans if s.name == "status.control"}
    assert set(controls) == {"pause", "flatten"}
    [flatten] = [s for s in spans if s.name == "status.flatten"]
    assert flatten.trace_id == controls["flatten"].trace_id
    assert all(TOKEN not in json.dumps(s.attributes) for s in spans)
