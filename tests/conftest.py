"""Shared fixtures: the IB Gateway simulator in-process on a free port.

`gateway` runs on the test's own event loop with a *stepping* clock at the 2019-02-13 open
(SPY/QQQ/MSFT from the shared data), so a test moves time with `gateway.step(seconds)` and every
fill/bar it causes is delivered before the call returns. `gateway_factory(...)` builds one with
other settings (speed, start time, symbols, day).

The run starts with the longest tests (`tests/durations.json`), so none is left to start last.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.paths import DATA as DATA_DIR

# What a user's .env holds (docs/backtests.md): commands run without --data read the real bars.
# Set at import, before any test starts a subprocess, so the subprocesses inherit it too.
os.environ.setdefault("MARKET_DATA_DIR", str(DATA_DIR))

TEST_DAY = date(2019, 2, 13)
TEST_SYMBOLS = ("SPY", "QQQ", "MSFT")


@pytest.fixture
async def gateway_factory() -> AsyncIterator[Callable[..., Any]]:
    from sim.gateway import GatewaySimulator
    from sim.market.bar_sources import CsvBarSource

    started: list[GatewaySimulator] = []

    async def make(
        *,
        day: date = TEST_DAY,
        symbols: Sequence[str] = TEST_SYMBOLS,
        speed: float | None = None,
        start: datetime | None = None,
        cash: float = 100_000.0,
        admin: bool = False,
    ) -> GatewaySimulator:
        source = CsvBarSource(DATA_DIR, symbols)
        sim = GatewaySimulator.build(
            source, day, symbols, speed=speed, start=start, cash=cash, port=0,
            admin_port=0 if admin else None,
        )
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()


@pytest.fixture
async def gateway(gateway_factory: Callable[..., Any]) -> Any:
    """A stepping-clock gateway at the 2019-02-13 open; `.host/.port/.engine/.clock/.step()`."""
    return await gateway_factory()


# What each test longer than a second took (setup + call + teardown, in seconds), as
# `pytest -n 4 --record-durations` measured it; read only to start the longest tests first.
DURATIONS = Path(__file__).with_name("durations.json")
RECORD_FROM = 1.0  # seconds: shorter tests keep their place in the collection order


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", action="store_true",
                     help=f"update {DURATIONS.name} with what each test of this run longer "
                          f"than {RECORD_FROM:g} s took")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first: most of them wait on a simulated day in real time, so one started
    last would keep the run going long after the other workers are done (xdist hands tests out
    in this order, pyproject.toml). Only the order changes, the same on every worker (they must
    agree); tests never timed keep their place."""
    recorded = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    items.sort(key=lambda item: -recorded.get(item.nodeid, 0.0))


_took: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _took[report.nodeid] = _took.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not session.config.getoption("record_durations") or hasattr(session.config, "workerinput"):
        return  # only the process that saw every report (xdist's controller, or the only one)
    recorded = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    for nodeid, took in _took.items():  # the tests this run timed; the others keep their record
        test = nodeid.split("@")[0]  # xdist adds "@group" to an xdist_group test's id
        recorded.pop(test, None)
        if took >= RECORD_FROM:
            recorded[test] = round(took, 1)
    DURATIONS.write_text(json.dumps(dict(sorted(recorded.items())), indent=0) + "\n")
