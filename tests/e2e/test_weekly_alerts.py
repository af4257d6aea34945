"""`main.py` with ALERT_URLS pointed at a JSON webhook on loopback: the owner hears that the bot
started and how the rebalance went, or at once that its account was refused, and no secret rides
along."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.weekly_harness import ServerThread, report, run_weekly, start_gateway, write_universe
from tests.fakes.alert_servers import FakeWebhook

pytestmark = [pytest.mark.e2e]
DAY = "2019-02-11"
SYMBOLS = ["KO", "PEP", "MSFT"]


def _run(tmp_path: Path, hook: FakeWebhook, *extra: str):  # noqa: ANN202 - CompletedProcess
    universe = write_universe(tmp_path, SYMBOLS, {"top_k": 3, "max_weight": 0.3})
    gateway = start_gateway(DAY, SYMBOLS)
    try:
        return run_weekly(tmp_path, "--allocation", "0.5", "--once", "--port", str(gateway.port),
                          "--universe", str(universe), "--db", str(tmp_path / "w.db"), *extra,
                          env={"ALERT_URLS": hook.url})
    finally:
        gateway.stop()


def test_a_weekly_run_tells_its_start_and_its_rebalance_in_order(tmp_path):
    with ServerThread(FakeWebhook()) as hook:
        result = _run(tmp_path, hook)
        received = list(hook.received)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "weekly: alerts: 1 endpoint(s): json://…" in result.stdout
    stats = report(tmp_path, DAY)["stats"]
    titles = [r.body["title"] for r in received]
    assert titles == ["INFO weekly: started", f"INFO weekly: rebalance {DAY}: done"]
    assert received[0].body["message"].startswith("account ****") and \
        "(paper), allocation 50%; one cycle now" in received[0].body["message"]
    assert received[1].body["message"].startswith(
        f"{DAY}: done; {stats['orders_sent']} orders, {stats['fills']} fills")
    # the full account id is in no alert and no line of output
    assert not re.search(r"\bDU\d{5,}", result.stdout + result.stderr + received[0].raw)


def test_an_unknown_account_is_a_critical_alert_and_exit_2(tmp_path):
    """Both bots mean the same by an exit code (trade/startup.py): a refused account is 2."""
    with ServerThread(FakeWebhook()) as hook:
        result = _run(tmp_path, hook, "--account", "DU9999999")
        received = list(hook.received)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("main.py: error: --account ****9999")
    (alert,) = received
    assert alert.body["type"] == "failure"
    assert alert.body["title"] == "CRITICAL weekly: account refused"
    assert alert.body["message"].startswith("the account: --account ****9999 is not an account")
    assert "DU9999999" not in alert.raw
