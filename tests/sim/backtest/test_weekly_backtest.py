"""`python -m sim.backtest.weekly`: its accounting adds up, it never looks ahead, its benchmarks
are what they say, its bad input is one line, and on the 2019 Mondays the hysteresis cuts the
membership turnover by more than half."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from datetime import date, time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.backtest.weekly import filter_rates
from sim.backtest.weekly.cli import main
from sim.backtest.weekly.data import SymbolBars, load
from sim.backtest.weekly.engine import RunConfig, WeeklyRun, run
from sim.backtest.weekly.fills import SlippageModel, fill
from sim.backtest.weekly.metrics import rank_noise
from sim.backtest.weekly.result import document
from sim.market.sessions import sessions_between
from tests.paths import DATA, REPO
from trade.models import Bar, Side
from trade.portfolio.universe import PortfolioRules, load_universe
from ui.backtest_inputs import Backtest
from ui.backtest_inputs import load as load_tearsheet_input

RULES = PortfolioRules(top_k=3, max_weight=0.3, mc_paths=2000)
SYMBOLS = ["UPA", "UPB", "FLAT", "DOWN", "WILD", "GONE"]
DRIFT = {"UPA": 0.40, "UPB": 0.25, "FLAT": 0.0, "DOWN": -0.3, "WILD": 0.1, "GONE": 0.5,
         "SPY": 0.08}
VOL = {"WILD": 0.9}
GONE_AFTER = date(2018, 6, 29)


def _write_market(root: Path, shift_after: date | None = None) -> Path:
    """Seeded daily files for 2017-2018 in the shared format; GONE's file ends mid-2018. With
    `shift_after`, every price after that day (and the close/high/low of the day itself) is
    changed: the future is different, the past and the day's open are not."""
    folder = root / "daily"
    folder.mkdir(parents=True)
    days = sessions_between(date(2017, 1, 3), date(2018, 12, 31))
    rng = np.random.default_rng(42)
    for symbol in [*SYMBOLS, "SPY"]:
        sigma = VOL.get(symbol, 0.25) / math.sqrt(252)
        logs = math.log1p(DRIFT[symbol]) / 252 - sigma**2 / 2 + sigma * rng.standard_normal(
            len(days))
        closes = 40.0 * np.exp(np.cumsum(logs))
        rows = ["timestamp,open,high,low,close,volume"]
        previous = 40.0
        for day, close in zip(days, closes, strict=True):
            if symbol == "GONE" and day > GONE_AFTER:
                break
            opened = previous
            if shift_after is not None and day >= shift_after:
                close = close * (1.7 if symbol in ("DOWN", "FLAT") else 0.4)
                if day > shift_after:
                    opened = opened * (1.7 if symbol in ("DOWN", "FLAT") else 0.4)
            high, low = max(opened, close) * 1.005, min(opened, close) * 0.995
            stamp = f"{day.isoformat()}T09:30:00{'-04:00' if 3 < day.month < 11 else '-05:00'}"
            rows.append(f"{stamp},{opened:.4f},{high:.4f},{low:.4f},{close:.4f},2000000")
            previous = close
        (folder / f"{symbol}.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_market(tmp_path_factory.mktemp("weekly-market"))


def _config(data: Path, first: date, last: date, **kwargs: Any) -> RunConfig:
    return RunConfig(data, first, last, **kwargs)


def _close(result: WeeklyRun, symbol: str, day: date) -> float:
    bar = result.data[symbol].last_on_or_before(day)
    assert bar is not None
    return bar.close


def _bar(series: SymbolBars, day: date) -> Bar:
    bar = series.on(day)
    assert bar is not None
    return bar


def test_the_accounting_adds_up_and_the_json_is_the_tearsheets(market, tmp_path):
    result = run(_config(market, date(2018, 1, 1), date(2018, 12, 28)), SYMBOLS, RULES)
    doc = document(result, "synthetic")
    metrics = doc["metrics"]
    # equity = starting equity + the rows' P&L = cash + positions at the last close
    assert 100_000.0 + sum(r["pnl"] for r in doc["days"]) == pytest.approx(
        metrics["final_equity"], abs=0.05)
    last = result.marks[-1][0]
    marked = result.account.cash + sum(q * _close(result, s, last)
                                       for s, q in result.account.positions.items())
    assert marked == pytest.approx(metrics["final_equity"], abs=0.01)
    # every execution's commission is counted once; shares bought = sold + still held
    assert sum(f["commission"] for f in doc["fills"]) == pytest.approx(metrics["commissions"],
                                                                      abs=0.05)
    for symbol in SYMBOLS:
        bought = sum(f["qty"] for f in doc["fills"] if f["symbol"] == symbol
                     and f["side"] == "BUY")
        sold = sum(f["qty"] for f in doc["fills"] if f["symbol"] == symbol
                   and f["side"] == "SELL")
        assert bought - sold == result.account.positions.get(symbol, 0)
        assert sold == sum(t["qty"] for t in doc["trades"] if t["symbol"] == symbol)
    # the data ending is a sale at the last close
    gone = [t for t in doc["trades"] if t["exit_reason"] == "data ended"]
    assert gone and all(t["symbol"] == "GONE" for t in gone)
    assert "GONE" not in result.account.positions
    # the shape the tearsheet reads, plus the weekly keys
    path = tmp_path / "weekly.json"
    path.write_text(json.dumps(doc))
    loaded = load_tearsheet_input(path)
    assert isinstance(loaded, Backtest) and loaded.engine == "weekly"
    assert len(loaded.days) == len(doc["days"]) == len(result.cycles) + 1  # + the last session
    for line in doc["benchmarks"].values():
        assert len(line["equity"]) == len(doc["days"])
    assert any(n.startswith("LLM off") for n in doc["notes"])
    assert any("Survivorship bias" in n for n in doc["notes"])
    assert doc["params"]["llm"] == "off" and doc["params"]["hold_buffer"] == RULES.hold_buffer


def test_the_future_cannot_change_a_decision(market, tmp_path):
    """A cycle sees the year of bars before its day and trades at its open: rewriting every
    price after the open changes nothing the cycle did."""
    day = date(2018, 3, 5)
    other = _write_market(tmp_path / "other", shift_after=day)
    first = run(_config(market, day, day), SYMBOLS, RULES)
    second = run(_config(other, day, day), SYMBOLS, RULES)
    assert first.cycles[0].members and first.cycles[0].members == second.cycles[0].members
    assert first.account.executions == second.account.executions
    assert first.marks != second.marks  # the close did change


def test_the_benchmarks(market):
    result = run(_config(market, date(2018, 1, 1), date(2018, 3, 30)), SYMBOLS, RULES)
    doc = document(result, "synthetic")
    spy = load(market, ["SPY"])["SPY"]
    first = result.rebalance_days[0]
    # SPY: whole shares at the first cycle's open with slippage and commission, then held
    bar = _bar(spy, first)
    slip = SlippageModel().fraction(int(100_000 // bar.open), spy.before(first, 20))
    shares = int(100_000 // (bar.open * (1 + slip)))
    done = fill(Side.BUY, shares, bar.open, slip)
    while shares * done.price + done.commission > 100_000:
        shares -= 1
        done = fill(Side.BUY, shares, bar.open, slip)
    cash = 100_000 - shares * done.price - done.commission
    line = doc["benchmarks"]["spy_buy_and_hold"]
    last = spy.last_on_or_before(result.marks[-1][0])
    assert last is not None
    assert line["metrics"]["final_equity"] == pytest.approx(cash + shares * last.close, abs=0.01)
    assert line["metrics"]["commissions"] == pytest.approx(done.commission, abs=0.01)
    # equal weight: each cycle's return is the mean of the names' returns from open to open
    data = load(market, SYMBOLS)
    days = result.rebalance_days
    value = 100_000.0
    for a, b in zip(days, days[1:], strict=False):
        moves = [_bar(data[s], b).open / _bar(data[s], a).open for s in SYMBOLS]
        value *= sum(moves) / len(moves)
    ew = doc["benchmarks"]["equal_weight_universe"]
    row = [r["date"] for r in doc["days"]].index(days[-1].isoformat())
    at_open = ew["equity"][row] / np.mean([_bar(data[s], days[-1]).close
                                           / _bar(data[s], days[-1]).open for s in SYMBOLS])
    assert at_open == pytest.approx(value, abs=0.02)  # the JSON keeps cents
    assert ew["metrics"]["commissions"] == 0.0


def test_slippage_is_the_half_spread_plus_square_root_impact_and_the_limit_holds():
    model = SlippageModel(half_spread_bps=3.0, impact=1.0)
    bars = load(DATA, ["KO"])["KO"].before(date(2019, 2, 11), 20)
    closes = np.array([b.close for b in bars])
    sigma = np.diff(np.log(closes)).std(ddof=1)
    volume = np.mean([b.volume for b in bars])
    assert model.fraction(1000, bars) == pytest.approx(3e-4 + sigma * math.sqrt(1000 / volume))
    assert model.fraction(int(volume), bars) > PortfolioRules().max_slippage  # a day's volume
    bought = fill(Side.BUY, 100, 50.0, 0.001)
    sold = fill(Side.SELL, 100, 50.0, 0.001)
    assert bought.price == pytest.approx(50.05) and sold.price == pytest.approx(49.95)
    assert bought.slippage == pytest.approx(5.0) and sold.commission > bought.commission


def test_an_order_the_limit_would_refuse_is_not_filled(market):
    # a book a thousand times larger: its orders are a large share of a 2M-share day
    result = run(_config(market, date(2018, 3, 5), date(2018, 3, 5), equity=1e9), SYMBOLS, RULES)
    cycle = result.cycles[0]
    assert cycle.members and not result.account.executions
    assert all("not filled: slippage" in note for note in cycle.notes)


def test_hysteresis_halves_the_2019_monday_turnover_without_losing_sharpe():
    """The issue's measurement: the shipped universe on every Monday of 2019. With the buffer
    and the margin off, the same policy replaces names most weeks."""
    universe = load_universe(REPO / "weekly_universe.json")
    config = _config(DATA, date(2019, 1, 1), date(2019, 12, 31), workers=1)
    churn = dataclasses.replace(universe.rules, hold_buffer=0, entry_margin=0.0,
                                hold_edge_z=universe.rules.min_edge_z)
    before = document(run(config, list(universe.symbols), churn), "u")["metrics"]
    after = document(run(config, list(universe.symbols), universe.rules), "u")["metrics"]
    assert after["turnover_per_cycle"] <= 0.5 * before["turnover_per_cycle"]
    assert after["cycles_with_replacement"] <= 0.5 * before["cycles_with_replacement"]
    assert after["sharpe"] >= before["sharpe"]


@pytest.mark.parametrize(("argv", "expected"), [
    (["--from", "2019-05-01", "--to", "2019-01-01"], "--from 2019-05-01 is after --to"),
    (["--from", "2019-01-05", "--to", "2019-01-06"], "no Monday session between 2019-01-05"),
    (["--from", "2019-01-01", "--to", "2019-02-01", "--run-days", "Saturday"],
     "--run-days Saturday is invalid: the market is closed on weekends"),
    (["--from", "2019-01-01", "--to", "2019-02-01", "--rule", "hold_buffer"],
     "--rule hold_buffer is invalid: use NAME=VALUE"),
    (["--from", "2019-01-01", "--to", "2019-02-01", "--rule", "holdbuffer=2"],
     "unknown rule 'holdbuffer'"),
    (["--from", "2019-01-01", "--to", "2019-02-01", "--rule", "mc_block_days=5"],
     "rules.mc_block_days = 5 is invalid"),
    (["--from", "2019-01-01", "--to", "2019-02-01", "--data", "/nonexistent"],
     "--data /nonexistent has no daily/ folder"),
    (["--from", "2019-13-01", "--to", "2019-02-01"], "--from 2019-13-01 is invalid: use a date"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, expected):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own checks exit from inside
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err, err


def test_a_universe_symbol_without_a_daily_file_is_named(tmp_path, capsys):
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"symbols": ["KO", "NOPE"]}))
    assert main(["--from", "2019-01-01", "--to", "2019-02-01", "--universe", str(path)]) == 2
    err = capsys.readouterr().err
    assert "NOPE has no daily file" in err and err.count("\n") == 1


def test_the_command_leaves_its_callers_log_levels_as_it_found_them(tmp_path, capsys):
    """Called in-process it silenced the "trade" logger for good: a later test of the
    connection's reconnect warning saw no record (CI, whole suite)."""
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"symbols": ["KO", "NOPE"]}))
    trade_log = logging.getLogger("trade")
    before = trade_log.level
    main(["--from", "2019-01-01", "--to", "2019-02-01", "--universe", str(path)])
    capsys.readouterr()
    assert trade_log.level == before


def test_the_command_prints_the_policy_against_both_benchmarks(market, tmp_path, capsys):
    out = tmp_path / "w.json"
    universe = tmp_path / "u.json"
    universe.write_text(json.dumps({"symbols": SYMBOLS, "rules": {"top_k": 3, "mc_paths": 2000}}))
    assert main(["--data", str(market), "--from", "2018-01-01", "--to", "2018-06-30",
                 "--universe", str(universe), "--json", str(out), "--workers", "1",
                 "--run-time", "10:00"]) == 0
    text = capsys.readouterr().out
    assert "LLM off" in text and "SPY buy-and-hold" in text and "equal-weight universe" in text
    assert "turnover" in text and "commissions" in text
    doc = json.loads(out.read_text())
    assert doc["kind"] == "backtest" and doc["params"]["run_time"] == "10:00"
    assert doc["sessions"]["rebalances"] == len([r for r in doc["days"]
                                                 if r["status"] == "done"])


def _upa_history_days(result: WeeklyRun) -> int:
    analysis = result.analyses[0].analysis
    assert analysis is not None
    [upa] = [a for a in analysis.assessments if a.symbol == "UPA"]
    assert upa.edge is not None
    return upa.edge.history_days


def test_run_time_sets_where_the_year_of_history_starts(market):
    """IB's "1 Y" reaches back to the same clock time a year earlier: at 09:00 on Tuesday
    2018-03-06 the 09:30 bar of Monday 2017-03-06 is inside it, at 10:00 it is not."""
    day = date(2018, 3, 6)
    early = run(_config(market, day, day, run_days=("Tuesday",), run_time=time(9, 0)),
                SYMBOLS, RULES)
    late = run(_config(market, day, day, run_days=("Tuesday",)), SYMBOLS, RULES)
    assert _upa_history_days(early) == _upa_history_days(late) + 1


def test_a_data_root_without_the_benchmark_is_named(tmp_path, capsys):
    (tmp_path / "daily").mkdir()
    (tmp_path / "daily" / "KO.csv").write_text((DATA / "daily" / "KO.csv").read_text())
    universe = tmp_path / "u.json"
    universe.write_text(json.dumps({"symbols": ["KO"]}))
    assert main(["--data", str(tmp_path), "--from", "2019-01-01", "--to", "2019-02-01",
                 "--universe", str(universe)]) == 2
    err = capsys.readouterr().err
    assert "has no daily/SPY.csv: the SPY buy-and-hold benchmark needs it" in err


def test_the_rank_noise_the_hysteresis_rides_out(market):
    result = run(_config(market, date(2018, 1, 1), date(2018, 6, 29)), SYMBOLS, RULES)
    noise = rank_noise(result.analyses)
    changes, moves = [], []
    for a, b in zip(result.analyses, result.analyses[1:], strict=False):
        assert a.analysis is not None and b.analysis is not None
        before = {x.symbol: x.score for x in a.analysis.assessments}
        after = {x.symbol: x.score for x in b.analysis.assessments}
        rank_a = {s: i for i, s in enumerate(sorted(before, key=lambda s: (-before[s], s)))}
        rank_b = {s: i for i, s in enumerate(sorted(after, key=lambda s: (-after[s], s)))}
        for symbol in before.keys() & after.keys():
            changes.append(after[symbol] - before[symbol])
            moves.append(abs(rank_b[symbol] - rank_a[symbol]))
    assert noise["score_change_sd"] == pytest.approx(float(np.std(changes)), abs=1e-4)
    assert noise["rank_change_p90"] == sorted(moves)[int(0.9 * (len(moves) - 1))]


def test_the_filter_rates_command(capsys):
    assert filter_rates.main(["--names", "20", "--days", "120"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("filter at min_edge_z 0.5, hold_edge_z 0, max_cvar 0.12")
    assert len(out) == 2 + len(filter_rates.DRIFTS) and out[1].split()[:3] == [
        "drift/yr", "names", "pass"]
    with pytest.raises(SystemExit) as exit_:
        filter_rates.main(["--names", "5"])
    assert exit_.value.code == 2
