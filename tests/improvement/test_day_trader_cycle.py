"""day_trader.py with the nightly cycle, as a user runs it: a replayed session from a data
directory (the wave market written as CSV files), the cycle after the close against a loopback
DeepSeek server, and the next session trading what the cycle scheduled; `--params` overrides
for one run, `--no-improve` skips the cycle."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.improvement.conftest import DAYS, KEY, answer, recommend
from tests.improvement.markets import WaveMarket
from tests.paths import REPO

pytestmark = pytest.mark.e2e


def write_csv_market(root: Path, market: WaveMarket) -> None:
    for symbol in market.symbols():
        folder = root / "intraday" / symbol
        folder.mkdir(parents=True)
        for day in market.sessions(symbol):
            rows = ["timestamp,open,high,low,close,volume"]
            rows += [f"{b.start.isoformat()},{b.open},{b.high},{b.low},{b.close},{int(b.volume)}"
                     for b in market.session_bars(symbol, day)]
            (folder / f"{day.isoformat()}.csv").write_text("\n".join(rows) + "\n")


async def day_trader(workdir: Path, day: str, *extra: str,
                     env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "day_trader.py"), "--allocation", "0.5", "--sim",
        "--sim-data", str(workdir / "data"), "--sim-date", day, "--speed", "20000",
        "--watchlist", str(workdir / "watchlist.json"), "--db", str(workdir / "sim.db"), *extra,
        cwd=workdir, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


def run_log_path(workdir: Path, day: str) -> Path:
    """The newest run log of `day` (real runs in logs/, simulated ones in logs/sim/)."""
    found = sorted((workdir / "logs").rglob(f"day_trader_run_{day}*.json"), key=lambda p: p.name)
    assert found, f"no run log of {day} under {workdir / 'logs'}"
    return found[-1]


def run_log(workdir: Path, day: str) -> dict[str, Any]:
    return json.loads(run_log_path(workdir, day).read_text())


async def test_the_next_session_trades_what_the_cycle_scheduled(
    tmp_path: Path, llm_server: FakeOpenAIServer
) -> None:
    write_csv_market(tmp_path / "data", WaveMarket(["AAA"], DAYS))
    (tmp_path / "watchlist.json").write_text(json.dumps(
        {"symbols": ["AAA"], "overrides": {"AAA": {"atr_min_pct": 0.0}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DEEPSEEK_"))}
    env.update({"PYTHONPATH": str(REPO), "LOGS_DIR": str(tmp_path / "logs"),
                "REPORTS_DIR": str(tmp_path / "reports"), "DEEPSEEK_API_KEY": KEY,
                "DEEPSEEK_API_BASE": llm_server.base_url})
    llm_server.reply(answer(recommend("profit_target", 0.02)))

    code, out, err = await day_trader(tmp_path, "2026-02-17", env=env)
    assert code == 0, err
    assert "regime UNKNOWN (" in out  # no SPY in the data folder: said plainly
    assert "Traceback" not in err and "Event loop is closed" not in err, err
    assert "improvement cycle 2026-02-17: " in out and "tested on 20 of 20 sessions, " \
           "challenger B profit_target 0.014 -> " in out and "; LLM ok;" in out, out
    report = json.loads((tmp_path / "reports" / "improvement" /
                         "improvement_report_2026-02-17.json").read_text())
    assert report["next_session"] == "2026-02-18"
    assert list(report)[0] == "headline"  # what the current parameters earn, said first
    assert report["headline"].startswith("the current parameters, replayed on the ")
    earned = report["expectancy"]
    assert earned["per_trade"]["trades"] > 0 and earned["losing"] == (earned["line"] is not None)
    assert ("WARNING the current parameters" in out) == earned["losing"]

    code, out, err = await day_trader(tmp_path, "2026-02-18", "--no-improve", env=env)
    assert code == 0, err
    assert "parameters for 2026-02-18: scheduled by the cycle of 2026-02-17 (variant A)" in out
    assert (f"day_trader: WARNING {earned['line']}" in out) == earned["losing"]  # the start line
    assert "improvement cycle" not in out
    assert run_log(tmp_path, "2026-02-18")["params"]["default"] == report["next_params"]
    assert not (tmp_path / "reports" / "improvement" /
                "improvement_report_2026-02-18.json").exists()

    (tmp_path / "p.json").write_text('{"profit_target": 0.011}')
    code, out, err = await day_trader(tmp_path, "2026-02-19", "--no-improve", "--params",
                                      str(tmp_path / "p.json"), env=env)
    assert code == 0, err
    assert f"parameters for 2026-02-19: --params {tmp_path / 'p.json'}" in out
    assert run_log(tmp_path, "2026-02-19")["params"]["default"]["profit_target"] == 0.011

    (tmp_path / "bad.json").write_text('{"profit_target": "high"}')
    code, out, err = await day_trader(tmp_path, "2026-02-20", "--params",
                                      str(tmp_path / "bad.json"), env=env)
    assert code == 2 and err.count("\n") == 1 and "must be a number" in err, err
    assert len(llm_server.requests) == 1 and KEY not in out + err
