"""Alerts reach real protocol peers on loopback: the Telegram Bot API, a Slack incoming webhook, a
generic JSON webhook and an SMTP server (plain and STARTTLS); each level is routed, muting holds
a level back, and no secret is in any payload or log line."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from observability.alerts import events as ev
from observability.alerts.config import parse_urls
from observability.alerts.endpoints import Endpoint
from observability.alerts.notifier import Notifier, Policy
from tests.fakes.alert_servers import FakeSlack, FakeTelegram, FakeWebhook
from tests.fakes.smtp_server import FakeSMTP
from tests.observability.alerts.conftest import endpoint, until

ACCOUNT = "DU7654321"
LLM_KEY = "sk-live-0123456789abcdefghij"
NO_BATCHING = Policy(windows={})


def day_alerts() -> list[ev.Alert]:
    return [
        ev.started(ev.DAY_TRADER, ACCOUNT, 0.25, paper=True, kept=["AAPL"], dropped=["TSLA"]),
        ev.market_data_refused(ev.DAY_TRADER, "TSLA", 354, "Requested market data is not "
                               "subscribed"),
        ev.unprotected_position(ev.DAY_TRADER, "AAPL", 100, 30),
    ]


async def test_every_level_reaches_telegram_and_a_json_webhook(servers, notifiers) -> None:
    telegram = await servers(FakeTelegram)
    hook = await servers(FakeWebhook)
    notifier = Notifier([endpoint(telegram), endpoint(hook)], policy=NO_BATCHING).start()
    notifiers.append(notifier)
    for sent, alert in enumerate(day_alerts(), start=1):
        notifier.notify(alert)
        # one at a time (an alert that finds its endpoint busy waits, and joins the next digest)
        await until(lambda: all(e.alerts == sent for e in notifier.stats().endpoints))  # noqa: B023
    assert hook.types() == ["info", "warning", "failure"]
    assert hook.alerts()[2] == ("CRITICAL day trader: AAPL has no exits: AAPL +100 held with no "
                                "stop or target at the broker for over 30 s: protect or close it "
                                "in TWS")
    assert [t.split("\n")[0] for t in hook.texts()] == [
        "INFO day trader: started", "WARNING day trader: no market data for TSLA",
        "CRITICAL day trader: AAPL has no exits"]
    assert [r.body["chat_id"] for r in telegram.received] == [987654321] * 3
    assert telegram.texts()[2].startswith("<b>CRITICAL day trader: AAPL has no exits</b>")
    assert "AAPL +100 held with no stop or target" in telegram.texts()[2]
    await until(lambda: all(e.messages == 3 for e in notifier.stats().endpoints))
    stats = notifier.stats()
    assert [(e.messages, e.alerts, e.failures) for e in stats.endpoints] == [(3, 3, 0)] * 2


async def test_slack_gets_the_alert_as_its_webhook_attachment(servers, notifiers) -> None:
    slack = await servers(FakeSlack)
    notifier = Notifier([endpoint(slack)]).start()
    notifiers.append(notifier)
    notifier.notify(ev.loss_cap_hit(ev.DAY_TRADER, -2034.5, 2.0))
    (message,) = await slack.wait_for_messages(1)
    assert message.path == "/services/{}/{}/{}".format(*slack.tokens)
    assert slack.texts() == ["CRITICAL day trader: daily loss cap hit\nday P&amp;L -2,034.50 "
                             "reached the 2% loss cap: no new positions today"]
    assert message.body["channel"] == "#trading"


@pytest.mark.parametrize("tls", [False, True], ids=["mailto", "mailtos-starttls"])
async def test_email_is_sent_through_a_local_smtp_server(servers, notifiers, tls: bool) -> None:
    smtp = await servers(FakeSMTP, tls=tls)
    notifier = Notifier([Endpoint.from_url(smtp.url())]).start()
    notifiers.append(notifier)
    notifier.notify(ev.not_flat_at_close(ev.DAY_TRADER, {"AAPL": 100}))
    (mail,) = await smtp.wait_for_messages(1)
    assert mail.rcpt_tos == ["trader@example.com"] and mail.mail_from == "bot@example.com"
    assert mail.subject == "CRITICAL day trader: not flat at the close"
    assert "still held after the flatten: AAPL +100" in mail.body
    assert smtp.logins == [smtp.user]
    assert smtp.password not in mail.raw


async def test_mails_in_a_row_are_not_held_back_by_apprises_own_throttle(servers) -> None:
    """Apprise sleeps 5.5 s on the sending thread between two e-mails of one plugin: the day's
    last mail (sent right after a round trip's) missed the bot's 2 s flush at exit, and a
    critical mail waited behind an info one. The notifier's own pacing is the one that holds."""
    smtp = await servers(FakeSMTP)
    notifier = Notifier([Endpoint.from_url(smtp.url())], policy=NO_BATCHING).start()
    notifier.notify(ev.round_trip(ev.DAY_TRADER, "SPY", 80, 27.78, "flatten"))
    await smtp.wait_for_messages(1)
    notifier.notify(ev.day_end(ev.DAY_TRADER, date(2025, 7, 3), 27.78, 1, None))
    await notifier.aclose()  # the bot's exit: at most `flush_s` (2 s)
    assert [m.subject for m in smtp.messages] == ["INFO day trader: SPY +27.78",
                                                  "INFO day trader: 2025-07-03: +27.78"]
    assert notifier.stats().unsent_at_close == 0


async def test_a_muted_level_stays_in_the_log_and_off_the_phone(servers, notifiers,
                                                               caplog) -> None:
    caplog.set_level(logging.INFO, logger="alerts")
    hook = await servers(FakeWebhook)
    notifier = Notifier([endpoint(hook)], muted={"info"}, policy=NO_BATCHING).start()
    notifiers.append(notifier)
    for alert in day_alerts():
        notifier.notify(alert)
    await hook.wait_for_messages(1)
    await notifier.aclose()
    everything = "\n".join(hook.texts())
    assert "CRITICAL day trader: AAPL has no exits" in everything
    assert "WARNING day trader: no market data for TSLA" in everything
    assert "started" not in everything
    assert notifier.stats().muted == 1
    assert "alert: INFO day trader: started: account ****4321" in caplog.text


async def test_no_secret_in_any_payload_or_log_line(servers, notifiers, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    telegram = await servers(FakeTelegram)
    slack = await servers(FakeSlack)
    hook = await servers(FakeWebhook)
    smtp = await servers(FakeSMTP, tls=True)
    # one endpoint that refuses: its failure is logged, with the reason apprise gives
    wrong = await servers(FakeTelegram, token="111111111:AAWrongTokenWrongTokenWrongTokenXX")
    refusing = Endpoint.from_url(telegram.url)
    wrong.route(refusing)
    notifier = Notifier([endpoint(telegram), endpoint(slack), endpoint(hook),
                         Endpoint.from_url(smtp.url()), refusing], policy=NO_BATCHING).start()
    notifiers.append(notifier)
    notifier.set_link("http://127.0.0.1:8765/?token=status-control-token-123")
    alerts = [
        ev.started(ev.DAY_TRADER, ACCOUNT, 0.25, paper=True),
        ev.account_refused(ev.DAY_TRADER, "U1234567", "a live account: pass --live"),
        ev.bot_stopped(ev.DAY_TRADER, RuntimeError(f"LLM call with {LLM_KEY} for {ACCOUNT}")),
        ev.day_end(ev.DAY_TRADER, date(2026, 3, 2), -12.5, 3, None, "reports/day.html"),
    ]
    for alert in alerts:
        notifier.notify(alert)
    await until(lambda: all(e.alerts + e.failures >= 1 for e in notifier.stats().endpoints))
    await until(lambda: notifier.stats().endpoints[-1].failures >= 2)  # the critical's retry
    await notifier.aclose()
    payloads = [r.raw for server in (telegram, slack, hook, wrong) for r in server.received]
    payloads += [m.raw for m in smtp.messages]
    assert payloads
    secrets = [ACCOUNT, "U1234567", LLM_KEY, telegram.token, slack.tokens[2], smtp.password,
               "status-control-token-123"]
    for text in [*payloads, caplog.text]:
        for secret in secrets:
            assert secret not in text
    assert all("status page: http://127.0.0.1:8765/" in text for text in hook.texts())
    # the refused endpoint: one warning naming it by its privacy label, with apprise's reason
    failures = [r.getMessage() for r in caplog.records if "failed:" in r.getMessage()]
    assert len(failures) == 1 and failures[0].startswith("alerts: tgram://1...8/987654321/ failed")
    assert "Unauthorized" in failures[0] or "401" in failures[0]


def test_apprise_never_logs_a_rejected_token(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ValueError):
        parse_urls("tgram://rejected-secret-token-xyz/123")
    assert "rejected-secret-token-xyz" not in caplog.text


def test_without_endpoints_alerts_go_to_the_log_only(caplog) -> None:
    caplog.set_level(logging.INFO, logger="alerts")
    notifier = Notifier().start()
    assert not notifier.pushing
    notifier.notify(ev.loss_cap_hit(ev.DAY_TRADER, -500.0, 2.0))
    notifier.close()
    (record,) = [r for r in caplog.records if r.name == "alerts"]
    assert record.levelno == logging.CRITICAL
    assert record.getMessage() == ("alert: CRITICAL day trader: daily loss cap hit: day P&L "
                                   "-500.00 reached the 2% loss cap: no new positions today")
