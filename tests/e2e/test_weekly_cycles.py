"""`main.py` end to end against the simulator replaying the shared daily data.

Monday 2019-02-11: a cycle from an empty book (`--sim --sim-date`, the in-process simulator)
buys the target portfolio. Five weeks later, Monday 2019-03-18, prices have moved (COST, MSFT
and V up ~6% against the book, KO down ~11%, NEE and PEP within 2%): a second cycle against a
simulator holding the first cycle's shares trades only the names outside the band; `--dry-run`
sends nothing; a bot killed in the middle of that rebalance and restarted completes it without a
duplicate order and without skipping one.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from observability.history import HistoryDB
from observability.schema import IntentState
from tests.e2e.harness import GatewayProcess, broker_executions, wait_until
from tests.e2e.weekly_harness import (
    report,
    run_weekly,
    start_gateway,
    start_weekly,
    write_universe,
)
from trade.portfolio.book import WeeklyRef

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NY = ZoneInfo("America/New_York")
EPOCH = datetime(2000, 1, 1, tzinfo=NY)
FIRST, SECOND = "2019-02-11", "2019-03-18"
SYMBOLS = ["KO", "PEP", "MSFT", "V", "NEE", "COST"]
# every name eligible: the filter is not under test here (tests/trade/portfolio/test_edge.py)
RULES = {"top_k": 6, "max_weight": 0.2, "cash_buffer": 0.05, "band_abs": 0.05, "band_rel": 0.04,
         "min_order_value": 100, "order_timeout_minutes": 5, "min_edge_z": -5, "hold_edge_z": -5}
ALLOCATION = "0.8"


class FirstCycle:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.universe = write_universe(folder, SYMBOLS, RULES)
        self.result = run_weekly(folder, "--allocation", ALLOCATION, "--sim", "--sim-date", FIRST,
                                 "--once", "--speed", "600", "--universe", str(self.universe),
                                 "--db", str(folder / "weekly.db"))
        db = HistoryDB.open(folder / "weekly.db")
        try:
            self.book = {p.symbol: (p.qty, p.avg_cost) for p in db.book_positions("weekly")}
        finally:
            db.close()

    def workdir(self, tmp_path: Path) -> Path:
        """A copy of the first cycle's DB and universe: each later test starts from it."""
        shutil.copy(self.folder / "weekly.db", tmp_path / "weekly.db")
        shutil.copy(self.universe, tmp_path / "universe.json")
        return tmp_path

    def gateway(self, **kwargs) -> GatewayProcess:
        return start_gateway(SECOND, SYMBOLS, hold=self.book, **kwargs)


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> FirstCycle:
    return FirstCycle(tmp_path_factory.mktemp("first-cycle"))


def _args(workdir: Path, gateway: GatewayProcess, *extra: str) -> list[str]:
    return ["--allocation", ALLOCATION, "--once", "--port", str(gateway.port), "--universe",
            str(workdir / "universe.json"), "--db", str(workdir / "weekly.db"), *extra]


def _weekly_refs(gateway: GatewayProcess) -> list[str]:
    return [r for r in gateway.state()["order_refs"] if WeeklyRef.parse(r)]


def _ref(text: str) -> WeeklyRef:
    """One of `_weekly_refs`, parsed (each of them parses)."""
    ref = WeeklyRef.parse(text)
    assert ref is not None, text
    return ref


def test_a_cycle_from_an_empty_book_buys_the_target_portfolio(first):
    assert first.result.returncode == 0, first.result.stderr[-3000:]
    assert f"weekly: {FIRST}: done; 6 orders, 6 fills" in first.result.stdout
    rep = report(first.folder, FIRST)
    targets = {t["symbol"]: t["qty"] for t in rep["targets"]}
    assert set(targets) == set(SYMBOLS) and all(t["planned"] == "BUY" for t in rep["targets"])
    assert {s: q for s, (q, _) in first.book.items()} == targets
    assert rep["dry_run"] is False and rep["book"]["before"]["positions"] == {}
    assert {o["state"] for o in rep["orders"]} == {"closed"}
    assert rep["stats"]["fill_rate"] == 1.0
    for key in ("date", "llm", "candidates", "targets", "orders", "fills", "book"):
        assert key in rep
    assert rep["llm"]["model"] == "none" and "quantitative score alone" in rep["llm"]["note"]
    assert all(c["monte_carlo"] and "prob_up" in c["monte_carlo"] for c in rep["candidates"])


def _outside_band(rep: dict) -> set[str]:
    """Recomputed from the report's own prices: which names were off target beyond the band."""
    budget, before = rep["budget"], rep["book"]["before"]["positions"]
    outside = set()
    for t in rep["targets"]:
        current = before.get(t["symbol"], {}).get("qty", 0) * t["ref_price"] / budget
        drift = abs(current - t["weight"])
        if drift > RULES["band_abs"] or drift > RULES["band_rel"] * t["weight"]:
            outside.add(t["symbol"])
    return outside


def test_a_second_cycle_after_prices_move_trades_only_names_outside_the_band(first, tmp_path):
    workdir = first.workdir(tmp_path)
    gateway = first.gateway()
    try:
        result = run_weekly(workdir, *_args(workdir, gateway))
        assert result.returncode == 0, result.stderr[-3000:]
        traded = {_ref(r).symbol for r in _weekly_refs(gateway)}
        positions = gateway.state()["positions"]
    finally:
        gateway.stop()
    rep = report(workdir, SECOND)
    outside = _outside_band(rep)
    assert traded == outside == {t["symbol"] for t in rep["targets"] if t["planned"]}
    assert traded and set(SYMBOLS) - traded  # both kinds present: the test means something
    sides = {t["symbol"]: t["planned"] for t in rep["targets"] if t["planned"]}
    assert "SELL" in sides.values() and "BUY" in sides.values()
    for t in rep["targets"]:
        held_before = first.book[t["symbol"]][0]
        expected = t["qty"] if t["planned"] else held_before
        assert positions[t["symbol"]] == expected, t


def test_a_dry_run_sends_nothing(first, tmp_path):
    workdir = first.workdir(tmp_path)
    gateway = first.gateway()
    try:
        result = run_weekly(workdir, *_args(workdir, gateway, "--dry-run"))
        assert result.returncode == 0, result.stderr[-3000:]
        state = gateway.state()
    finally:
        gateway.stop()
    assert state["order_refs"] == []
    assert state["positions"] == {s: float(q) for s, (q, _) in first.book.items()}
    rep = report(workdir, SECOND)
    assert rep["dry_run"] is True and rep["orders"]
    assert all(o["order_ref"] is None and o["state"] == "not sent (dry run)" for o in rep["orders"])
    db = HistoryDB.open(workdir / "weekly.db")
    try:
        assert db.weekly_cycle(datetime.fromisoformat(SECOND).date()) is None
        assert db.intents_on(datetime.fromisoformat(SECOND).date()) == []
    finally:
        db.close()


def test_sigkill_mid_rebalance_then_restart_completes_it_without_duplicates(first, tmp_path):
    """The clock is paused and the first order fills only half, so the bot is killed while its
    sells are working and before any buy was sent; the restart must wait for that sell (not
    re-send it), then send the buys (not skip them)."""
    workdir = first.workdir(tmp_path)
    gateway = first.gateway(paused=True)
    try:
        assert gateway.admin("partial-next 0.5").startswith("OK")
        bot = start_weekly(workdir, *_args(workdir, gateway))

        def sells_working() -> bool:
            return any(o["action"] == "SELL" and o["ref"].startswith("WK-")
                       for o in gateway.state()["open_orders"])

        assert wait_until(sells_working, 60), "the bot never sent its sells"
        time.sleep(0.5)
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        before_restart = _weekly_refs(gateway)
        assert before_restart and all(
            WeeklyRef.parse(r) and r.split("-")[2] in {"COST", "MSFT", "V"} for r in before_restart)
        restarted = start_weekly(workdir, *_args(workdir, gateway))
        assert wait_until(lambda: "clients=1" in gateway.admin("status"), 30)
        time.sleep(1.0)
        assert gateway.admin("speed 600").startswith("OK")
        out, err = restarted.communicate(timeout=120)
        assert restarted.returncode == 0, err[-3000:]
        refs = _weekly_refs(gateway)
        state = gateway.state()
        fills = broker_executions(gateway.port)
    finally:
        gateway.stop()
    duplicates = [r for r, n in Counter(refs).items() if n > 1]
    assert not duplicates
    assert all(_ref(r).seq == 1 for r in refs), refs  # nothing sent a second time
    rep = report(workdir, SECOND)
    planned = {t["symbol"]: t for t in rep["targets"] if t["planned"]}
    assert {_ref(r).symbol for r in refs} == set(planned)
    for symbol, target in planned.items():
        assert state["positions"][symbol] == target["qty"]
    ours = {f.execution.execId for f in fills if WeeklyRef.parse(f.execution.orderRef)}
    db = HistoryDB.open(workdir / "weekly.db")
    try:
        recorded = [e.exec_id for e in db.executions_since(EPOCH, "weekly")
                    if e.order_ref.startswith("WK-20190318")]
        states = {i.order_ref: i.state for i in db.intents_on(datetime.fromisoformat(SECOND).date())}
        book = {p.symbol: p.qty for p in db.book_positions("weekly")}
    finally:
        db.close()
    assert sorted(recorded) == sorted(ours) and len(recorded) == len(set(recorded))
    assert set(states.values()) == {IntentState.CLOSED}
    assert book == {s: int(q) for s, q in state["positions"].items()}
    assert any("still working: waited for, not re-sent" in n for n in rep["notes"])
