"""The hand-testing receiver prints one line per alert that apprise's json:// sends it."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import datetime

from aiohttp import web

from observability.alerts import events as ev
from observability.alerts.endpoints import Endpoint
from observability.alerts.notifier import Notifier, Policy
from observability.alerts.receiver import alert_line, build_app
from tests.observability.alerts.conftest import until
from tests.paths import REPO


def test_a_line_joins_the_message_lines() -> None:
    line = alert_line({"type": "failure", "title": "CRITICAL weekly: x", "message": "a\n\nb  c"},
                      datetime(2026, 3, 2, 10, 42, 7))
    assert line == "10:42:07 failure CRITICAL weekly: x: a / b c"


async def test_apprise_json_alerts_are_printed_one_line_each() -> None:
    lines: list[str] = []
    runner = web.AppRunner(build_app(lines.append, lambda: datetime(2026, 3, 2, 9, 30)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    notifier = Notifier([Endpoint.from_url(f"json://127.0.0.1:{port}/alerts")],
                        policy=Policy(windows={})).start()
    try:
        notifier.notify(ev.started(ev.DAY_TRADER, "DU1234567", 0.25, paper=True))
        await until(lambda: len(lines) == 1)
        notifier.notify(ev.loss_cap_hit(ev.DAY_TRADER, -2000.0, 2.0))
        await until(lambda: len(lines) == 2)
    finally:
        await notifier.aclose()
        await runner.cleanup()
    assert lines == [
        "09:30:00 info    INFO day trader: started: account ****4567 (paper), allocation 25%",
        "09:30:00 failure CRITICAL day trader: daily loss cap hit: day P&L -2,000.00 reached the "
        "2% loss cap: no new positions today",
    ]


def test_the_module_runs_and_says_where_it_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "observability.alerts.receiver", "--port",
                                str(port)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.strip() == (f"receiver: listening on http://127.0.0.1:{port}/ (set "
                                 f"ALERT_URLS=json://127.0.0.1:{port}/alerts); Ctrl-C to stop")
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
