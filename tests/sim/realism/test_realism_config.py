"""The realism's settings: default, off, a JSON file over the default, and bad input refused in
one line naming the field (`python -m sim.gateway --realism` exits 2)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from sim.tws.realism import Delay, Realism, RealismError
from tests.paths import REPO


def test_default_is_on_and_off_is_the_instant_simulator() -> None:
    on, off = Realism.default(), Realism.off()
    assert on.enabled and on.children_on_partial_fill and on.reply_delay("positions").hi_ms >= 100
    assert not off.enabled and not off.children_on_partial_fill and off.reply_delay("positions").max_s == 0
    assert Realism.parse("default") == on and Realism.parse("off") == off


def test_delays_are_mostly_quick_with_a_tail() -> None:
    rng = random.Random(1)
    commission = Realism.default().commission
    draws = [commission.draw(rng) for _ in range(4000)]
    quick = sum(d <= 0.05 for d in draws) / len(draws)
    assert 0.8 < quick < 0.9 and max(draws) <= 5.0 and max(draws) > 1.0


def test_a_file_overrides_the_default(tmp_path: Path) -> None:
    path = tmp_path / "ib.json"
    path.write_text(json.dumps({"seed": 4, "reply": {"positions": [300, 300]},
                                "commission": [0, 10, 0.5, 3000], "release_refusal": 201,
                                "children_on_partial_fill": False}))
    realism = Realism.parse(str(path))
    assert realism.seed == 4 and realism.reply["positions"] == Delay(300, 300)
    assert realism.reply["history"] == Realism.default().reply["history"]
    assert realism.commission == Delay(0, 10, 0.5, 3000) and realism.release_refusal == 201
    assert Realism.from_json(realism.as_json()) == realism


@pytest.mark.parametrize(("body", "names"), [
    ({"latency": 3}, "unknown setting(s) latency"),
    ({"commission": [5]}, "commission: expected [lo_ms, hi_ms]"),
    ({"commission": [50, 10]}, "commission: delay [50.0, 10.0] ms"),
    ({"reply": {"quotes": [1, 2]}}, "reply kinds quotes: unknown"),
    ({"release_refusal": 202}, "release_refusal 202"),
    ({"duplicate_p": 2}, "duplicate_p 2"),
    ({"held_warning": "yes"}, "held_warning: expected true or false"),
])
def test_bad_settings_name_the_field(tmp_path: Path, body: dict, names: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    with pytest.raises(RealismError, match=names.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("]", r"\]")):
        Realism.parse(str(path))


def test_the_command_line_refuses_a_missing_file_in_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "sim.gateway", "--realism", "nowhere.json"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--realism nowhere.json: cannot read it" in lines[0]


def test_the_gateway_serves_with_ibs_timing_when_asked() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sim.gateway", "--port", "0", "--synthetic",
                             "--symbols", "SPY", "--speed", "0", "--realism", "default"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "listening on" in line and line.rstrip().endswith("IB's timing"), line
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
