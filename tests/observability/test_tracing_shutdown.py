"""An unreachable or silent collector never stalls the bot: span ends stay instant, exit stays bounded."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from observability.tracing import setup_tracing
from tests.paths import REPO

BOUND_S = 1.5  # shutdown_timeout_s is 1.0; the rest is slack for a loaded CI machine


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and then never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_ignore() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_ignore, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def _shutdown_seconds(port: int, protocol: str) -> tuple[float, float]:
    handle = setup_tracing("day-trader", environ={
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
    })
    started = time.monotonic()
    for i in range(20):
        with handle.span("bar SPY", symbol="SPY", seq=i):
            pass
    spans_s = time.monotonic() - started
    started = time.monotonic()
    handle.shutdown()
    return spans_s, time.monotonic() - started


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_shutdown_with_a_closed_port_is_bounded(protocol: str) -> None:
    spans_s, shutdown_s = _shutdown_seconds(_closed_port(), protocol)
    assert spans_s < 0.1
    assert shutdown_s < BOUND_S


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_shutdown_with_a_port_that_never_answers_is_bounded(protocol: str, silent_port: int) -> None:
    spans_s, shutdown_s = _shutdown_seconds(silent_port, protocol)
    assert spans_s < 0.1
    assert shutdown_s < BOUND_S


_EXIT_WITHOUT_SHUTDOWN = """
import sys, time
t0 = time.monotonic()
from observability.tracing import setup_tracing
handle = setup_tracing("day-trader")
with handle.span("bar SPY", symbol="SPY"):
    pass
print(time.monotonic() - t0, flush=True)
"""


def test_process_exit_with_a_silent_collector_adds_at_most_a_second(silent_port: int) -> None:
    """The bot forgot to call shutdown(): the atexit hook still exits within the bound."""

    def run(env: dict[str, str]) -> tuple[float, float]:
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-c", _EXIT_WITHOUT_SHUTDOWN], cwd=REPO,
                             env={"PATH": "/usr/bin:/bin", **env}, capture_output=True,
                             text=True, timeout=30, check=True).stdout
        return float(out.strip()), time.monotonic() - started

    in_process_s, total_s = run({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{silent_port}"})
    exit_s = total_s - in_process_s
    baseline_in_s, baseline_total_s = run({})
    assert exit_s - (baseline_total_s - baseline_in_s) < BOUND_S
