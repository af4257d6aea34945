"""Where a run's records go (the history DB, the run logs, the reports), by the account it trades.

One rule for every entry point (`day_trader.py`, `main.py`, the day trader `main.py` hosts), read
once the account is known, because a bot that writes a simulator's trades into the real history
would later believe it owns shares it never bought, and sell the owner's own:

- **a real account** (anything the Gateway does not tag as its simulator): the configured paths,
  `--db`/`DB_PATH`, `LOGS_DIR`, and the reports beside their DB (below).
- **a simulated account**: the simulator's own namespace, `sim_runs/<simulator id>/`, holding
  `trading_history.db`, `logs/` and `reports/`. The simulator announces its id with the account
  values (`SimulatedGateway`, sim/tws/account_values.py): a fresh id per simulator process, the
  same id for a simulator restarted with its `--state FILE`. A simulator starts flat, and so do
  its records: no stale positions from another rehearsal, no A/B test a November replay started
  deciding what a December rehearsal trades. Two bots, or two runs, against one simulator share
  its namespace, as they share its account.
- **a simulated account with a DB of the user's choosing** (`--db PATH`, `SIM_DB_PATH`: any name
  but the defaults): that DB, carried across simulators on purpose; run logs in `<logs>/sim/`.

Reports live beside their DB, so two DBs never overwrite each other's reports: the default DB's
in `REPORTS_DIR` (`reports/`), another DB's in `<its name>_reports/` beside it, unless
`REPORTS_DIR` was set (then it is the user's choice).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from trade.config import DEFAULT_DB_PATH, DEFAULT_SIM_DB_PATH, Settings
from trade.models import Account

SIM_RUNS = Path("sim_runs")  # beside the real DB: relative to the working directory
SIM_DB_NAME = "trading_history.db"
DEFAULT_REPORTS_DIR = Path("reports")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def new_simulator_id(started: datetime | None = None) -> str:
    """A fresh simulator's id: its start on the machine's clock (so namespaces sort by age) and
    4 random hex digits, e.g. `20261207-170012-9f3a`. The wall clock is right here: this names
    a process, it is not market time."""
    when = started or datetime.now().astimezone()
    return f"{when:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def valid_simulator_id(text: str) -> bool:
    """A name safe as one directory (a Gateway's text never reaches the file system otherwise)."""
    return bool(_ID.fullmatch(text))


@dataclass(frozen=True, slots=True)
class Records:
    """Where one run writes: its history DB, its run logs and its reports."""

    db_path: Path
    logs_dir: Path
    reports_dir: Path
    simulator_id: str | None = None  # the namespace's simulator, None for real records

    def describe(self) -> str:
        """The start line's account of where the records go."""
        where = (f"records in {self.db_path}, run logs in {self.logs_dir}, reports in "
                 f"{self.reports_dir}")
        if self.simulator_id is not None:
            where += f" (simulator {self.simulator_id}: its own records, apart from real ones " \
                     "and from other rehearsals)"
        return where

    def apply(self, settings: Settings) -> Settings:
        """`settings` writing here (what the rest of the run reads its paths from)."""
        return dataclasses.replace(settings, db_path=self.db_path, logs_dir=self.logs_dir,
                                   reports_dir=self.reports_dir)


def records_for(settings: Settings, account: Account) -> Records:
    """The one rule (module doc): the configured paths for a real account, the simulator's
    namespace (or the user's own sim DB) for a simulated one. Applying it twice changes nothing,
    so a hosted day trader may route what its host already routed."""
    if not account.simulated:
        return Records(settings.db_path, settings.logs_dir,
                       reports_beside(settings.db_path, settings.reports_dir))
    return simulator_records(settings, account.simulator_id)


def simulator_records(settings: Settings, simulator_id: str | None) -> Records:
    """A simulated account's records (see `records_for`); `simulator_id` None or unusable is a
    simulator that names no id (an older one): the shared sim DB and `<logs>/sim/`. Creates the
    namespace's directory, so its DB can be opened."""
    # the real default never holds a simulator's records: the sim DB (SIM_DB_PATH) stands in
    db = settings.sim_db_path if settings.db_path == DEFAULT_DB_PATH else settings.db_path
    sim_id = simulator_id if simulator_id and valid_simulator_id(simulator_id) else None
    if sim_id is not None:
        home = namespace(sim_id)
        if db in (DEFAULT_SIM_DB_PATH, home / SIM_DB_NAME):  # no DB of the user's choosing
            home.mkdir(parents=True, exist_ok=True)  # the DB's directory (logs, reports: theirs)
            return Records(home / SIM_DB_NAME, home / "logs", home / "reports", sim_id)
    # the user's own sim DB (or a simulator without an id): run logs apart, in <logs>/sim/
    logs = settings.logs_dir if settings.logs_dir.name == "sim" else settings.logs_dir / "sim"
    return Records(db, logs, reports_beside(db, settings.reports_dir))


def namespace(simulator_id: str) -> Path:
    """The directory of one simulator's records."""
    return SIM_RUNS / simulator_id


def reports_beside(db_path: Path, reports_dir: Path) -> Path:
    """The reports of the DB at `db_path`: `reports_dir` for the default DB or when it was set
    (it is not the default `reports/`), else `<DB name>_reports/` beside the DB."""
    if reports_dir != DEFAULT_REPORTS_DIR or db_path == DEFAULT_DB_PATH:
        return reports_dir
    return db_path.parent / f"{db_path.stem}_reports"


def records_of_db(db_path: Path, logs_dir: Path = Path("logs"),
                  reports_dir: Path = DEFAULT_REPORTS_DIR) -> Records:
    """Where the run logs and reports of the DB at `db_path` are, for a tool given only the DB
    (`python -m ui.day_report --db ...`): a simulator's namespace holds all three; any other DB
    has its reports beside it (`reports_beside`) and its run logs in `logs_dir`."""
    if db_path.name == SIM_DB_NAME and db_path.parent.parent.name == SIM_RUNS.name:
        home = db_path.parent
        return Records(db_path, home / "logs", home / "reports", home.name)
    return Records(db_path, logs_dir, reports_beside(db_path, reports_dir))
