"""The paper-account preflight as a user runs it (`python day_trader.py --preflight`) against the
simulator in its own process, and the day trader following the record it writes: where step 2 (the
release of the backstop by a modification) did not pass, the flatten cancels, confirms and sells,
and never modifies the backstop — judged from the simulator's own order book."""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.harness import (
    DATA,
    GatewayProcess,
    run_bot,
    run_log,
    start_bot,
    wait_until,
    write_watchlist,
)
from trade.preflight_record import STEPS, PreflightRecord, StepResult, StepVerdict

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NY = ZoneInfo("America/New_York")
HALF_DAY = "2025-07-03"  # SPY, closes 13:00: flatten 12:55, the backstop held until 12:57
SPY_ONLY = {"SPY": {"atr_min_pct": 0.0002, "atr_timeframe": "1 min"}}  # bought 10:31, held to the flatten


def _gateway(*extra: str) -> GatewayProcess:
    """Held at the open until the test moves it."""
    return GatewayProcess.start("--data", str(DATA), "--date", HALF_DAY, "--symbols", "SPY",
                                "--speed", "0", *extra)


def test_preflight_against_the_simulator_passes_every_step_and_leaves_the_account_as_found(tmp_path):
    gateway = _gateway()
    try:
        assert gateway.admin("step 600").startswith("OK")  # 09:40: regular hours
        assert gateway.admin("speed 1").startswith("OK")  # IB's timings are wall-clock
        before = gateway.state()
        result = run_bot(tmp_path, "--preflight", "--port", str(gateway.port), timeout=180)
        after = gateway.state()
    finally:
        gateway.stop()
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    lines = [line.removeprefix("day_trader: preflight: ") for line in result.stdout.splitlines()]
    steps = [line for line in lines if line.startswith("step ")]
    assert len(steps) == len(STEPS) and all(": PASS - " in line for line in steps), steps
    assert "account check: left as found" in result.stdout
    assert (before["positions"], before["open_orders"]) == (after["positions"], after["open_orders"]) == ({}, [])
    assert after["order_refs"] and all(r.startswith("PF-") for r in after["order_refs"])
    assert all(o["status"] in ("Filled", "Cancelled") for o in after["orders"])
    path = tmp_path / "logs" / "sim" / f"preflight_4567_{HALF_DAY}.json"
    body = json.loads(path.read_text())
    assert body["passed"] and body["account"] == "****4567" and "DU1234567" not in path.read_text()
    assert [s["verdict"] for s in body["steps"]] == ["pass"] * len(STEPS)
    assert body["account_check"]["left_as_found"] and body["account_check"]["preflight_net_shares"] == 0


def test_a_live_account_is_refused_in_one_line_before_any_order(tmp_path):
    gateway = _gateway("--account", "U7654321")
    try:
        gateway.admin("step 600")
        result = run_bot(tmp_path, "--preflight", "--port", str(gateway.port), timeout=60)
        assert gateway.state()["order_refs"] == []
    finally:
        gateway.stop()
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "day_trader.py: error: account ****4321 is not a paper account: the preflight runs on a "
        "paper account only (ids start with DU): log in to the paper account (Gateway port 4002, "
        "TWS 7497) and pass its --port"]
    assert not list(tmp_path.rglob("preflight_*.json"))


def _record(release: StepVerdict) -> PreflightRecord:
    at = datetime(2025, 7, 2, 10, 5, tzinfo=NY)
    steps = [StepResult(n, release if n == 2 else StepVerdict.PASS, f"answer {n}") for n in STEPS]
    if release is not StepVerdict.PASS:
        steps[1].answer = "the modification was refused (IB 201: Order rejected); IB still lists it PreSubmitted"
    return PreflightRecord("DU1234567", True, "SPY", date(2025, 7, 2), at, at, 9, steps)


@pytest.mark.parametrize("release", [StepVerdict.FAIL, StepVerdict.PASS], ids=["step 2 failed", "passed"])
def test_the_day_trader_flattens_as_the_record_says(tmp_path: Path, release: StepVerdict):
    """The same day twice: with a record whose step 2 failed the backstop is never modified (it
    ends Cancelled with its goodAfterTime, the position sold by a FLAT market order); with a
    passed record the flatten releases it (it executes with goodAfterTime cleared)."""
    _record(release).write(tmp_path / "logs" / "sim")  # a simulated account's records
    watchlist = write_watchlist(tmp_path, ["SPY"], SPY_ONLY)
    gateway = _gateway()
    try:
        bot = start_bot(tmp_path, "--allocation", "0.5", "--port", str(gateway.port),
                        "--watchlist", str(watchlist), "--db", str(tmp_path / "paper.db"),
                        "--no-improve", "--status-port", "0")
        assert wait_until(lambda: "clients=2" in gateway.admin("status"), 30), "bot never connected"
        time.sleep(1.0)  # its history and subscriptions, still at the open
        assert gateway.admin("speed 600").startswith("OK")
        out, err = bot.communicate(timeout=180)
        state = gateway.state()
    finally:
        gateway.stop()
    assert bot.returncode == 0, err[-3000:]
    backstops = [o for o in state["orders"] if o["ref"].startswith("DT-") and o["ref"].endswith("-BKS")]
    flats = [o for o in state["orders"] if o["ref"].startswith("DT-") and o["ref"].endswith("-FLAT")]
    assert backstops, "the bot never protected a position"
    log = run_log(tmp_path, HALF_DAY)
    assert log["flat_at"] is not None and not state["positions"]
    assert log["preflight"]["release_backstop"] is (release is StepVerdict.PASS)
    if release is StepVerdict.PASS:
        assert "passed a preflight on 2025-07-02 10:05" in err and "no fallback in force" in err
        released = [o for o in backstops if o["status"] == "Filled"]
        assert released and all(o["good_after"] is None for o in released), "released by modify"
        assert not any(f["status"] == "Filled" for f in flats)
    else:
        assert "did not pass (step 2;" in err and "fallbacks in force: step 2 did not pass" in err
        assert "every exit cancelled, confirmed, then sold" in err
        assert all(o["status"] == "Cancelled" and o["good_after"] is not None for o in backstops), \
            [(o["ref"], o["status"], o["good_after"]) for o in backstops]
        assert any(f["status"] == "Filled" for f in flats), "sold by the flatten's own market order"
