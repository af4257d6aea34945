"""A slow, hanging or failing endpoint costs the caller nothing; bursts are batched and rate
limited; a full queue drops the least urgent first; closing flushes, within its bound.

Nothing here measures a duration. The fake servers share the test's event loop with the caller
of `notify()`: each time a server answers while another request is still held, the caller's loop
was demonstrably free. Waits are for counts (`until`), and batch windows and token refills run on
a `FakeClock` the test moves.
"""

from __future__ import annotations

import logging

from observability.alerts import events as ev
from observability.alerts.notifier import Notifier, Policy
from tests.fakes.alert_servers import FakeWebhook
from tests.observability.alerts.conftest import FakeClock, endpoint, until


async def test_a_hanging_endpoint_holds_neither_the_caller_nor_the_other_endpoints(
        servers, notifiers) -> None:
    hanging = await servers(FakeWebhook)
    healthy = await servers(FakeWebhook)
    hanging.hang()
    notifier = Notifier([endpoint(hanging), endpoint(healthy)],  # no rate limit to wait for
                        policy=Policy(windows={}, send_timeout_s=0.2, burst=1000)).start()
    notifiers.append(notifier)
    notifier.notify(ev.loss_cap_hit(ev.DAY_TRADER, -2000.0, 2.0))
    await hanging.wait_for(lambda s: s.held == 1)
    await healthy.wait_for_messages(1)
    # while the first request is still held: many more alerts, all accepted at once
    for n in range(50):
        notifier.notify(ev.round_trip(ev.DAY_TRADER, "AAPL", 10, float(n), "target"))
    await until(lambda: notifier.stats().endpoints[1].alerts == 51)
    await until(lambda: notifier.stats().endpoints[0].timeouts == 1)
    assert hanging.held == 1 and hanging.requests_seen == 1  # one send at a time, still stuck
    assert notifier.stats().notified == 51
    # once it answers, what waited goes out as one digest: the critical's retry first
    hanging.release()
    await hanging.wait_for_messages(2)
    digest = hanging.received[1].body
    assert digest["type"] == "failure"
    assert digest["title"] == "CRITICAL day trader: 51 alerts (1 critical, 50 info)"
    assert digest["message"].startswith("- CRITICAL day trader: daily loss cap hit: ")


async def test_a_500_endpoint_is_counted_and_logged_once_until_it_recovers(
        servers, notifiers, caplog) -> None:
    caplog.set_level(logging.INFO, logger="alerts")
    broken = await servers(FakeWebhook)
    broken.fail(500, times=3)
    notifier = Notifier([endpoint(broken)], policy=Policy(windows={})).start()
    notifiers.append(notifier)
    for n in range(3):
        notifier.notify(ev.round_trip(ev.DAY_TRADER, "MSFT", 5, float(n), "stop"))
        await broken.wait_for(lambda s: s.requests_seen >= n + 1)  # noqa: B023 - awaited here
        await until(lambda: notifier.stats().endpoints[0].failures >= n + 1)  # noqa: B023
    notifier.notify(ev.round_trip(ev.DAY_TRADER, "MSFT", 5, 3.0, "stop"))
    await broken.wait_for_messages(1)
    await until(lambda: notifier.stats().endpoints[0].messages == 1)
    stats = notifier.stats().endpoints[0]
    assert (stats.failures, stats.messages) == (3, 1)
    assert "HTTP Error" in stats.last_error or "500" in stats.last_error
    lines = [r.getMessage() for r in caplog.records if r.name == "alerts"
             and r.getMessage().startswith("alerts: json://")]
    assert len(lines) == 2, lines
    assert " failed: " in lines[0]
    assert lines[1].endswith("delivering again after 3 failed sends")


async def test_reconnects_in_a_window_become_one_alert(servers, notifiers) -> None:
    hook = await servers(FakeWebhook)
    clock = FakeClock()
    notifier = Notifier([endpoint(hook)], clock=clock).start()
    notifiers.append(notifier)
    for down in (12, 40, 3):
        notifier.notify(ev.reconnected(ev.DAY_TRADER, down))
    await until(lambda: notifier.stats().held == 3)  # the window opened at the clock's 0 s
    clock.advance(299)
    notifier.notify(ev.loss_cap_hit(ev.DAY_TRADER, -2000.0, 2.0))  # never held back
    await hook.wait_for_messages(1)
    assert hook.received[0].body["title"] == "CRITICAL day trader: daily loss cap hit"
    clock.advance(1)
    notifier.poke()
    await hook.wait_for_messages(2)
    batch = hook.received[1].body
    assert batch["type"] == "warning"
    assert batch["title"] == "WARNING day trader: 3 reconnects in 5 min"
    assert batch["message"].startswith("3 reconnects in 5 min: down 12 s, down 40 s, down 3 s")
    stats = notifier.stats()
    assert (stats.batched, stats.held, len(hook.received)) == (2, 0, 2)


async def test_an_endpoint_past_its_burst_gets_one_digest_per_token(servers, notifiers) -> None:
    hook = await servers(FakeWebhook)
    clock = FakeClock()
    notifier = Notifier([endpoint(hook)], clock=clock,
                        policy=Policy(burst=2, refill_s=60.0)).start()
    notifiers.append(notifier)
    for n in range(2):
        notifier.notify(ev.round_trip(ev.DAY_TRADER, "SPY", 1, float(n), "target"))
        await until(lambda: notifier.stats().endpoints[0].messages == n + 1)  # noqa: B023
    for n in range(3):
        notifier.notify(ev.round_trip(ev.DAY_TRADER, "QQQ", 1, float(n), "stop"))
    await until(lambda: notifier.stats().endpoints[0].rate_limited == 1)
    assert len(hook.received) == 2  # the burst is spent: the three wait
    clock.advance(60)
    notifier.poke()
    await hook.wait_for_messages(3)
    digest = hook.received[2].body
    assert digest["title"] == "INFO day trader: 3 alerts (3 info)"
    assert digest["message"].count("INFO day trader: QQQ") == 3
    # a critical alert never waits for a token
    notifier.notify(ev.not_flat_at_close(ev.DAY_TRADER, {"QQQ": 1}))
    await hook.wait_for_messages(4)
    assert hook.received[3].body["title"] == "CRITICAL day trader: not flat at the close"


async def test_a_full_queue_drops_the_least_urgent_first_and_says_so(servers, notifiers) -> None:
    hook = await servers(FakeWebhook)
    notifier = Notifier([endpoint(hook)], policy=Policy(queue_size=4, windows={}))
    notifiers.append(notifier)
    # not started yet: the queue fills exactly as the test says
    for n in range(4):
        notifier.notify(ev.round_trip(ev.DAY_TRADER, "AAPL", 1, float(n), "target"))
    notifier.notify(ev.unprotected_position(ev.DAY_TRADER, "AAPL", 1, 30))  # drops info 0
    notifier.notify(ev.reconnected(ev.DAY_TRADER, 5))  # drops info 1
    notifier.notify(ev.round_trip(ev.DAY_TRADER, "AAPL", 1, 9.0, "target"))  # dropped itself
    assert dict(notifier.stats().dropped) == {"info": 3}
    notifier.start()
    (digest,) = await hook.wait_for_messages(1)
    assert digest.body["title"] == "CRITICAL day trader: 4 alerts (1 critical, 1 warning, 2 info)"
    lines = digest.body["message"].splitlines()
    assert lines[0].startswith("- CRITICAL day trader: AAPL has no exits")
    assert lines[1].startswith("- WARNING day trader: reconnected to IB")
    assert lines[2].startswith("- INFO day trader: AAPL +2.00: ")
    assert lines[3].startswith("- INFO day trader: AAPL +3.00: ")
    assert lines[-1] == "(3 less urgent alerts dropped: too many at once; see the log)"
    assert [a.split(":")[0] for a in hook.alerts()] == [
        "CRITICAL day trader", "WARNING day trader", "INFO day trader", "INFO day trader"]


async def test_a_hanging_endpoints_backlog_is_bounded(servers, notifiers) -> None:
    hanging = await servers(FakeWebhook)
    hanging.hang()
    notifier = Notifier([endpoint(hanging)], policy=Policy(windows={}, backlog_size=3)).start()
    notifiers.append(notifier)
    notifier.notify(ev.loss_cap_hit(ev.DAY_TRADER, -2000.0, 2.0))
    await hanging.wait_for(lambda s: s.held == 1)
    for n in range(5):
        notifier.notify(ev.round_trip(ev.DAY_TRADER, "AAPL", 1, float(n), "target"))
    notifier.notify(ev.not_flat_at_close(ev.DAY_TRADER, {"AAPL": 1}))
    # 3 places: the critical displaces an info; 3 infos dropped in all
    await until(lambda: notifier.stats().endpoints[0].dropped == 3)


async def test_closing_flushes_a_held_batch_and_is_bounded_by_a_hanging_endpoint(
        servers) -> None:
    hook = await servers(FakeWebhook)
    hanging = await servers(FakeWebhook)
    hanging.hang()
    notifier = Notifier([endpoint(hook), endpoint(hanging)]).start()
    notifier.notify(ev.reconnected(ev.DAY_TRADER, 12))  # held for a 5-minute window
    notifier.notify(ev.market_data_refused(ev.DAY_TRADER, "TSLA", 354, "not subscribed"))
    await notifier.aclose(0.5)
    # closed: the batches went out at once to the endpoint that answers...
    (flushed,) = hook.received
    assert flushed.body["title"] == "WARNING day trader: 2 alerts (2 warning)"
    assert "reconnected to IB" in flushed.body["message"]
    assert "no market data for TSLA" in flushed.body["message"]
    # ...while the hanging one is still holding its request: close() did not wait for it
    assert hanging.held == 1
    # the digest the deadline cut off (its 2 alerts) counts as unsent, as a queued alert does
    assert notifier.stats().unsent_at_close == 2
    notifier.notify(ev.loss_cap_hit(ev.DAY_TRADER, -1.0, 2.0))  # after close: logged, not sent
    assert notifier.stats().notified == 3
