"""`day_trader.py` with ALERT_URLS pointed at loopback endpoints (a JSON webhook on aiohttp, an SMTP
server on aiosmtpd) through a day against the Gateway simulator in its own process, each
condition forced with the simulator's own fault hooks (its admin port), never by reaching into
the bot:

- a position without exits: IB refuses the bot's exits (`reject-orders ... action=SELL`) until
  the alert has come; the market is held still meanwhile (`speed step`);
- the daily loss cap: a cap so small (DAILY_LOSS_CAP_PCT) that the first loss reaches it;
- the Gateway down across the flatten while holding (`restart N` with the clock moved past the
  close meanwhile): the broker-held backstop sells, the bot cannot act and must say so.

Each sends exactly the expected alerts in the order they happened, to both endpoints, with no
secret in any payload (the URLs' token and password, the full account id). Alerts carry the
bot's market time ("HH:MM ET"), which is how their order is checked against the run log.

Wall time: each day is a half day (SPY, 2025-07-03) at 600x: about 95 s for the three on 2 busy cores.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    DATA,
    PYTHON,
    GatewayProcess,
    bot_env,
    run_log,
    wait_until,
    write_watchlist,
)
from tests.e2e.weekly_harness import ServerThread
from tests.fakes.alert_servers import FakeWebhook
from tests.fakes.smtp_server import FakeSMTP
from tests.paths import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HALF_DAY = "2025-07-03"  # closes 13:00: entries until 12:30, flatten 12:55, backstop 12:57
ACCOUNT = "DU1234567"  # the simulator's paper account: only ****4567 may ever be shown
HOOK_TOKEN = "hook-tok-5f2c9e7d1a"  # a webhook's secret path, as a hosted endpoint has
HOOK_PASSWORD = "hook-pass-8b3e0f4c"  # json://user:password@...: apprise sends it as basic auth
SPEED = "600"
HOLD_ALL_DAY = {"profit_target": 0.3, "stop_loss": 0.3}  # exits out of reach: held to the flatten
SPY = {"atr_min_pct": 0.0002, "atr_timeframe": "1 min"}
_CLOCK = re.compile(r": (\d\d:\d\d) ET ")


@dataclass
class Endpoints:
    hook: FakeWebhook
    smtp: FakeSMTP

    @property
    def urls(self) -> str:
        base = self.hook.url.replace("json://", f"json://alerts:{HOOK_PASSWORD}@")
        return f"{base} {self.smtp.url()}"

    def alerts(self) -> list[str]:
        return self.hook.alerts()

    def payloads(self) -> list[str]:
        return [r.raw for r in self.hook.received] + [m.raw for m in self.smtp.messages]


@pytest.fixture
def endpoints() -> Iterator[Endpoints]:
    with ServerThread(FakeWebhook(path=f"/alerts/{HOOK_TOKEN}")) as hook, \
            ServerThread(FakeSMTP()) as smtp:
        yield Endpoints(hook, smtp)


def start_day(tmp_path: Path, gateway: GatewayProcess, endpoints: Endpoints | None,
              overrides: dict[str, Any], **env: str) -> subprocess.Popen[str]:
    """The bot as cron starts it, alerts configured in its environment as in `.env`."""
    watchlist = write_watchlist(tmp_path, ["SPY"], {"SPY": {**SPY, **overrides}})
    alert_env = {"ALERT_URLS": endpoints.urls} if endpoints is not None else {}
    process = subprocess.Popen(
        [PYTHON, str(REPO / "day_trader.py"), "--allocation", "0.5", "--port", str(gateway.port),
         "--watchlist", str(watchlist), "--db", str(tmp_path / "paper.db"), "--no-improve"],
        cwd=tmp_path, env={**bot_env(tmp_path), **alert_env, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert wait_until(lambda: "clients=2" in gateway.admin("status"), 30), "the bot never connected"
    time.sleep(1.0)  # its history and subscriptions, the clock still at the open
    return process


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = process.communicate(timeout=150)
    assert process.returncode == 0, err[-3000:]
    return out, err


def held(gateway: GatewayProcess) -> float:
    return float(gateway.state()["positions"].get("SPY", 0))


def exits_cover(gateway: GatewayProcess) -> bool:
    state = gateway.state()
    qty = state["positions"].get("SPY", 0)
    stops = sum(o["remaining"] for o in state["open_orders"]
                if o["symbol"] == "SPY" and o["action"] == "SELL" and o["type"] == "STP")
    return qty > 0 and stops >= qty


def clock(alert: str) -> str:
    """The market time an alert carries ("" for those without one: the day's end)."""
    match = _CLOCK.search(alert)
    return match.group(1) if match else ""


def round_trips(log: dict[str, Any]) -> list[str]:
    """The round-trip alerts the run log's trades call for, in the order the trades closed."""
    out = []
    for trade in sorted(log["trades"], key=lambda t: t["exit_time"]):
        pnl = f"{trade['pnl']:+,.2f}"
        out.append(f"INFO day trader: SPY {pnl}: {trade['exit_time'][11:16]} ET SPY "
                   f"{trade['qty']:g} shares closed ({trade['exit_reason']}): P&L {pnl}")
    return out


def assert_no_secret(endpoints: Endpoints, out: str, err: str) -> None:
    payloads = endpoints.payloads()
    assert payloads, "nothing reached the endpoints"
    for text in [*payloads, out, err]:
        for secret in (HOOK_TOKEN, HOOK_PASSWORD, endpoints.smtp.password, ACCOUNT):
            assert secret not in text, f"{secret!r} leaked: {text[:300]!r}"
    assert any("****4567" in p for p in payloads), "the start names the account by its last 4"


def assert_mail_matches(endpoints: Endpoints) -> None:
    """The e-mail endpoint got the same alerts as the webhook, in the same order."""
    hook = [(r.body["title"], r.body["message"]) for r in endpoints.hook.received]
    assert wait_until(lambda: len(endpoints.smtp.messages) >= len(hook), 10), \
        ([m.subject for m in endpoints.smtp.messages], hook)
    mail = [(m.subject, m.body.strip()) for m in endpoints.smtp.messages]
    assert [subject for subject, _ in mail] == [title for title, _ in hook]
    for (_, body), (_, message) in zip(mail, hook, strict=True):
        assert message.splitlines()[0] in body


def test_a_position_left_without_exits_is_one_critical_alert_between_start_and_its_trip(
        tmp_path, endpoints):
    gateway = GatewayProcess.start("--data", str(DATA), "--date", HALF_DAY, "--symbols", "SPY",
                                   "--speed", "0")
    try:
        # IB refuses every exit of the bot for SPY: the entry fills, its stop and target do not
        assert gateway.admin("reject-orders 201 symbol=SPY action=SELL ref=DT-").startswith("OK")
        bot = start_day(tmp_path, gateway, endpoints, HOLD_ALL_DAY, ALERT_UNPROTECTED_S="3")
        assert gateway.admin(f"speed {SPEED}").startswith("OK")
        assert wait_until(lambda: held(gateway) > 0, 60), "the bot never bought"
        assert gateway.admin("speed step").startswith("OK")  # the market still meanwhile
        assert wait_until(lambda: any("has no exits" in a for a in endpoints.alerts()), 30), \
            endpoints.alerts()
        assert not exits_cover(gateway)
        assert gateway.admin("reject-orders off").startswith("OK")  # a person fixed it
        assert wait_until(lambda: exits_cover(gateway), 30), "the bot never repaired its exits"
        assert gateway.admin(f"speed {SPEED}").startswith("OK")
        out, err = finish(bot)
    finally:
        gateway.stop()
    log = run_log(tmp_path, HALF_DAY)
    alerts = endpoints.alerts()
    (trade,) = log["trades"]
    assert alerts[0].startswith("INFO day trader: started: 09:")
    assert alerts[1] == (f"CRITICAL day trader: SPY has no exits: {trade['entry_time'][11:16]} ET "
                         f"SPY +{trade['qty']:g} held with no stop or target at the broker for "
                         "over 3 s: protect or close it in TWS")
    assert alerts[2:-1] == round_trips(log)
    assert alerts[-1].startswith(f"INFO day trader: {HALF_DAY}: ")
    assert len(alerts) == 4, alerts
    assert_no_secret(endpoints, out, err)
    assert_mail_matches(endpoints)


def test_the_daily_loss_cap_is_one_critical_alert_after_the_trip_that_reached_it(
        tmp_path, endpoints):
    gateway = GatewayProcess.start("--data", str(DATA), "--date", HALF_DAY, "--symbols", "SPY",
                                   "--speed", "0")
    try:  # a cap of 0.0001%: the first loss reaches it, the next entry signal is refused
        bot = start_day(tmp_path, gateway, endpoints, {"profit_target": 0.003, "stop_loss": 0.0003},
                        DAILY_LOSS_CAP_PCT="0.0001")
        assert gateway.admin(f"speed {SPEED}").startswith("OK")
        out, err = finish(bot)
    finally:
        gateway.stop()
    log = run_log(tmp_path, HALF_DAY)
    alerts = endpoints.alerts()
    trips = round_trips(log)
    assert trips and log["trades"][-1]["pnl"] < 0, "the day must end its trading on a loss"
    assert alerts[0].startswith("INFO day trader: started: 09:")
    assert alerts[1:-2] == trips  # no entry after the cap: every trip came before it
    cap = alerts[-2]
    assert cap.startswith("CRITICAL day trader: daily loss cap hit: ")
    assert "reached the 0.0001% loss cap: no new positions today" in cap
    assert clock(cap) >= log["trades"][-1]["exit_time"][11:16]
    assert alerts[-1].startswith(f"INFO day trader: {HALF_DAY}: ")
    assert_no_secret(endpoints, out, err)
    assert_mail_matches(endpoints)


def test_the_gateway_down_across_the_flatten_while_holding_is_one_critical_alert(
        tmp_path, endpoints):
    gateway = GatewayProcess.start("--data", str(DATA), "--date", HALF_DAY, "--symbols", "SPY",
                                   "--speed", "0")
    try:
        bot = start_day(tmp_path, gateway, endpoints, HOLD_ALL_DAY, ALERT_UNREACHABLE_S="2")
        assert gateway.admin(f"speed {SPEED}").startswith("OK")
        assert wait_until(lambda: held(gateway) > 0, 60), "the bot never bought"
        assert wait_until(lambda: gateway.state()["time"][11:16] >= "12:45", 60)
        assert gateway.admin("speed step").startswith("OK")
        assert held(gateway) > 0
        # the Gateway goes down for 8 s; meanwhile the market passes the flatten (12:55), the
        # broker-held backstop sells (12:57) and the session closes (13:00)
        assert gateway.admin("restart 8").startswith("OK")
        assert gateway.admin("step 900").startswith("OK")
        assert held(gateway) == 0, "the broker-held backstop must have sold"
        assert wait_until(lambda: any("IB unreachable" in a for a in endpoints.alerts()), 30), \
            endpoints.alerts()
        assert wait_until(lambda: "clients=2" in gateway.admin("status"), 30), "no reconnect"
        assert gateway.admin(f"speed {SPEED}").startswith("OK")
        out, err = finish(bot)
    finally:
        gateway.stop()
    log = run_log(tmp_path, HALF_DAY)
    (trade,) = log["trades"]
    alerts = endpoints.alerts()
    assert alerts[0].startswith("INFO day trader: started: 09:")
    assert alerts[1].startswith("CRITICAL day trader: IB unreachable ")
    assert f"while holding SPY +{trade['qty']:g}; orders already at IB keep working" in alerts[1]
    # then the backstop's round trip and the day's end, in that order; the reconnect is a
    # batched warning (one per 5 minutes): the exit's flush sends it, alone or in a digest
    rest = alerts[2:]
    assert len(rest) == 3, alerts
    (reconnect,) = [a for a in rest if a.startswith("WARNING day trader: reconnected to IB: ")]
    assert [a for a in rest if a != reconnect][0] == round_trips(log)[0]
    assert [a for a in rest if a != reconnect][1].startswith(f"INFO day trader: {HALF_DAY}: ")
    assert not any("not flat" in a for a in alerts)
    assert_no_secret(endpoints, out, err)
    assert_mail_matches(endpoints)
