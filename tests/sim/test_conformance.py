"""`python -m sim.conformance` against the in-process simulator: every request kind it walks gets
the answer a real Gateway gives (data, or IB's error for what is refused), none goes unanswered."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest

from sim.conformance.__main__ import main
from sim.conformance.kinds import KINDS
from sim.market.sessions import NY
from tests.paths import REPO

SYMBOLS = ("SPY", "QQQ", "MSFT")


@pytest.fixture
def running() -> Iterator[Any]:
    """The simulator on its own thread, its clock running 30x from 10:00 (streams tick at once)."""
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource
    from tests.paths import DATA

    sim = GatewaySimulator.build(CsvBarSource(DATA, SYMBOLS), date(2019, 2, 13), SYMBOLS, port=0, speed=30.0,
                                 start=datetime(2019, 2, 13, 10, 0, tzinfo=NY))
    handle = sim.start_in_thread()
    yield handle
    handle.stop()


def test_the_command_answers_every_kind_and_ends_with_the_count(running) -> None:
    done = subprocess.run([sys.executable, "-m", "sim.conformance", "--port", str(running.port)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[-1] == f"conformance: {len(KINDS)}/{len(KINDS)}"
    assert len(lines) == len(KINDS) + 1 and not [line for line in lines if "no answer" in line]
    assert sum("IB-style error" in line for line in lines) == sum(k.expect == "error" for k in KINDS)


def test_json_names_each_kind_with_its_outcome(running, capsys) -> None:
    assert main(["--port", str(running.port), "--json", "--client-id", "991"]) == 0
    report = json.loads(capsys.readouterr().out)
    kinds = {k["kind"]: k for k in report["kinds"]}
    assert report["summary"] == f"conformance: {len(KINDS)}/{len(KINDS)}"
    assert kinds["reqHistoricalData (daily)"]["outcome"] == "answered"
    assert kinds["reqContractDetails (future)"]["detail"].startswith("200: ")
    assert all(k["seconds"] < 5 for k in report["kinds"])
    assert running.call(lambda: [o.status for o in running.sim.engine.orders()]) == ["Cancelled"]


def test_bad_input_is_one_line_and_exit_2(capsys) -> None:
    assert main(["--port", "0"]) == 2
    assert capsys.readouterr().err.strip() == "--port 0: use the Gateway's API port (1-65535)"
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2


def test_nothing_listening_is_one_line_and_exit_1(capsys) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["--port", str(port), "--timeout", "1"]) == 1
    assert capsys.readouterr().err.startswith(f"cannot connect to 127.0.0.1:{port}")
