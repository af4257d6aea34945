"""`python -m sim.gateway --hold-until-client`: the clock waits at 09:25 for its first client to be
ready to trade (issue 21 item 6: the standalone recipe's clock ran from the start, so at 400x the
open was gone before the bot had started), and `--symbols-from` replays a watchlist's symbols."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from sim.clock_hold import ClockHold
from sim.gateway import GatewaySimulator
from sim.market.sessions import NY, previous_sessions
from sim.market.synthetic import SyntheticMarket
from sim.market.tickers import known_tickers
from tests.paths import REPO
from trade.ib.session import ib_broker

DAY = date(2026, 2, 6)
PRE_OPEN = datetime(2026, 2, 6, 9, 25, tzinfo=NY)


async def _held(grace_s: float = 10.0) -> tuple[GatewaySimulator, ClockHold, list[str]]:
    market = SyntheticMarket(7, ["SPY"], [*previous_sessions(DAY, 5), DAY],
                             universe=known_tickers(None))
    sim = GatewaySimulator.build(market, DAY, ["SPY"], speed=None, start=PRE_OPEN, port=0)
    said: list[str] = []
    hold = ClockHold(sim, 400.0, grace_s=grace_s, say=said.append)
    sim.request_observers.append(hold.observe)
    await sim.start()
    return sim, hold, said


async def test_the_clock_waits_through_a_bots_start_up_and_runs_once_it_streams() -> None:
    sim, hold, said = await _held()
    release = asyncio.get_running_loop().create_task(hold.run())
    try:
        async with ib_broker(sim.host, sim.port, 2) as broker:
            await broker.qualify(["SPY"])
            await broker.history("SPY", "5 D", "1 min")  # the warm-up: still 09:25
            await asyncio.sleep(0.2)
            assert sim.now() == PRE_OPEN and not release.done()
            await broker.subscribe_bars("SPY", lambda bar: None)  # ready to trade
            await asyncio.wait_for(release, 5)
            await asyncio.sleep(0.05)
            assert sim.now() > PRE_OPEN
    finally:
        release.cancel()
        await sim.stop()
    assert said == ["clock running from 09:25 at 400x: client 2 asked for live data"]


async def test_a_client_that_never_streams_releases_the_clock_after_the_grace() -> None:
    sim, hold, said = await _held(grace_s=0.3)
    release = asyncio.get_running_loop().create_task(hold.run())
    try:
        async with ib_broker(sim.host, sim.port, 1):
            await asyncio.wait_for(release, 5)
    finally:
        await sim.stop()
    assert said == ["clock running from 09:25 at 400x: the first client has been connected 0.3 s"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim.gateway", "--port", "0", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("args", "expected"), [
    (["--synthetic", "--speed", "0", "--hold-until-client"],
     "--hold-until-client: needs a running clock to release: give --speed N > 0"),
    (["--synthetic", "--symbols", "SPY", "--symbols-from", "day_trading_watchlist.json"],
     "--symbols-from: use either --symbols or --symbols-from"),
    (["--synthetic", "--symbols-from", "nowhere.json"], "--symbols-from nowhere.json: cannot read it"),
    (["--synthetic", "--symbols-from", "pyproject.toml"], "--symbols-from pyproject.toml: cannot read"),
    (["--synthetic", "--symbols", "SPY", "XYZQ"],
     "--symbols XYZQ: not a US stock or ETF the simulator knows"),
])
def test_bad_flags_are_one_line_and_exit_2(args: list[str], expected: str) -> None:
    result = _cli(*args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr


def test_symbols_from_a_watchlist_and_the_hold_are_announced(tmp_path: Path) -> None:
    watchlist = tmp_path / "w.json"
    watchlist.write_text(json.dumps({"symbols": ["SPY", "nvda"]}))
    proc = subprocess.Popen([sys.executable, "-m", "sim.gateway", "--port", "0", "--synthetic",
                             "--date", "2026-02-06", "--symbols-from", str(watchlist),
                             "--speed", "400", "--hold-until-client"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert "replaying 2026-02-06 SPY,NVDA at 400x real time" in lines[0]
    assert lines[1].startswith("simulator id ") and "sim_runs/" in lines[1]
    assert lines[2] == ("clock held at 2026-02-06 09:25 until the first API client is ready to "
                        "trade (live data or an order, or 10 s connected)\n")
