"""Every entry point files a simulator's records under that simulator, never in the real books
(issue 21 items 1 and 7): the weekly bot against a standalone `python -m sim.gateway`, and two
in-process `--sim` days that each start from a fresh simulator and fresh records.

Before: `main.py --once --port P` against a standalone simulator wrote an 8-name weekly book into
`trading_history.db` (on a real account the bot would later sell shares it believed it owned),
and every simulated run shared `trading_history.sim.db` and `reports/improvement/`.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from tests.e2e.harness import (
    DATA,
    PYTHON,
    GatewayProcess,
    bot_env,
    run_bot,
    sim_namespaces,
    write_watchlist,
)
from tests.e2e.weekly_harness import run_weekly, write_universe

UNIVERSE = ["KO", "PEP", "MSFT", "V"]
RULES = {"top_k": 4, "max_weight": 0.3, "min_edge_z": -5, "hold_edge_z": -5}


def _weekly_rows(db: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT symbol, qty FROM book_positions WHERE book = 'weekly' "
                            "AND qty > 0").fetchall()


def test_the_weekly_bot_files_a_standalone_simulators_trades_under_that_simulator(tmp_path):
    gateway = GatewayProcess.start("--synthetic", "--symbols", *UNIVERSE, "--speed", "600")
    try:
        assert gateway.process.stdout is not None
        announced = gateway.process.stdout.readline()  # "simulator id <id>: ..."
        sim_id = announced.split()[2].rstrip(":")
        universe = write_universe(tmp_path, UNIVERSE, RULES)
        result = run_weekly(tmp_path, "--allocation", "0.9", "--once", "--port", str(gateway.port),
                            "--universe", str(universe), timeout=120.0,
                            env={"REPORTS_DIR": "reports"})  # the default: reports follow records
        held = gateway.state()["positions"]
    finally:
        gateway.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert held, "the weekly cycle should have bought its book at the simulator"
    assert not (tmp_path / "trading_history.db").exists(), "a simulator's trades in the real DB"
    [home] = sim_namespaces(tmp_path)
    assert home.name == sim_id
    assert f"weekly: records in sim_runs/{sim_id}/trading_history.db" in result.stdout
    assert {symbol for symbol, _ in _weekly_rows(home / "trading_history.db")} == set(held)
    assert list((home / "reports" / "weekly").glob("weekly_report_*.json"))


FAST = {"SPY": {"atr_min_pct": 0.0002, "atr_timeframe": "1 min"}}


def test_each_in_process_simulator_starts_from_fresh_records(tmp_path):
    watchlist = write_watchlist(tmp_path, ["SPY"], FAST)
    runs = [run_bot(tmp_path, "--allocation", "0.25", "--sim", "--sim-data", str(DATA),
                    "--sim-date", "2025-07-03", "--speed", "2400", "--watchlist", str(watchlist),
                    "--status-port", "0", "--no-improve") for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-3000:]
    homes = sim_namespaces(tmp_path)
    assert len(homes) == 2  # two simulators, two namespaces: nothing the first left is seen
    for home, run in zip(homes, runs, strict=True):
        [log] = (home / "logs").glob("day_trader_run_2025-07-03_*.json")
        assert json.loads(log.read_text())["trades"], "each day trades SPY"
        assert f"records in {home.relative_to(tmp_path)}/trading_history.db" in run.stderr
        assert "resuming" not in run.stderr and "stale" not in run.stderr
    assert not (tmp_path / "trading_history.db").exists()
    assert not (tmp_path / "trading_history.sim.db").exists()
    # a report rebuilt from a namespace's DB alone finds that namespace's run logs and reports
    home = homes[0].relative_to(tmp_path)
    rebuilt = subprocess.run([PYTHON, "-m", "ui.day_report", "--date", "2025-07-03", "--db",
                              str(home / "trading_history.db")], cwd=tmp_path, env=bot_env(tmp_path),
                             capture_output=True, text=True, timeout=60)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.strip().endswith(f"{home}/reports/daily/day_report_2025-07-03.html")
