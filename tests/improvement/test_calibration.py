"""`python -m improvement.calibration` on a small fixed slice (the full 200-seed measurement is a
command, see docs/improvement.md): the whole cycle runs night after night on a null month and on
a planted-edge market per seed; the planted change is found and applied, the null month changes
nothing; the markets are what they claim to be."""

from __future__ import annotations

import pytest

from improvement.calibration import calibrate, main, text, wilson
from improvement.calibration_markets import PLANTED, base_market, market
from improvement.calibration_run import WARMUP, market_days
from sim.market.grid import snap_bar


def test_a_fixed_slice_finds_the_planted_changes_and_changes_nothing_in_the_null() -> None:
    result = calibrate([100, 101], workers=1)  # seed 100 plants the stop, 101 the target
    assert result["false_change_rate"] == 0.0 and result["null_months_with_a_change"] == 0
    assert result["power"] == 1.0
    for kind in ("stop", "target"):
        k = result["by_kind"][kind]
        assert (k["markets"], k["applied"], k["traded_as_b"]) == (1, 1, 1)
        assert k["median_night_applied"] <= 40
    lines = text(result)
    assert lines[-1] == "false_change_rate: 0.0 power: 1.0"
    assert "95% interval [0.0%, 65.8%]" in lines[1]


def test_the_wilson_interval() -> None:
    assert wilson(0, 200) == (0.0, pytest.approx(0.01885, abs=1e-4))
    low, high = wilson(160, 200)
    assert low == pytest.approx(0.7391, abs=1e-4) and high == pytest.approx(0.8495, abs=1e-4)


def test_the_markets_are_what_they_claim() -> None:
    days = market_days(1, 20)
    base = base_market(3, days)
    day = days[WARMUP]
    for symbol in base.symbols():  # the generator's whole cents are on the tick grid already
        for bar in base.session_bars(symbol, day) + base.daily_bars(symbol)[-3:]:
            assert snap_bar(bar) is bar
    null = market(3, days, None, base)
    assert null.session_bars("AAA", day) == base.session_bars("AAA", day)
    for kind, planted in PLANTED.items():
        twin = market(3, days, kind, base)
        pairs = list(zip(base.session_bars("AAA", day), twin.session_bars("AAA", day),
                         strict=True))
        changed = [(a, b) for a, b in pairs if a != b]
        assert changed and all(a.close == b.close and a.open == b.open for a, b in pairs)
        for a, b in changed:  # only the planted side's extreme moves, by the stated depth
            if kind == "stop":
                depth = 1 - b.low / min(a.open, a.close)
                assert b.high == a.high and b.low < a.low
            else:
                depth = b.high / max(a.open, a.close) - 1
                assert b.low == a.low and b.high > a.high
            assert planted.low - 0.0005 < depth < planted.high + 0.0005


@pytest.mark.parametrize("argv, expected", [
    (["--seeds", "0"], "--seeds 0 is invalid"),
    (["--seeds", "1", "--workers", "0"], "--workers 0 is invalid"),
    (["--seeds", "1", "--alpha", "0.7"], "--alpha 0.7 is invalid"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], expected: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
