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
