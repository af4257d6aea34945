"""The preflight record on disk and what the day trader's start makes of it (no broker needed)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from trade.intraday.preflight_standing import preflight_standing
from trade.models import Account
from trade.preflight_record import (
    STEPS,
    PreflightRecord,
    RecordError,
    StepResult,
    StepVerdict,
    latest_record_path,
    load_record,
)

NY = ZoneInfo("America/New_York")
PAPER = Account("DU1234567", 100_000.0, 100_000.0, 400_000.0)
LIVE = Account("U7654567", 100_000.0, 100_000.0, 400_000.0)  # same last 4 as PAPER
SIMULATED = Account("DU1234567", 100_000.0, 100_000.0, 400_000.0, simulated=True)


def record(day: date = date(2025, 7, 3), failed: dict[int, StepVerdict] | None = None,
           left_nothing: bool = True) -> PreflightRecord:
    failed = failed or {}
    at = datetime(day.year, day.month, day.day, 10, 12, tzinfo=NY)
    steps = [StepResult(n, failed.get(n, StepVerdict.PASS), f"answer {n}", {"n": n}, 0.5)
             for n in STEPS]
    return PreflightRecord("DU1234567", False, "SPY", day, at, at, 9, steps,
                           {"left_as_found": left_nothing}, left_nothing)


def test_a_record_round_trips_with_the_account_masked_and_ib_texts_scrubbed(tmp_path):
    original = record()
    original.steps[0].evidence["refusals"] = {"BKS": ["IB 201: account DU1234567 may not ..."]}
    path = original.write(tmp_path)
    assert path.name == "preflight_4567_2025-07-03.json"
    text = path.read_text()
    assert "DU1234567" not in text and "****4567" in text
    back = load_record(path)
    assert back.passed and back.release_confirmed and back.fallbacks() == []
    assert back.account == "****4567" and back.steps[3].answer == "answer 4"
    assert json.loads(text)["steps"][0]["name"] == "held market order (goodAfterTime)"


def test_a_failed_release_puts_the_fallback_in_force_and_other_steps_are_reported():
    failed = record(failed={2: StepVerdict.FAIL, 5: StepVerdict.TIMEOUT})
    assert not failed.passed and not failed.release_confirmed
    assert failed.fallbacks() == ["step 2 did not pass: the flatten cancels the exits, confirms "
                                  "and sells at market instead of releasing the broker-held backstop"]
    assert failed.unconfirmed() == [5]
    assert not record(left_nothing=False).passed, "a preflight that left something never passes"


def test_the_newest_record_of_the_account_is_the_one_read(tmp_path):
    record(date(2025, 7, 1), failed={2: StepVerdict.FAIL}).write(tmp_path)
    record(date(2025, 7, 3)).write(tmp_path)
    (tmp_path / "preflight_9999_2025-07-09.json").write_text("{}")  # another account's
    found = latest_record_path(tmp_path, "DU1234567")
    assert found is not None and found.name == "preflight_4567_2025-07-03.json"
    assert latest_record_path(tmp_path / "missing", "DU1234567") is None


def test_the_start_line_of_an_account_that_passed(tmp_path):
    path = record().write(tmp_path)
    standing = preflight_standing(tmp_path, PAPER)
    assert standing.release_backstop and standing.passed and standing.fallbacks == ()
    assert standing.line == (f"preflight: account ****4567 passed a preflight on 2025-07-03 10:12 "
                             f"(SPY, {path}): no fallback in force")


def test_the_start_line_of_an_account_whose_release_failed(tmp_path):
    record(failed={2: StepVerdict.FAIL, 4: StepVerdict.TIMEOUT}).write(tmp_path)
    standing = preflight_standing(tmp_path, PAPER)
    assert not standing.release_backstop and not standing.passed
    assert "the preflight of 2025-07-03 10:12 did not pass (step 2, step 4;" in standing.line
    assert "fallbacks in force: step 2 did not pass: the flatten cancels the exits" in standing.line
    assert standing.line.endswith("unconfirmed, without a fallback: step 4 (see the record)")
    assert standing.as_dict()["release_backstop"] is False


def test_no_record_means_the_conservative_flatten(tmp_path):
    standing = preflight_standing(tmp_path, PAPER)
    assert not standing.release_backstop and standing.record is None
    assert standing.line == (
        "preflight: no preflight on record for account ****4567 (run `python day_trader.py "
        "--preflight` once during regular hours); fallback in force: the flatten cancels the "
        "exits, confirms and sells at market instead of releasing the broker-held backstop")


def test_a_live_account_never_inherits_its_paper_twins_record(tmp_path):
    record().write(tmp_path)  # the paper account DU1234567: the same last 4 as U7654567
    standing = preflight_standing(tmp_path, LIVE)
    assert not standing.release_backstop and standing.record is None
    assert standing.line.startswith("preflight: none for account ****4567, a live account (a "
                                    "preflight runs on a paper account only); fallback in force")


def test_a_simulated_account_needs_none_but_follows_a_record_it_has(tmp_path):
    assert preflight_standing(tmp_path, SIMULATED).release_backstop
    record(failed={2: StepVerdict.FAIL}).write(tmp_path)
    assert not preflight_standing(tmp_path, SIMULATED).release_backstop


@pytest.mark.parametrize("body", ["{not json", json.dumps({"kind": "something else"}),
                                  json.dumps({"kind": "ib-paper-preflight", "version": 99}),
                                  json.dumps({"kind": "ib-paper-preflight", "version": 1})],
                         ids=["not JSON", "not a record", "another version", "fields missing"])
def test_an_unusable_record_is_no_record(tmp_path, body):
    path = tmp_path / "preflight_4567_2025-07-03.json"
    path.write_text(body)
    with pytest.raises(RecordError, match=str(path)):
        load_record(path)
    standing = preflight_standing(tmp_path, PAPER)
    assert not standing.release_backstop and "is not usable" in standing.line


def test_a_step_line_is_one_line(tmp_path: Path):
    step = StepResult(1, StepVerdict.PASS, "accepted; 399 warning 'Order Message:\nSELL 1 SPY ARCA'",
                      seconds=1.25)
    assert step.line() == ("step 1 held market order (goodAfterTime): PASS - accepted; 399 warning "
                           "'Order Message: SELL 1 SPY ARCA' (1.2 s)")
