"""Forward-only schema migrations, versioned with `PRAGMA user_version`.

Each entry in `MIGRATIONS` takes the DB from version i to i+1 and is never edited once shipped
(old files in the field were written by it); a change is a new entry. A migration runs inside one
`BEGIN IMMEDIATE` transaction together with its `user_version` bump, so a crash mid-migration
leaves the file at the old version with its rows intact.

v1: the autonomy tables (trades, daily_metrics, agent_health, parameter_changes, evaluations).
v2: what restart/reconnect recovery and the weekly book need (order_intents, executions,
    book_positions) plus indexes on the trade columns recovery filters by.
v3 (minute bars): the day's completed 1-minute bars per symbol, so the daily report draws the prices
    the bot traded on without the market data source (unique on symbol and bar start).
v4 (improvement): the nightly improvement cycle's state (improvement/): every tuning candidate ever
    replayed (the deflated Sharpe ratio counts them all), the parameters each session trades with
    (and its A/B variant), the A/B tests, and one row per completed cycle (a second run of the
    same night changes nothing).
v5 (weekly): the weekly rebalancer's cycles and their target portfolios (weekly_cycles,
    weekly_targets), so a restart mid-rebalance completes the same targets instead of
    re-analysing.
v6 (runs): every row a run writes carries its run id (trades, executions, order_intents,
    agent_health; daily_metrics is keyed by day, bot AND run id, run id '' being the whole day
    across runs), and `trades.pnl` is NET of commissions from here on (the run log's definition;
    existing rows are converted), gross being pnl + commission.
"""

from __future__ import annotations

import sqlite3

V1 = """
CREATE TABLE trades (
    id            INTEGER PRIMARY KEY,
    trading_date  TEXT    NOT NULL,
    book          TEXT    NOT NULL,
    symbol        TEXT    NOT NULL,
    side          TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    qty           INTEGER NOT NULL CHECK (qty > 0),
    entry_time    TEXT    NOT NULL,
    entry_price   REAL    NOT NULL,
    exit_time     TEXT    NOT NULL,
    exit_price    REAL    NOT NULL,
    pnl           REAL    NOT NULL,
    commission    REAL    NOT NULL DEFAULT 0,
    variant       TEXT    NOT NULL DEFAULT '',
    rsi           REAL,
    vwap          REAL,
    atr           REAL,
    reason        TEXT    NOT NULL DEFAULT '',
    exit_reason   TEXT    NOT NULL DEFAULT '',
    order_ref     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX trades_by_day ON trades (trading_date, exit_time);

CREATE TABLE daily_metrics (
    id            INTEGER PRIMARY KEY,
    trading_date  TEXT    NOT NULL,
    bot           TEXT    NOT NULL,
    trades        INTEGER NOT NULL,
    wins          INTEGER NOT NULL,
    win_rate      REAL    NOT NULL,
    total_pnl     REAL    NOT NULL,
    commissions   REAL    NOT NULL DEFAULT 0,
    max_drawdown  REAL    NOT NULL,
    sharpe        REAL,
    profit_factor REAL,
    variant       TEXT    NOT NULL DEFAULT '',
    extra         TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (trading_date, bot)
);

CREATE TABLE agent_health (
    id                 INTEGER PRIMARY KEY,
    time               TEXT    NOT NULL,
    agent              TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('normal', 'warning', 'critical')),
    cpu_pct            REAL    NOT NULL,
    memory_mb          REAL    NOT NULL,
    connected          INTEGER NOT NULL,
    connection_status  TEXT    NOT NULL DEFAULT '',
    event_loop_lag_ms  REAL    NOT NULL,
    data_staleness_s   REAL    NOT NULL,
    actions            TEXT    NOT NULL DEFAULT '[]',
    detail             TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX agent_health_by_time ON agent_health (time, agent);

CREATE TABLE parameter_changes (
    id         INTEGER PRIMARY KEY,
    time       TEXT NOT NULL,
    parameter  TEXT NOT NULL,
    old_value  TEXT NOT NULL,
    new_value  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    source     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('applied', 'rejected')),
    variant    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX parameter_changes_by_time ON parameter_changes (time);

CREATE TABLE evaluations (
    id       INTEGER PRIMARY KEY,
    time     TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('llm', 'rule')),
    content  TEXT NOT NULL,
    status   TEXT NOT NULL
);
CREATE INDEX evaluations_by_time ON evaluations (time, kind);
"""

V2 = """
CREATE TABLE order_intents (
    order_ref     TEXT    PRIMARY KEY,
    bot           TEXT    NOT NULL,
    trading_date  TEXT    NOT NULL,
    symbol        TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    side          TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    qty           INTEGER NOT NULL CHECK (qty > 0),
    entry_price   REAL    NOT NULL,
    target_price  REAL,
    stop_price    REAL,
    variant       TEXT    NOT NULL DEFAULT '',
    book          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    created_time  TEXT    NOT NULL,
    updated_time  TEXT    NOT NULL
);
CREATE INDEX order_intents_by_book_day ON order_intents (book, trading_date, state);
CREATE INDEX order_intents_by_sequence ON order_intents (bot, trading_date, symbol, seq);

CREATE TABLE executions (
    exec_id     TEXT    PRIMARY KEY,
    order_ref   TEXT    NOT NULL,
    symbol      TEXT    NOT NULL,
    side        TEXT    NOT NULL,
    qty         REAL    NOT NULL,
    price       REAL    NOT NULL,
    time        TEXT    NOT NULL,
    commission  REAL    NOT NULL DEFAULT 0,
    book        TEXT    NOT NULL,
    account     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX executions_by_time ON executions (time);
CREATE INDEX executions_by_order_ref ON executions (order_ref);

CREATE TABLE book_positions (
    book          TEXT    NOT NULL,
    symbol        TEXT    NOT NULL,
    qty           INTEGER NOT NULL,
    avg_cost      REAL    NOT NULL,
    updated_time  TEXT    NOT NULL,
    PRIMARY KEY (book, symbol)
);

CREATE INDEX trades_by_symbol ON trades (symbol, trading_date);
CREATE INDEX trades_by_order_ref ON trades (order_ref);
"""

MINUTE_BARS = """
CREATE TABLE minute_bars (
    trading_date  TEXT    NOT NULL,
    symbol        TEXT    NOT NULL,
    start         TEXT    NOT NULL,
    open          REAL    NOT NULL,
    high          REAL    NOT NULL,
    low           REAL    NOT NULL,
    close         REAL    NOT NULL,
    volume        REAL    NOT NULL,
    PRIMARY KEY (symbol, start)
);
CREATE INDEX minute_bars_by_day ON minute_bars (trading_date, symbol, start);
"""

IMPROVEMENT = """
CREATE TABLE tuning_trials (
    id               INTEGER PRIMARY KEY,
    cycle_date       TEXT    NOT NULL,
    candidate        TEXT    NOT NULL,
    parameter        TEXT    NOT NULL,
    source           TEXT    NOT NULL,
    sessions         INTEGER NOT NULL,
    sharpe           REAL,
    oos_pnl          REAL,
    current_oos_pnl  REAL,
    dsr              REAL,
    verdict          TEXT    NOT NULL,
    detail           TEXT    NOT NULL DEFAULT '{}',
    time             TEXT    NOT NULL,
    UNIQUE (cycle_date, candidate)
);

CREATE TABLE params_schedule (
    trading_date  TEXT    PRIMARY KEY,
    variant       TEXT    NOT NULL DEFAULT '',
    overrides     TEXT    NOT NULL DEFAULT '{}',
    current       TEXT    NOT NULL DEFAULT '{}',
    regime        TEXT    NOT NULL DEFAULT '',
    ab_test_id    INTEGER,
    cycle_date    TEXT    NOT NULL,
    time          TEXT    NOT NULL
);

CREATE TABLE ab_tests (
    id         INTEGER PRIMARY KEY,
    started    TEXT    NOT NULL,
    parameter  TEXT    NOT NULL,
    a_values   TEXT    NOT NULL,
    b_values   TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('running', 'promoted', 'retired', 'stopped')),
    looks      INTEGER NOT NULL DEFAULT 0,
    ended      TEXT,
    reason     TEXT    NOT NULL DEFAULT '',
    time       TEXT    NOT NULL
);
CREATE INDEX ab_tests_by_status ON ab_tests (status, started);

CREATE TABLE improvement_cycles (
    cycle_date  TEXT PRIMARY KEY,
    time        TEXT NOT NULL,
    report      TEXT NOT NULL
)
"""

V_WEEKLY = """
CREATE TABLE weekly_cycles (
    cycle_date    TEXT    PRIMARY KEY,
    status        TEXT    NOT NULL CHECK (status IN ('trading', 'done', 'failed')),
    allocation    REAL    NOT NULL,
    budget        REAL    NOT NULL,
    llm           TEXT    NOT NULL DEFAULT '',
    llm_status    TEXT    NOT NULL DEFAULT '',
    analysis      TEXT    NOT NULL DEFAULT '{}',
    book_before   TEXT    NOT NULL DEFAULT '{}',
    report_path   TEXT    NOT NULL DEFAULT '',
    started_time  TEXT    NOT NULL,
    updated_time  TEXT    NOT NULL
);

CREATE TABLE weekly_targets (
    cycle_date  TEXT    NOT NULL,
    symbol      TEXT    NOT NULL,
    weight      REAL    NOT NULL CHECK (weight >= 0),
    qty         INTEGER NOT NULL CHECK (qty >= 0),
    ref_price   REAL    NOT NULL,
    planned     TEXT    NOT NULL DEFAULT '' CHECK (planned IN ('', 'BUY', 'SELL')),
    reason      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (cycle_date, symbol),
    FOREIGN KEY (cycle_date) REFERENCES weekly_cycles (cycle_date) ON DELETE CASCADE
);
"""

RUNS = """
ALTER TABLE trades ADD COLUMN run_id TEXT NOT NULL DEFAULT '';
UPDATE trades SET pnl = pnl - commission;
ALTER TABLE executions ADD COLUMN run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE order_intents ADD COLUMN run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_health ADD COLUMN run_id TEXT NOT NULL DEFAULT '';
CREATE TABLE daily_metrics_by_run (
    id            INTEGER PRIMARY KEY,
    trading_date  TEXT    NOT NULL,
    bot           TEXT    NOT NULL,
    run_id        TEXT    NOT NULL DEFAULT '',
    trades        INTEGER NOT NULL,
    wins          INTEGER NOT NULL,
    win_rate      REAL    NOT NULL,
    total_pnl     REAL    NOT NULL,
    commissions   REAL    NOT NULL DEFAULT 0,
    max_drawdown  REAL    NOT NULL,
    sharpe        REAL,
    profit_factor REAL,
    variant       TEXT    NOT NULL DEFAULT '',
    extra         TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (trading_date, bot, run_id)
);
INSERT INTO daily_metrics_by_run (trading_date, bot, run_id, trades, wins, win_rate, total_pnl,
    commissions, max_drawdown, sharpe, profit_factor, variant, extra)
    SELECT trading_date, bot, '', trades, wins, win_rate, total_pnl, commissions, max_drawdown,
           sharpe, profit_factor, variant, extra FROM daily_metrics;
DROP TABLE daily_metrics;
ALTER TABLE daily_metrics_by_run RENAME TO daily_metrics;
CREATE INDEX trades_by_run ON trades (run_id);
CREATE INDEX executions_by_run ON executions (run_id);
"""

COMMISSION_PENDING = """
ALTER TABLE executions ADD COLUMN commission_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX executions_commission_pending ON executions (commission_pending)
    WHERE commission_pending = 1;
"""

# the shares a bot found in the account beyond its own lot, per trading day: a restart the same
# day never charges a sale made while it was down to the owner (trade/intraday/ownership.py)
FOREIGN_BASELINES = """
CREATE TABLE foreign_baselines (
    book         TEXT    NOT NULL,
    trading_date TEXT    NOT NULL,
    symbol       TEXT    NOT NULL,
    qty          INTEGER NOT NULL,
    noted_time   TEXT    NOT NULL,
    PRIMARY KEY (book, trading_date, symbol)
);
"""

MIGRATIONS: tuple[str, ...] = (V1, V2, MINUTE_BARS, IMPROVEMENT, V_WEEKLY, RUNS,
                               COMMISSION_PENDING, FOREIGN_BASELINES)
CURRENT_VERSION = len(MIGRATIONS)


class NewerSchemaError(Exception):
    def __init__(self, found: int) -> None:
        super().__init__(found)
        self.found = found


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = CURRENT_VERSION) -> int:
    """Bring the DB (autocommit connection) up to `target`; returns the version it ended at.

    The version is re-read under the write lock, so two processes opening one old file at the
    same moment migrate it once.
    """
    found = user_version(conn)
    if found > CURRENT_VERSION:
        raise NewerSchemaError(found)
    if found >= target:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = user_version(conn)
        if version > CURRENT_VERSION:
            raise NewerSchemaError(version)
        for step in range(version, target):
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(version, target)


def _statements(script: str) -> list[str]:
    """Split a DDL script on ';' (no DDL here contains a literal ';')."""
    return [part.strip() for part in script.split(";") if part.strip()]
