"""`python day_trader.py --preflight` and `python -m trade.ib.preflight` on the command line:
flags, one-line errors, instant --help. The runs against a simulator are in
tests/e2e/test_preflight.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

DAY_TRADER = str(REPO / "day_trader.py")
MODULE = ["-m", "trade.ib.preflight"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_day_trader_parses_preflight_without_an_allocation():
    from day_trader import parse_args

    _, args = parse_args(["--preflight"], env={}, dotenv_path=None)
    assert args.preflight == "SPY"
    settings, args = parse_args(["--preflight", "qqq", "--port", "4002"], env={}, dotenv_path=None)
    assert args.preflight == "QQQ" and settings.ib_port == 4002 and settings.allocation is None


@pytest.mark.parametrize(("args", "expected"), [
    (["--preflight", "--sim"], "--preflight cannot be combined with --sim: it proves an IB paper "
                               "account (the simulator needs none): drop it"),
    (["--preflight", "--live"], "--preflight cannot be combined with --live"),
    (["--preflight", "1X"], "--preflight 1X is invalid: use a ticker such as SPY"),
    (["--port", "4002"], "--allocation is required: use a fraction in (0, 1]"),
], ids=["with --sim", "with --live", "bad symbol", "no allocation without --preflight"])
def test_day_trader_preflight_bad_input_is_one_line_and_exit_2(tmp_path, args, expected):
    result = run(DAY_TRADER, *args, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"day_trader.py: error: {expected}")


def test_the_module_answers_help_at_once_and_bad_input_in_one_line(tmp_path):
    shown = run(*MODULE, "--help", cwd=tmp_path)
    assert shown.returncode == 0 and "--symbol" in shown.stdout and "--client-id" in shown.stdout
    timed = subprocess.run([sys.executable, "-X", "importtime", *MODULE, "--help"], cwd=tmp_path,
                           env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)},
                           capture_output=True, text=True, timeout=60)
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in timed.stderr.splitlines()}
    assert imported & {"pandas", "ib_async", "exchange_calendars", "sim"} == set()
    bad = run(*MODULE, "--symbol", "$$$", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr == ("python -m trade.ib.preflight: error: --symbol $$$ is invalid: use a "
                          "ticker such as SPY (a liquid ETF)\n")


def test_an_unreachable_gateway_is_one_line_and_exit_1(tmp_path):
    result = run(*MODULE, "--port", "1", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "cannot reach IB Gateway/TWS at 127.0.0.1:1" in lines[0]
