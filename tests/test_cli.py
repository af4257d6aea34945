"""The entry scripts' command lines, run as real subprocesses: --help, and one-line errors.

Each run gets a clean environment and an empty working directory, so a developer's `.env` or
exported IB_* variables cannot change the outcome.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

DAY_TRADER = REPO / "day_trader.py"
WEEKLY = REPO / "main.py"


def run(script: Path, *args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 30):
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


DAY_TRADER_FLAGS = [
    "--allocation", "--watchlist", "--host", "--port", "--client-id", "--account", "--live",
    "--sim", "--sim-data", "--sim-date", "--sim-from", "--sim-to", "--sim-seed", "--speed", "--db",
    "--no-improve", "--log-level", "--params",
]  # fmt: skip
WEEKLY_FLAGS = [
    "--run-days", "--run-time", "--interval", "--allocation", "--host", "--port", "--client-id",
    "--once", "--sim", "--sim-data", "--sim-date", "--speed", "--dry-run", "--universe",
    "--force-online", "--with-day-trader", "--allocation-day", "--watchlist", "--db",
    "--log-level", "--alert-url", "--alert-mute",
]  # fmt: skip


@pytest.mark.parametrize(
    ("script", "flags"), [(DAY_TRADER, DAY_TRADER_FLAGS), (WEEKLY, WEEKLY_FLAGS)]
)
def test_help_exits_0_and_lists_every_flag(script: Path, flags: list[str], tmp_path: Path) -> None:
    result = run(script, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    missing = [flag for flag in flags if flag not in result.stdout]
    assert missing == []


@pytest.mark.parametrize("script", [DAY_TRADER, WEEKLY])
def test_help_does_not_import_heavy_modules(script: Path, tmp_path: Path) -> None:
    result = run(script, "--help", cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
    }
    assert imported & {"pandas", "numpy", "ib_async", "exchange_calendars", "sim"} == set()


DAY_TRADER_ERRORS = [
    (["--allocation", "0"], "--allocation 0 is invalid: use a fraction in (0, 1]"),
    (["--allocation", "1.5"], "--allocation 1.5 is invalid: use a fraction in (0, 1]"),
    (["--allocation", "abc"], "--allocation abc is invalid: use a fraction in (0, 1]"),
    (["--allocation=-0.1"], "--allocation -0.1 is invalid: use a fraction in (0, 1]"),
    ([], "--allocation is required: use a fraction in (0, 1]"),
    (["--allocation", "0.25", "--port", "99999"], "--port 99999 is invalid: use a TCP port"),
    (["--allocation", "0.25", "--port", "abc"], "--port abc is invalid: use a TCP port"),
    (["--allocation", "0.25", "--port"], "--port needs a value: use a TCP port"),
    (["--allocation", "0.25", "--client-id", "x"], "--client-id x is invalid: use a whole number"),
    (
        ["--allocation", "0.25", "--sim", "--sim-date", "2025-13-01"],
        "--sim-date 2025-13-01 is invalid: use a date YYYY-MM-DD",
    ),
    (
        ["--allocation", "0.25", "--sim", "--sim-date", "July 3"],
        "--sim-date July 3 is invalid: use a date YYYY-MM-DD",
    ),
    (["--allocation", "0.25", "--sim-date", "2025-07-03"], "--sim-date needs --sim"),
    (["--allocation", "0.25", "--sim", "--speed", "0"], "--speed 0 is invalid: use a positive"),
    (
        ["--allocation", "0.25", "--sim", "--sim-seed", "-1"],
        "--sim-seed -1 is invalid: use a whole",
    ),
    (["--allocation", "0.25", "--sim", "--live"], "--live cannot be combined with --sim"),
    (["--allocation", "0.25", "--sim-from", "2025-07-03", "--sim-to", "2025-07-07"],
     "--sim-from needs --sim"),
    (["--allocation", "0.25", "--sim", "--sim-from", "2025-07-03"],
     "--sim-from and --sim-to go together: give both dates of the range"),
    (["--allocation", "0.25", "--sim", "--sim-from", "2025-07-07", "--sim-to", "2025-07-03"],
     "--sim-to 2025-07-03 is before --sim-from 2025-07-07: swap them"),
    (["--allocation", "0.25", "--sim", "--sim-date", "2025-07-03", "--sim-from", "2025-07-03",
      "--sim-to", "2025-07-07"], "--sim-date cannot be combined with --sim-from/--sim-to"),
    (["--allocation", "0.25", "--sim", "--sim-from", "2025-07-04", "--sim-to", "2025-07-06"],
     "--sim-from 2025-07-04 --sim-to 2025-07-06: no NYSE session in that range: pick trading days"),
    (["--allocation", "0.25", "--sim", "--sim-date", "2019-02-13"],
     "no market data directory: pass --sim-data DIR or set MARKET_DATA_DIR"),
    (["--allocation", "0.25", "--log-level", "loud"], "--log-level loud is invalid: use one of"),
    (["--allocation", "0.25", "--bogus"], "unrecognized argument --bogus"),
]

WEEKLY_ERRORS = [
    (["--allocation", "0.5", "--run-days", "Funday"], "--run-days Funday is invalid: use weekday"),
    (["--allocation", "0.5", "--run-days", "Munday"], "--run-days Munday is invalid: use weekday"),
    (["--allocation", "0.5", "--run-days", "Monday", "sat"],
     "--run-days Saturday is invalid: the market is closed on weekends: use Monday to Friday"),
    (["--allocation", "0.5", "--run-days"], "--run-days needs a value: use weekday names"),
    (["--allocation", "0.5", "--run-time", "25:00"], "--run-time 25:00 is invalid: use a New York"),
    (["--allocation", "0.5", "--interval", "0"], "--interval 0 is invalid: use whole minutes"),
    (["--allocation", "1.5"], "--allocation 1.5 is invalid: use a fraction in (0, 1]"),
    (["--allocation", "0"], "--allocation 0 is invalid: use a fraction in (0, 1]"),
    (["--allocation", "0.5", "--port", "0"], "--port 0 is invalid: use a TCP port"),
    ([], "--allocation is required: use a fraction in (0, 1]"),
    (["--allocation", "0.5", "--allocation-day", "0.2"],
     "--allocation-day needs --with-day-trader"),
    (["--allocation", "0.5", "--with-day-trader"], "--with-day-trader needs --allocation-day"),
    (["--allocation", "0.7", "--with-day-trader", "--allocation-day", "0.4"],
     "--allocation 0.7 plus --allocation-day 0.4 is 1.1: the two books must fit in net "
     "liquidation: lower one so they sum to at most 1"),
    (["--allocation", "0.5", "--sim-date", "2019-02-11"], "--sim-date needs --sim"),
    (["--allocation", "0.5", "--sim", "--sim-date", "2019-02-11"],
     "no market data directory: pass --sim-data DIR or set MARKET_DATA_DIR"),
    (["--allocation", "0.5", "--alert-url", "json://127.0.0.1:8089/a", "--alert-url",
      "tgram://secret-token-shape/1"], "--alert-url entry 2 (tgram://…) is invalid: use apprise"),
    (["--allocation", "0.5", "--alert-mute", "loud"], "--alert-mute loud is invalid: use levels"),
]


def _assert_one_line_error(result: subprocess.CompletedProcess, prog: str, expected: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{prog}: error: {expected}")


@pytest.mark.parametrize(("args", "expected"), DAY_TRADER_ERRORS)
def test_day_trader_bad_argument_is_one_line_and_exit_2(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    _assert_one_line_error(run(DAY_TRADER, *args, cwd=tmp_path), "day_trader.py", expected)


@pytest.mark.parametrize(("args", "expected"), WEEKLY_ERRORS)
def test_weekly_bad_argument_is_one_line_and_exit_2(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    _assert_one_line_error(run(WEEKLY, *args, cwd=tmp_path), "main.py", expected)


def test_bad_environment_variable_is_one_line_naming_it(tmp_path: Path) -> None:
    result = run(DAY_TRADER, "--allocation", "0.25", cwd=tmp_path, env={"IB_PORT": "abc"})
    _assert_one_line_error(result, "day_trader.py", "IB_PORT='abc' is invalid: use a TCP port")


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    """The port from .env is the one the bot tries (nothing listens there: one line, exit 1)."""
    port = _closed_port()  # not 4002: another test's simulator may listen there
    (tmp_path / ".env").write_text(f"IB_PORT={port}\n")
    (tmp_path / "day_trading_watchlist.json").write_text('{"symbols": ["SPY"]}')
    result = run(DAY_TRADER, "--allocation", "0.25", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port} (connection refused)" in lines[0], result.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_day_trader_valid_arguments_run_a_simulated_day_and_exit_0(tmp_path: Path) -> None:
    watchlist = REPO / "day_trading_watchlist.json"
    result = run(DAY_TRADER, "--allocation", "0.25", "--sim", "--sim-seed", "3", "--speed", "4000",
                 "--watchlist", str(watchlist), "--no-improve", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "seed 3" in result.stdout
    # a fresh simulator's records: its own namespace, never the real DB
    [db] = (tmp_path / "sim_runs").glob("*/trading_history.db")
    assert not (tmp_path / "trading_history.db").exists()


def _weekly_dir(tmp_path: Path) -> dict[str, str]:
    """A universe in the working directory and an IB port nothing listens on."""
    (tmp_path / "weekly_universe.json").write_text('{"symbols": ["KO"]}')
    return {"IB_PORT": str(_closed_port())}


def test_weekly_allocation_may_come_from_the_environment(tmp_path: Path) -> None:
    env = {**_weekly_dir(tmp_path), "WEEKLY_ALLOCATION": "0.4"}
    result = run(WEEKLY, "--once", "--run-days", "thursday", "MON", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr  # the plan is printed, then no Gateway there
    assert "40%" in result.stdout and "client id 1" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "connection refused" in lines[0], result.stderr


def test_weekly_run_days_are_normalised_to_calendar_order(tmp_path: Path) -> None:
    result = run(WEEKLY, "--allocation", "0.5", "--run-days", "thursday", "MON", cwd=tmp_path,
                 env=_weekly_dir(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "every Monday, Thursday at 10:00" in result.stdout
