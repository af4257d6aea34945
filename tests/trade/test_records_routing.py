"""One rule routes every run's records by the account it trades (trade/records_routing.py):
a real account's to the configured paths, a simulator's to that simulator's own namespace (or
the user's own sim DB); reports beside their DB. Applying the rule twice changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trade.config import Settings, load_settings
from trade.models import Account
from trade.records_routing import (
    Records,
    new_simulator_id,
    records_for,
    records_of_db,
    reports_beside,
)

REAL = Account("DU1234567", 100_000.0, 100_000.0, 400_000.0)
SIM = Account("DU1234567", 100_000.0, 100_000.0, 400_000.0, simulated=True,
              simulator_id="20261207-170012-9f3a")
HOME = Path("sim_runs/20261207-170012-9f3a")


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the namespace directory is created relative to it


def _settings(**cli: object) -> Settings:
    return load_settings(cli={"allocation": 0.25, **cli}, env={}, dotenv_path=None)


def test_a_real_account_writes_where_it_is_configured() -> None:
    assert records_for(_settings(), REAL) == Records(
        Path("trading_history.db"), Path("logs"), Path("reports"))
    own = records_for(_settings(db_path="books/mine.db"), REAL)
    assert own == Records(Path("books/mine.db"), Path("logs"), Path("books/mine_reports"))


def test_a_simulator_gets_its_own_namespace_whatever_the_entry_point_asked_for() -> None:
    expected = Records(HOME / "trading_history.db", HOME / "logs", HOME / "reports",
                       "20261207-170012-9f3a")
    assert records_for(_settings(), SIM) == expected  # a standalone simulator, no --sim
    assert records_for(_settings(sim=True), SIM) == expected  # the in-process simulator
    assert (HOME).is_dir()  # so its DB can be opened
    again = records_for(expected.apply(_settings()), SIM)  # a hosted day trader routes again
    assert again == expected


def test_another_simulator_never_shares_records() -> None:
    other = Account("DU1234567", 1.0, 1.0, 1.0, simulated=True, simulator_id="20261207-170013-0001")
    assert records_for(_settings(), other).db_path != records_for(_settings(), SIM).db_path


def test_a_db_of_the_users_choosing_is_kept_across_simulators_with_logs_apart() -> None:
    chosen = records_for(_settings(sim=True, db_path="rehearsal.db"), SIM)
    assert chosen == Records(Path("rehearsal.db"), Path("logs/sim"), Path("rehearsal_reports"))
    assert records_for(chosen.apply(_settings(db_path="rehearsal.db")), SIM) == chosen
    via_env = load_settings(cli={"allocation": 0.25}, env={"SIM_DB_PATH": "s.db"},
                            dotenv_path=None)
    assert records_for(via_env, SIM).db_path == Path("s.db")  # SIM_DB_PATH is a choice too


def test_a_simulator_without_an_id_or_with_an_unsafe_one_uses_the_shared_sim_db() -> None:
    for sim_id in (None, "../../etc", "a/b", ""):
        account = Account("DU1", 1.0, 1.0, 1.0, simulated=True, simulator_id=sim_id)
        assert records_for(_settings(), account) == Records(
            Path("trading_history.sim.db"), Path("logs/sim"), Path("trading_history.sim_reports"))
    assert not any(Path(".").rglob("etc"))


def test_reports_live_beside_their_db_unless_reports_dir_was_set() -> None:
    assert reports_beside(Path("trading_history.db"), Path("reports")) == Path("reports")
    assert reports_beside(Path("a.db"), Path("reports")) == Path("a_reports")
    assert reports_beside(Path("/x/b.db"), Path("reports")) == Path("/x/b_reports")
    assert reports_beside(Path("a.db"), Path("/srv/out")) == Path("/srv/out")


def test_a_fresh_simulator_id_is_one_safe_directory_name_and_differs_each_time() -> None:
    ids = {new_simulator_id() for _ in range(20)}
    assert len(ids) == 20 and all(os.sep not in i and len(i) == 20 for i in ids)


def test_the_start_line_says_where_the_records_go() -> None:
    line = records_for(_settings(), SIM).describe()
    assert line.startswith(f"records in {HOME / 'trading_history.db'}, run logs in {HOME / 'logs'}"
                           f", reports in {HOME / 'reports'} (simulator 20261207-170012-9f3a")


def test_a_tool_given_only_a_db_finds_its_logs_and_reports() -> None:
    db = HOME / "trading_history.db"
    assert records_of_db(db) == Records(db, HOME / "logs", HOME / "reports",
                                        "20261207-170012-9f3a")
    assert records_of_db(Path("trading_history.db")) == Records(
        Path("trading_history.db"), Path("logs"), Path("reports"))
    assert records_of_db(Path("x/a.db")).reports_dir == Path("x/a_reports")
