"""The docs' recipes, pasted and run as written (issue 21 item 6): a recipe that fails when a
newcomer pastes it is a bug like any other.

Each recipe is the fenced bash block after a `<!-- recipe: NAME ... -->` line (or the README's
`make run` command), run by bash in a working directory laid out as the repository is (the entry
scripts and the shipped JSON files, no records), with `python` on the PATH being this
interpreter. The one change made to the text: the standalone Gateway's port 4002 becomes a free
port, so a test never collides with anything listening there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import DATA, REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
_RECIPE = re.compile(r"<!-- recipe: (?P<name>[\w-]+)[^>]*-->\n```bash\n(?P<body>.*?)```", re.S)
SIM_ID = r"\d{8}-\d{6}-[0-9a-f]{4}"


def recipe(doc: Path, name: str) -> str:
    found = {m["name"]: m["body"] for m in _RECIPE.finditer(doc.read_text())}
    assert name in found, f"no recipe {name!r} in {doc}"
    return found[name]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _checkout(tmp_path: Path, *, with_data: bool = False) -> tuple[Path, dict[str, str]]:
    """A directory like the repository a user runs from, and a user's shell environment
    (`with_data`: MARKET_DATA_DIR names the real bars; without it, none is set)."""
    work = tmp_path / "repo"
    work.mkdir()
    for script in ("day_trader.py", "main.py"):
        (work / script).symlink_to(REPO / script)
    for shipped in ("day_trading_watchlist.json", "weekly_universe.json"):
        shutil.copy(REPO / shipped, work)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"  # a venv's interpreter must be run by its own path
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    ours = ("OTEL_", "ALERT_", "DB_PATH", "SIM_DB_PATH", "LOGS_DIR", "REPORTS_DIR", "IB_",
            "WATCHLIST_PATH", "DEEPSEEK_", "FMP_", "LOCAL_LLM_", "STRATEGY_", "WEEKLY_",
            "MARKET_DATA_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    if with_data:  # the user has set it as docs/backtests.md says
        env["MARKET_DATA_DIR"] = str(DATA)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)  # `python -m sim.gateway` from the repository directory
    return work, env


def _bash(work: Path, env: dict[str, str], script: str, timeout: float
          ) -> subprocess.CompletedProcess[str]:
    path = work / "recipe.sh"
    path.write_text(script)
    return subprocess.run(["bash", str(path)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_standalone_rehearsal_trades_a_whole_session_as_written(tmp_path: Path) -> None:
    text = recipe(REPO / "docs" / "simulator.md", "standalone")
    assert text.count("4002") == 2
    work, env = _checkout(tmp_path)
    result = _bash(work, env, text.replace("4002", str(_free_port())), timeout=300.0)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    out = result.stdout
    sim_id = re.search(rf"simulator id ({SIM_ID}): ", out)
    assert sim_id, out
    assert "clock running from 09:25 at 400x: client 2 asked for live data" in out
    home = work / "sim_runs" / sim_id[1]  # the records follow the simulator, never the real DB
    [log_path] = (home / "logs").glob("day_trader_run_*.json")
    log = json.loads(log_path.read_text())
    assert log["run_id"][11:17] == "092500"  # joined before the open
    assert log["trades"] and log["flat_at"] is not None and log["flat_at"][11:16] <= "15:56"
    watched = json.loads((work / "day_trading_watchlist.json").read_text())["symbols"]
    assert sorted(v["symbol"] for v in log["watchlist"]["kept"] + log["watchlist"]["dropped"]) \
        == sorted(watched)
    assert "missed minute" not in result.stderr  # no minute of the session came late
    assert not (work / "trading_history.db").exists()


def test_make_run_prints_what_the_readme_shows(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    command = "python day_trader.py --allocation 0.25 --sim"
    assert f"`make run` is `{command}`" in readme
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^run:.*\n\t\$\(PY\) day_trader\.py --allocation 0\.25 --sim$", makefile, re.M)
    work, env = _checkout(tmp_path)
    result = _bash(work, env, command + "\n", timeout=400.0)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    shown = readme[readme.index("What you\nwill see"):]
    shown = shown[shown.index("```\n") + 4:]
    shown = shown[: shown.index("```")]
    output = result.stdout + result.stderr
    mentions = [m.group(0) for line in shown.splitlines()
                for m in re.finditer(r"(?:\S+ ){1,2}sim_runs/\S+", line)]
    assert len(mentions) >= 4, "the README shows where the records go"
    for mention in mentions:  # each path the README shows, in words, with this run's id and date
        assert re.search(_shape(mention.rstrip(",")), output), (mention, output[-3000:])
    first = shown.splitlines()[0]
    assert re.search(_shape(first.split(", seed")[0]), result.stdout), (first, result.stdout)


_TOKENS = re.compile(r"(\d{8}-\d{6}-[0-9a-f]{4}|\d{4}-\d{2}-\d{2}_\d{6}-[0-9a-f]{4}"
                     r"|\d{4}-\d{2}-\d{2}|\d{2}:\d{2}(?::\d{2})?|\d[\d.,]*)")


def _shape(text: str) -> str:
    """README sample text as a pattern: its words as written, its ids, dates, times, ports and
    figures as whatever this run printed."""
    parts = _TOKENS.split(text)
    return "".join(re.escape(part) if i % 2 == 0 else r"[\w.:,-]+?"
                   for i, part in enumerate(parts))


def test_the_strategy_pages_results_are_what_its_commands_print(tmp_path: Path) -> None:
    page = (REPO / "docs" / "strategy.md").read_text()
    work, env = _checkout(tmp_path, with_data=True)
    result = _bash(work, env, recipe(REPO / "docs" / "strategy.md", "strategy-results"),
                   timeout=300.0)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    expectancy = re.search(r"expectancy (\S+) per trade \(95% interval (\S+) to (\S+);", out)
    assert expectancy, out
    shown = f"{expectancy[1]} ({expectancy[2]} to {expectancy[3]})".replace("+", "")
    assert "| 126 | -4,522.87 (-4.52%)" in page and "net pnl -4,522.87, trades 126" in out
    assert shown in page, (shown, out)
    rows = re.findall(r"^\s*\d+\s+(\S+)\s+(\S+)\s+(-?[\d,]+\.\d\d)\s", out, re.M)
    assert len(rows) == 16 and all(pnl.startswith("-") for _, _, pnl in rows)  # all 16 lose
    assert f"from {rows[0][2]} (target 1.0%, stop 1.2%) to {rows[-1][2]} (1.4%," in \
        page.replace("\n", " ")
