"""`python -m sim.gateway` standalone: prints where it listens, serves, exits 0 on a signal."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import pytest

from tests.conftest import DATA_DIR
from tests.paths import REPO


def run_gateway(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.gateway", "--port", "0", "--admin-port", "0", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    return proc, line


def admin_port_in(line: str) -> int:
    """The admin port the gateway's start-up line names."""
    found = re.search(r"admin 127\.0\.0\.1:(\d+)", line)
    assert found, line
    return int(found[1])


def admin(port: int, command: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command.encode() + b"\n")
        return sock.makefile().readline().strip()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_replays_csv_data_and_exits_zero_on_signal(sig: signal.Signals) -> None:
    proc, line = run_gateway("--data", str(DATA_DIR), "--date", "2019-02-13", "--symbols", "SPY", "--speed", "60")
    try:
        match = re.match(r"IB Gateway simulator listening on 127\.0\.0\.1:(\d+) \(admin 127\.0\.0\.1:(\d+)\), replaying 2019-02-13", line)
        assert match, line
        assert admin(int(match[2]), "status").startswith("OK time=2019-02-13T09:3")
    finally:
        proc.send_signal(sig)
        assert proc.wait(10) == 0


def test_cli_synthetic_market_serves_too() -> None:
    proc, line = run_gateway("--synthetic", "--seed", "7", "--symbols", "SPY", "--speed", "0")
    try:
        assert "replaying" in line and "stepping" in line, line
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_cli_names_the_missing_option() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim.gateway", "--port", "0", "--data", str(DATA_DIR)],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode != 0
    assert "--date" in proc.stderr


# -- flag validation: one line naming the flag, exit status 2 (in-process: the same parser) ---------


def cli_error(capsys, *argv: str) -> str:
    from sim.tws.cli import build_parser, parse_args, source_from_args

    with pytest.raises(SystemExit) as stop:
        source_from_args(parse_args(list(argv)), build_parser())
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(("argv", "names"), [
    (["--speed", "-5"], "--speed -5"),
    (["--date", "2025-7-3"], "'2025-7-3' is not a date"),
    (["--data", str(DATA_DIR), "--date", "2025-07-04"], "--date 2025-07-04: not an NYSE session"),
    (["--data", str(DATA_DIR), "--date", "2019-02-13", "--symbols", "ZZZZ"], "--symbols ZZZZ: no intraday data on 2019-02-13"),
    (["--data", "/nonexistent/data", "--date", "2019-02-13"], "--data /nonexistent/data: no intraday/ directory"),
    (["--data", str(DATA_DIR)], "--date: required"),
    (["--second-positions", "SPY:100"], "--second-positions: needs --second-account"),
    (["--second-account", "DU1", "--second-positions", "SPY=100"], "'SPY=100': use SYMBOL:SHARES"),
    (["--from", "2019-02-14", "--to", "2019-02-12", "--data", str(DATA_DIR)], "--from 2019-02-14 is after --to"),
    (["--state", "/nonexistent/dir/state.json"], "--state /nonexistent/dir/state.json"),
])
def test_bad_flags_are_one_line_naming_the_flag_and_exit_2(capsys, argv, names) -> None:
    assert names in cli_error(capsys, *argv)


def test_help_describes_every_flag_with_its_default(capsys) -> None:
    from sim.tws.cli import build_parser

    parser = build_parser()
    text = parser.format_help()
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{action.option_strings} has no help"
            assert action.option_strings[0] in text
    assert "(default: 4002)" in text and "(default: 1.0)" in text


def test_synthetic_without_a_date_replays_the_last_completed_session() -> None:
    from datetime import datetime

    from sim.market.sessions import NY
    from sim.tws.cli import last_completed_session

    assert str(last_completed_session(datetime(2025, 7, 7, 8, 0, tzinfo=NY))) == "2025-07-03"  # holiday Fri
    assert str(last_completed_session(datetime(2025, 7, 7, 16, 1, tzinfo=NY))) == "2025-07-07"


def test_three_days_from_the_cli_flags() -> None:
    from sim.tws.cli import build_parser, parse_args, source_from_args

    _, days, symbols = source_from_args(
        parse_args(["--data", str(DATA_DIR), "--from", "2019-02-12", "--to", "2019-02-14"]), build_parser())
    assert [str(d) for d in days] == ["2019-02-12", "2019-02-13", "2019-02-14"]
    assert {"SPY", "QQQ", "MSFT"} <= set(symbols)
    _, days, _ = source_from_args(parse_args(["--synthetic", "--date", "2019-02-14", "--days", "3"]), build_parser())
    assert [str(d) for d in days] == ["2019-02-12", "2019-02-13", "2019-02-14"]


def test_cli_replays_three_sessions_and_keeps_state_across_a_restart(tmp_path) -> None:
    state = tmp_path / "state.json"
    proc, line = run_gateway("--data", str(DATA_DIR), "--from", "2019-02-12", "--to", "2019-02-14",
                             "--symbols", "SPY", "--speed", "0", "--state", str(state),
                             "--second-account", "DU7654321", "--second-positions", "SPY:100")
    try:
        assert "replaying 2019-02-12..2019-02-14 (3 sessions)" in line, line
        assert "account DU1234567,DU7654321" in line
        admin_port = admin_port_in(line)
        assert admin(admin_port, "step 172800").startswith("OK")  # two days on
        assert '"day":"2019-02-14"' in admin(admin_port, "state")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert state.exists()
    proc, line = run_gateway("--data", str(DATA_DIR), "--date", "2019-02-14", "--symbols", "SPY",
                             "--speed", "0", "--state", str(state))
    try:
        admin_port = admin_port_in(line)
        assert '"DU7654321":{"positions":{"SPY":{"qty":100.0' in admin(admin_port, "state")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
