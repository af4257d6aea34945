"""Parity: `main.py` against the simulator replaying the daily data decides what the weekly
backtest decides, on sample weeks.

The backtest runs Feb-May 2019 on a ten-name universe with the default filter and hysteresis.
For three of its Mondays (from cash with seats left empty by the filter; a held book with an
empty seat filled; a held name displaced by a challenger clearing the margin) `main.py --once`
runs against the Gateway simulator at 10:00 holding the backtest's book of that morning (the
weekly book seeded in the history DB as an earlier cycle's executions, the broker holding the
same shares). Its report must show the backtest's analysis (every candidate's score, filter
verdict and edge) and its membership, and the backtest's decision code, given the report's own
book, budget and reference prices (the simulator's 10:00 minute, where the backtest fills at the
open), must plan exactly the report's targets.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from observability.history import HistoryDB
from sim.backtest.weekly.engine import RunConfig, WeeklyRun, run
from sim.market.sessions import NY
from tests.e2e.weekly_harness import report, run_weekly, start_gateway, write_universe
from tests.paths import DATA
from trade.portfolio.decision import decide, select
from trade.portfolio.universe import parse_rules

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SYMBOLS = ["KO", "PEP", "MSFT", "V", "NEE", "COST", "XOM", "CVX", "HD", "TXN"]
RULE_VALUES = {"top_k": 4, "max_weight": 0.24, "hold_buffer": 2, "entry_margin": 0.3,
               "order_timeout_minutes": 5}
WEEKS = [date(2019, 2, 4), date(2019, 2, 11), date(2019, 4, 29)]


@pytest.fixture(scope="module")
def backtest() -> WeeklyRun:
    rules = parse_rules(RULE_VALUES)
    return run(RunConfig(DATA, date(2019, 2, 1), date(2019, 5, 3), workers=1), SYMBOLS, rules)


def _book_before(result: WeeklyRun, day: date) -> dict[str, tuple[int, float]]:
    """The backtest's positions on the morning of `day`, with their average cost."""
    qty: dict[str, int] = {}
    cost: dict[str, float] = {}
    for fill in result.account.executions:
        if fill.day >= day:
            break
        signed = fill.qty if fill.side.value == "BUY" else -fill.qty
        if signed > 0:
            cost[fill.symbol] = (cost.get(fill.symbol, 0.0) * qty.get(fill.symbol, 0)
                                 + signed * fill.price) / (qty.get(fill.symbol, 0) + signed)
        qty[fill.symbol] = qty.get(fill.symbol, 0) + signed
    return {s: (q, round(cost[s], 4)) for s, q in qty.items() if q > 0}


def _seed_weekly_book(path: Path, book: dict[str, tuple[int, float]], day: date) -> None:
    """The weekly book as an earlier cycle left it: its executions in the history DB."""
    db = HistoryDB.open(path)
    try:
        for symbol, (qty, price) in book.items():
            db.record_book_execution(f"seed-{symbol}", f"WK-{day:%Y%m%d}-{symbol}-1", symbol,
                                     "BUY", qty, price, datetime.combine(
                                         day, datetime.min.time(), tzinfo=NY).replace(hour=10),
                                     0.0, "weekly")
    finally:
        db.close()


def _main_py(tmp_path: Path, day: date, book: dict[str, tuple[int, float]]) -> dict[str, Any]:
    universe = write_universe(tmp_path, SYMBOLS, RULE_VALUES)
    if book:
        _seed_weekly_book(tmp_path / "weekly.db", book, date(2019, 1, 28))
    gateway = start_gateway(day.isoformat(), SYMBOLS, at="10:00", hold=book)
    try:
        result = run_weekly(tmp_path, "--allocation", "0.8", "--once", "--port",
                            str(gateway.port), "--universe", str(universe),
                            "--db", str(tmp_path / "weekly.db"), "--dry-run")
    finally:
        gateway.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    return report(tmp_path, day.isoformat())


@pytest.mark.parametrize("day", WEEKS, ids=[d.isoformat() for d in WEEKS])
def test_main_py_decides_what_the_backtest_decides(backtest, tmp_path, day):
    book = _book_before(backtest, day)
    rep = _main_py(tmp_path, day, book)
    [analysed] = [a for a in backtest.analyses if a.day == day]
    [cycle] = [c for c in backtest.cycles if c.day == day]
    assert analysed.analysis is not None
    # the same analysis: the same year of bars, the same seeded Monte Carlo, the same filter
    ours = {a.symbol: a.as_dict() for a in analysed.analysis.assessments}
    theirs = {c["symbol"]: c for c in rep["candidates"]}
    assert set(ours) == set(theirs) == set(SYMBOLS)
    for symbol, mine in ours.items():
        for key in ("passed", "holdable", "quant_score", "score", "edge", "monte_carlo"):
            assert mine[key] == theirs[symbol][key], (symbol, key)
    # the same membership from the same book
    held = {s: p["qty"] for s, p in rep["book"]["before"]["positions"].items()}
    assert held == {s: q for s, (q, _) in book.items()}
    assert rep["membership"]["members"] == cycle.members
    assert (rep["membership"]["added"], rep["membership"]["dropped"]) == (cycle.added,
                                                                          cycle.dropped)
    # the same targets from the report's budget and reference prices
    selection = select(analysed.analysis, held, backtest.rules)
    prices = {t["symbol"]: t["ref_price"] for t in rep["targets"]}
    decision = decide(selection, analysed.analysis, held, prices, rep["budget"], backtest.rules)
    assert [t.as_dict() for t in decision.targets] == rep["targets"]
    assert decision.expected.as_dict() == rep["expected_cost"]


def test_the_sample_weeks_cover_the_decisions_that_matter(backtest):
    """Not a tautology of the weeks chosen: the three must exercise the filter leaving seats
    empty, an empty seat filled while others are held, and the margin displacing a member."""
    cycles = {c.day: c for c in backtest.cycles}
    first, second, third = (cycles[d] for d in WEEKS)
    assert first.held_before == 0 and len(first.members) < RULE_VALUES["top_k"]
    assert second.held_before > 0 and second.added and not second.dropped
    assert third.added and third.dropped
