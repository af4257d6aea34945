"""The paper-account preflight against the Gateway simulator on loopback (the real ib_async client,
the bot's own IBBroker), the simulator's clock running at real speed inside regular hours.

What the simulator answers is its documented model (sim/engine/exchange.py rules R1-R8,
sim/tws/orders.py): a goodAfterTime order held PreSubmitted without a 399 (sim/tws/order_hours.py:
orders waiting for a goodAfterTime get none), a modification clearing goodAfterTime activating it
at once (R6/R8), OCA groups cancelling the other members on a fill (R5), children held until the
parent fills and then working for its filled quantity (R3/R4), the commission report right after
its execDetails. The tests pin those answers, so a change of the model shows up here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sim.gateway import GatewaySimulator
from sim.market.bar_sources import CsvBarSource
from sim.tws.realism import Realism
from tests.paths import DATA
from trade.ib.preflight.options import PreflightOptions
from trade.ib.preflight.runner import run_preflight
from trade.ib.session import ib_broker
from trade.intraday.preflight_standing import preflight_standing
from trade.models import Account, Side
from trade.preflight_record import StepVerdict, load_record
from trade.refusal import AccountRefused, Refused

NY = ZoneInfo("America/New_York")
DAY = date(2019, 2, 13)
IN_HOURS = datetime(2019, 2, 13, 10, 0, tzinfo=NY)
FAST = PreflightOptions(hold_s=0.5, lag_round_trips=2)  # the checks, not the patience


async def _simulator(start: datetime = IN_HOURS, speed: float | None = 1.0, **kwargs: Any) -> GatewaySimulator:
    sim = GatewaySimulator.build(CsvBarSource(DATA, ["SPY"]), DAY, ["SPY"], speed=speed,
                                 start=start, port=0, **kwargs)
    await sim.start()
    return sim


def _truth(sim: GatewaySimulator) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The simulator's own positions and working orders (never a client's view)."""
    state = sim.state()
    return state["positions"], sorted((o["order_id"], o["ref"], o["status"]) for o in state["open_orders"])


async def _run(sim: GatewaySimulator, tmp_path: Path, options: PreflightOptions = FAST,
               client_id: int = 9, stop: asyncio.Event | None = None,
               lines: list[str] | None = None) -> Any:
    said = lines if lines is not None else []
    async with ib_broker("127.0.0.1", sim.port, client_id) as broker:
        return await run_preflight(broker, tmp_path / "logs", options, said.append, stop)


async def test_the_preflight_passes_every_step_and_leaves_the_account_as_found(tmp_path):
    sim = await _simulator()
    try:
        before = _truth(sim)
        lines: list[str] = []
        record, path = await _run(sim, tmp_path, lines=lines)
        after = _truth(sim)
        state = sim.state()
    finally:
        await sim.stop()
    assert [s.verdict for s in record.steps] == [StepVerdict.PASS] * 6, [s.line() for s in record.steps]
    assert record.passed and record.left_nothing and record.account_check["left_as_found"]
    assert after == before == ({}, [])  # the simulator's truth, not the preflight's belief
    ours = [o for o in state["orders"] if o["ref"].startswith("PF-")]
    assert ours and len(ours) == len(state["orders"]), "every order sent is the preflight's own"
    assert all(o["status"] in ("Filled", "Cancelled") for o in ours)
    net = sum(f["shares"] if f["side"] == "BOT" else -f["shares"] for f in state["fills"])
    assert net == 0, "every share it bought was sold"
    # step 2 released the backstop by modifying it: the held order itself executed
    released = next(o for o in ours if o["ref"].endswith("-2-BKS"))
    assert released["status"] == "Filled" and released["good_after"] is None
    # one console line per step, then the account check and the verdict
    steps = [line for line in lines if line.startswith("step ")]
    assert [line.split()[1] for line in steps] == ["1", "2", "3", "4", "5", "6"]
    assert all(": PASS - " in line for line in steps)
    assert any(line.startswith("account check: left as found") for line in lines)
    # the record: where the run logs of a simulated account go, the account masked
    assert path == tmp_path / "logs" / "sim" / "preflight_4567_2019-02-13.json"
    text = path.read_text()
    assert "DU1234567" not in text and json.loads(text)["account"] == "****4567"
    assert load_record(path).passed


async def test_the_simulators_answers_are_its_documented_model(tmp_path):
    sim = await _simulator()
    try:
        record, _ = await _run(sim, tmp_path)
    finally:
        await sim.stop()
    held, released, oca, bracket, lags, reads = (s.evidence for s in record.steps)
    assert held["statuses"] == ["PreSubmitted"] and held["warning_399"] is None
    assert held["legs_working"] == ["TP", "SL", "BKS"] and held["good_after_time_echoed"]
    assert released["siblings_cancelled"] == ["TP", "SL"] and not released["refusals"]
    assert 0 <= released["modification_to_execution_s"] < 1.0
    assert oca["shares_sold_by_the_group"] == 1 and oca["statuses"]["SL"] == ["Cancelled"]
    assert oca["statuses"]["BKS"] == ["Cancelled"]
    assert "Submitted" not in {s for statuses in bracket["before_parent_fill"].values() for s in statuses}
    assert bracket["after"] == {"TP": {"status": "Submitted", "working_qty": 1},
                                "SL": {"status": "PreSubmitted", "working_qty": 1},
                                "BKS": {"status": "PreSubmitted", "working_qty": 1}}
    assert bracket["partial_fill"].startswith("not observable")
    assert lags["commission_lag"]["n"] >= 4 and lags["position_lag"]["n"] == 4
    assert all(s["commission_event"] for s in lags["round_trips"])
    assert not lags["reports_not_yet_come"] and not lags["reports_without_event"]
    assert [r["answered"] for r in reads["reads"]] == [True] * 5


async def test_a_non_paper_account_is_refused_before_any_order(tmp_path):
    sim = await _simulator(account_id="U7654321")
    try:
        with pytest.raises(AccountRefused, match=r"\*\*\*\*4321 is not a paper account"):
            await _run(sim, tmp_path)
        assert sim.state()["order_refs"] == []
    finally:
        await sim.stop()
    assert not (tmp_path / "logs").exists(), "no record for a refused account"


@pytest.mark.parametrize(("start", "why"), [
    (datetime(2019, 2, 13, 9, 20, tzinfo=NY), "it is 09:20"),
    (datetime(2019, 2, 13, 15, 50, tzinfo=NY), "09:30-15:45 New York time"),
], ids=["before the open", "too close to the close"])
async def test_outside_regular_hours_is_refused_before_any_order(tmp_path, start, why):
    sim = await _simulator(start=start, speed=None)
    try:
        with pytest.raises(Refused, match="regular hours only") as refusal:
            await _run(sim, tmp_path)
        assert why in str(refusal.value) and "\n" not in str(refusal.value)
        assert sim.state()["order_refs"] == []
    finally:
        await sim.stop()


@pytest.mark.parametrize(("client_id", "ref"), [
    (2, "DT-20190213-SPY-1-ENTRY"),  # the day trader's, under its own client id
    (9, "PF-20190213-SPY-1-ENTRY"),  # a crashed earlier run's, under the preflight's own
], ids=["the day trader's order", "an earlier preflight's order"])
async def test_orders_already_working_in_the_symbol_are_a_refusal(tmp_path, client_id, ref):
    """Any order working in the symbol (reqAllOpenOrders lists every client's): the preflight
    never trades beside it."""
    sim = await _simulator()
    try:
        async with ib_broker("127.0.0.1", sim.port, client_id) as other:
            await other.qualify(["SPY"])
            await other.place_limit("SPY", Side.BUY, 1, 200.0, ref)
            await asyncio.sleep(0.2)
        refs = sim.state()["order_refs"]
        with pytest.raises(Refused, match=rf"orders already work in SPY \({ref}\)"):
            await _run(sim, tmp_path)
        assert sim.state()["order_refs"] == refs, "nothing sent"
    finally:
        await sim.stop()


async def test_a_step_that_cannot_complete_times_out_and_is_cleaned_up(tmp_path):
    """Step 4's parent a buy limit 20% below the market: it never fills. The step is reported as
    timed out with where it stalled, its bracket is cancelled, the other steps still run."""
    options = PreflightOptions(hold_s=0.5, lag_round_trips=1, entry_offset=-0.2,
                               step_deadlines={4: 1.5})
    sim = await _simulator()
    try:
        before = _truth(sim)
        record, path = await _run(sim, tmp_path, options)
        after = _truth(sim)
        state = sim.state()
    finally:
        await sim.stop()
    verdicts = {s.step: s.verdict for s in record.steps}
    assert verdicts == {1: StepVerdict.PASS, 2: StepVerdict.PASS, 3: StepVerdict.PASS, 4: StepVerdict.TIMEOUT,
                        5: StepVerdict.PASS, 6: StepVerdict.PASS}
    step4 = record.step(4)
    assert step4 is not None and "no answer within 1.5 s while waiting for the parent's fill" in step4.answer
    assert step4.cleanup.startswith("cancelled PF-20190213-SPY-") and "sold" not in step4.cleanup
    assert after == before
    parent = next(o for o in state["orders"] if o["ref"].endswith("-ENTRY"))
    assert parent["status"] == "Cancelled" and parent["filled"] == 0
    assert not record.passed and record.left_nothing
    assert record.release_confirmed, "step 2 passed: the release stays allowed"
    standing = preflight_standing(path.parent, Account("DU1234567", 0, 0, 0, simulated=True))
    assert standing.release_backstop and "step 4" in standing.line


async def test_a_signal_stops_the_run_after_its_step_and_undoes_everything(tmp_path):
    """Stopped right after step 1 (whose held group step 2 would release): nothing more is sent,
    the group is cancelled and the share sold, the record says so."""
    stop = asyncio.Event()
    lines: list[str] = []

    class StopAfterStep1(list[str]):
        def append(self, line: str) -> None:
            lines.append(line)
            if line.startswith("step 1 "):
                stop.set()

    sim = await _simulator()
    try:
        async with ib_broker("127.0.0.1", sim.port, 9) as broker:
            record, _ = await run_preflight(broker, tmp_path / "logs", FAST, StopAfterStep1().append, stop)
        after = _truth(sim)
    finally:
        await sim.stop()
    assert [s.verdict for s in record.steps] == [StepVerdict.PASS] + [StepVerdict.SKIPPED] * 5
    assert all("stopped by a signal" in s.answer for s in record.steps[1:])
    assert "cancelled" in record.account_check["final_cleanup"]
    assert "sold 1 SPY" in record.account_check["final_cleanup"]
    assert after == ({}, []) and record.left_nothing and not record.release_confirmed


async def test_a_gateway_restart_mid_step_is_an_error_and_the_cleanup_still_undoes_it(tmp_path):
    """The Gateway drops every socket the moment step 3's exits reach it (its share bought, its
    group placed): the step fails (an error, or a timeout when the modification it sent was lost
    with the socket), the connection comes back by itself, and the cleanup cancels the group and
    sells the share once it is back."""
    sim = await _simulator()
    loop = asyncio.get_running_loop()

    class RestartOnStep3Group:
        done = False

        def on_open_order(self, order: Any) -> None:  # a listener of the simulator's engine
            if not self.done and order.order_ref.endswith("-4-BKS"):  # step 3's group (seq 4)
                self.done = True
                loop.call_soon(sim.restart, 0.5)

    trigger = RestartOnStep3Group()
    sim.engine.add_listener(trigger)
    try:
        record, _ = await _run(sim, tmp_path, dataclasses.replace(FAST, step_deadlines={3: 3.0}))
        after = _truth(sim)
    finally:
        await sim.stop()
    assert trigger.done
    step3 = record.step(3)
    assert step3 is not None and step3.verdict in (StepVerdict.ERROR, StepVerdict.TIMEOUT), step3.line()
    assert "cancelled PF-20190213-SPY-4-" in step3.cleanup and "sold 1 SPY" in step3.cleanup
    assert [s.verdict for s in record.steps if s.step != 3] == [StepVerdict.PASS] * 5
    assert after == ({}, []) and record.left_nothing, record.account_check


@pytest.mark.slow
async def test_a_refused_release_is_a_no_with_evidence_and_puts_the_fallback_in_force(tmp_path):
    """IB's timing model with the release refused (`Realism.release_refusal`, a variant the
    chaos campaign draws, with 201 or 105): step 2 is a "no" with IB's answer, the order still
    held; the rest passes; the account is as found; the day trader's start takes the fallback."""
    code = 201
    sim = await _simulator(realism=Realism.default(seed=3).varied(release_refusal=code))
    try:
        before = _truth(sim)
        record, path = await _run(sim, tmp_path)
        after = _truth(sim)
    finally:
        await sim.stop()
    step2 = record.step(2)
    assert step2 is not None and step2.verdict is StepVerdict.FAIL
    assert f"refused (IB {code}" in step2.answer and step2.evidence["still_listed"] is True
    assert [s.verdict for s in record.steps if s.step != 2] == [StepVerdict.PASS] * 5
    assert after == before and record.left_nothing
    standing = preflight_standing(path.parent, Account("DU1234567", 0, 0, 0, simulated=True))
    assert not standing.release_backstop
    assert "fallbacks in force: step 2 did not pass" in standing.line


@pytest.mark.slow
@pytest.mark.parametrize("children_on_partial_fill", [True, False], ids=["children work", "children held"])
async def test_under_ibs_timing_model_every_step_passes_and_shows_what_the_campaign_models(
        tmp_path, children_on_partial_fill):
    """The model the chaos campaign runs by default (sim/tws/realism.py): replies tens to hundreds
    of ms late, commission reports trailing up to 5 s, positions lagging up to 2 s, orderStatus
    racing execDetails or missing, duplicates, 399 for a goodAfterTime hold. Both variants of a
    bracket's children on a partial parent fill look alike to a one-share parent."""
    realism = Realism.default(seed=11).varied(children_on_partial_fill=children_on_partial_fill)
    sim = await _simulator(realism=realism)
    try:
        before = _truth(sim)
        record, _ = await _run(sim, tmp_path)
        after = _truth(sim)
    finally:
        await sim.stop()
    assert [s.verdict for s in record.steps] == [StepVerdict.PASS] * 6, [s.line() for s in record.steps]
    assert after == before and record.left_nothing
    held, _, _, bracket, lags, _ = (s.evidence for s in record.steps)
    assert held["warning_399"].startswith("Order Message: SELL 1 SPY ARCA Warning: Your order will "
                                          "not be placed at the exchange until 2019-02-13 10:10:")
    assert held["why_held"] == []  # the model: IB documents whyHeld only for "locate"
    assert bracket["after"]["TP"]["working_qty"] == 1
    assert lags["commission_lag"]["max_s"] <= 5.5 and lags["position_lag"]["max_s"] <= 2.5
