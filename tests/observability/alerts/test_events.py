"""The alert catalog: each event at the issue's level, one short line, no secret in any text."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from observability.alerts import events as ev
from observability.alerts.events import Alert, Event, Level

NY = ZoneInfo("America/New_York")
AT = datetime(2026, 3, 2, 10, 42, tzinfo=NY)
ACCOUNT = "DU7654321"
KEY = "sk-live-0123456789abcdefghij"

ALL: list[tuple[Alert, Level]] = [
    (ev.unprotected_position(ev.DAY_TRADER, "AAPL", 100, 30, at=AT), Level.CRITICAL),
    (ev.not_flat_at_close(ev.DAY_TRADER, {"AAPL": 100, "MSFT": -50}), Level.CRITICAL),
    (ev.gateway_unreachable(ev.DAY_TRADER, 360, {"AAPL": 100}), Level.CRITICAL),
    (ev.loss_cap_hit(ev.DAY_TRADER, -2034.5, 2.0), Level.CRITICAL),
    (ev.account_refused(ev.WEEKLY, "U1234567", "a live account: pass --live"), Level.CRITICAL),
    (ev.bot_stopped(ev.WEEKLY, RuntimeError(f"DB locked for {ACCOUNT} with {KEY}")),
     Level.CRITICAL),
    (ev.reconnected(ev.DAY_TRADER, 12.0), Level.WARNING),
    (ev.market_data_refused(ev.DAY_TRADER, "TSLA", 354, "not subscribed"), Level.WARNING),
    (ev.history_db_unwritable(ev.DAY_TRADER, "disk I/O error", 7), Level.WARNING),
    (ev.llm_unavailable(ev.DAY_TRADER, "screening the watchlist", "error: http 503",
                        "the rules alone decide"), Level.WARNING),
    (ev.fmp_unavailable(ev.WEEKLY, "FMP /stable/company-screener: HTTP 502", "no rebalance"),
     Level.WARNING),
    (ev.started(ev.DAY_TRADER, ACCOUNT, 0.25, paper=True, kept=["AAPL", "MSFT"],
                dropped=["TSLA"]), Level.INFO),
    (ev.round_trip(ev.DAY_TRADER, "AAPL", 100, 123.4, "target", at=AT), Level.INFO),
    (ev.day_end(ev.DAY_TRADER, date(2026, 3, 2), 250.0, 4, AT, "reports/day_2026-03-02.html"),
     Level.INFO),
    (ev.nightly_decision(ev.DAY_TRADER, date(2026, 3, 2), "kept the parameters: no candidate "
                         "beat them in replay"), Level.INFO),
    (ev.weekly_rebalance(ev.WEEKLY, date(2026, 3, 2), "done", 5, 5, 0.12, "reports/w.json"),
     Level.INFO),
]


def test_every_event_of_the_catalog_is_built_at_its_level() -> None:
    assert {alert.event for alert, _ in ALL} == set(Event)
    for alert, level in ALL:
        assert alert.level is level, alert.event
        assert alert.headline.startswith(f"{level.value.upper()} {alert.bot}: ")


def test_the_catalog_has_the_issues_levels() -> None:
    by_level = {level: {e for e in Event if e.level is level} for level in Level}
    assert by_level[Level.CRITICAL] == {
        Event.UNPROTECTED_POSITION, Event.NOT_FLAT_AT_CLOSE, Event.GATEWAY_UNREACHABLE,
        Event.LOSS_CAP_HIT, Event.ACCOUNT_REFUSED, Event.BOT_STOPPED}
    assert by_level[Level.WARNING] == {
        Event.RECONNECTED, Event.MARKET_DATA_REFUSED, Event.HISTORY_DB_UNWRITABLE,
        Event.LLM_UNAVAILABLE, Event.FMP_UNAVAILABLE}
    # only warnings are batched: a critical alert is never held back
    assert all(event.level is Level.WARNING for event in ev.BATCHED)


def test_each_alert_is_one_short_line() -> None:
    for alert, _ in ALL:
        assert "\n" not in alert.title + alert.text
        assert len(alert.title) <= ev.TITLE_CHARS and len(alert.message) <= ev.MESSAGE_CHARS


def test_no_account_number_or_key_survives_in_any_text() -> None:
    for alert, _ in ALL:
        text = f"{alert.headline} {alert.text} {alert.item}"
        for secret in (ACCOUNT, "U1234567", KEY):
            assert secret not in text, (alert.event, text)
    started = ALL[11][0]
    assert "****4321" in started.message and "(paper)" in started.message
    stopped = ALL[5][0]
    assert "****4321" in stopped.message and "[redacted]" in stopped.message


def test_the_wording_carries_the_figures_a_person_acts_on() -> None:
    texts = {alert.event: alert.text for alert, _ in ALL}
    assert texts[Event.UNPROTECTED_POSITION] == (
        "10:42 ET AAPL +100 held with no stop or target at the broker for over 30 s: protect or "
        "close it in TWS")
    assert "AAPL +100, MSFT -50" in texts[Event.NOT_FLAT_AT_CLOSE]
    assert "6 min" in texts[Event.GATEWAY_UNREACHABLE] and "AAPL +100" in texts[
        Event.GATEWAY_UNREACHABLE]
    assert "-2,034.50" in texts[Event.LOSS_CAP_HIT] and "2% loss cap" in texts[Event.LOSS_CAP_HIT]
    assert "TSLA" in texts[Event.MARKET_DATA_REFUSED] and "354" in texts[Event.MARKET_DATA_REFUSED]
    assert texts[Event.STARTED] == ("account ****4321 (paper), allocation 25%; watchlist kept "
                                    "AAPL, MSFT; dropped TSLA")
    assert texts[Event.ROUND_TRIP] == "10:42 ET AAPL 100 shares closed (target): P&L +123.40"
    assert texts[Event.DAY_END] == ("2026-03-02: net P&L +250.00, 4 trades, flat at 10:42 ET; "
                                    "report reports/day_2026-03-02.html")
    assert texts[Event.WEEKLY_REBALANCE] == ("2026-03-02: done; 5 orders, 5 fills, turnover "
                                             "12.0%; report reports/w.json")


def test_a_long_error_is_cut_to_one_line() -> None:
    alert = ev.bot_stopped(ev.WEEKLY, "boom\n" + "x" * 1000)
    assert len(alert.message) == ev.MESSAGE_CHARS and alert.message.endswith("…")
    assert "\n" not in alert.message


def test_a_batch_becomes_one_alert_that_counts_and_lists() -> None:
    batch = [ev.reconnected(ev.DAY_TRADER, s) for s in (12, 40, 3)]
    merged = ev.merge(batch, 300)
    assert merged.event is Event.RECONNECTED and merged.level is Level.WARNING
    assert merged.title == "3 reconnects in 5 min"
    assert merged.message.startswith("3 reconnects in 5 min: down 12 s, down 40 s, down 3 s")
    assert ev.merge(batch[:1], 300) is batch[0]


@pytest.mark.parametrize("qty", [100, -100, 0.5])
def test_quantities_keep_their_sign(qty: float) -> None:
    alert = ev.unprotected_position(ev.DAY_TRADER, "SPY", qty, 10)
    assert f"SPY {qty:+g}" in alert.message
