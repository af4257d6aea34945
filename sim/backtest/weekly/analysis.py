"""The screener and the analyst of every rebalance day, with the live code, on local cores.

What a cycle's analysis needs is the year of daily bars before its day, never the book: so the
days are independent and run on worker processes (each loads the daily files once), while the
book (which the manager's membership depends on) is simulated afterwards, in order, by
`engine.py`. Each day goes through `trade.portfolio.screener.judge_histories` and `assemble`
(the live screen's verdicts, in the universe's order) and `trade.portfolio.analyst.analyse`
with no LLM endpoint: the quantitative score alone decides, and every analysis says so. The
Monte Carlo is seeded by the date, as in the live cycle. The paths themselves (symbols x 10,000
numbers a day) are dropped once the figures are computed: the backtest does not need them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from sim.backtest.weekly.data import SymbolBars, history, load
from trade.models import Bar
from trade.portfolio.analyst import Analysis, analyse
from trade.portfolio.screener import NoCandidates, ScreenVerdict, assemble, judge_histories
from trade.portfolio.universe import PortfolioRules

LLM_OFF = "LLM off in backtests (the quantitative score alone decides)"
SOURCE = "daily files"
DAYS_PER_WORKER = 60  # below this a second process costs more (loading the files) than it saves


@dataclass(slots=True)
class DayAnalysis:
    day: date
    analysis: Analysis | None  # None: the cycle failed before any order
    failed: str = ""
    candidates: int = 0


def seed_of(day: date) -> int:
    """The live cycle's Monte Carlo seed (trade/portfolio/cycle.py)."""
    return int(day.strftime("%Y%m%d"))


def analyse_day(data: Mapping[str, SymbolBars], symbols: Sequence[str], rules: PortfolioRules,
                day: date, run_time: time) -> DayAnalysis:
    histories: dict[str, Sequence[Bar] | str] = {
        s: history(data[s], day, run_time) if data[s].on(day) is not None else
        f"no bar on {day}: the daily file has not started or has ended" for s in symbols}
    verdicts: dict[str, ScreenVerdict] = {}
    kept = judge_histories(histories, rules, day, verdicts)
    try:
        screened = assemble(SOURCE, symbols, verdicts, kept)
    except NoCandidates as exc:
        return DayAnalysis(day, None, str(exc))
    analysis = asyncio.run(analyse(screened.candidates, rules, None, LLM_OFF, seed_of(day)))
    analysis.paths = None
    return DayAnalysis(day, analysis, "", len(screened.candidates))


# -- worker processes ------------------------------------------------------------------------
_WORKER: dict[str, object] = {}


def _init_worker(data_dir: str, symbols: list[str], rules: PortfolioRules, run_time: time) -> None:
    logging.getLogger("trade").setLevel(logging.ERROR)  # the analyst says "LLM off" each day
    _WORKER.update(data=load(Path(data_dir), symbols), symbols=symbols, rules=rules,
                   run_time=run_time)


def _run_chunk(days: list[date]) -> list[DayAnalysis]:
    data = _WORKER["data"]
    symbols = _WORKER["symbols"]
    rules = _WORKER["rules"]
    run_time = _WORKER["run_time"]
    assert isinstance(data, dict) and isinstance(symbols, list)
    assert isinstance(rules, PortfolioRules) and isinstance(run_time, time)
    return [analyse_day(data, symbols, rules, day, run_time) for day in days]


def analyse_days(data_dir: Path, data: Mapping[str, SymbolBars], symbols: Sequence[str],
                 rules: PortfolioRules, days: Sequence[date], run_time: time,
                 workers: int = 1) -> list[DayAnalysis]:
    """Every day's analysis, in the order of `days`, whatever the worker count."""
    count = max(1, min(workers, len(days) // DAYS_PER_WORKER))
    if count <= 1:
        return [analyse_day(data, symbols, rules, day, run_time) for day in days]
    # interleaved chunks: the early years have few names, the later ones many
    chunks = [list(days[i::count * 4]) for i in range(count * 4)]
    out: dict[date, DayAnalysis] = {}
    with ProcessPoolExecutor(count, initializer=_init_worker,
                             initargs=(str(data_dir), list(symbols), rules, run_time)) as pool:
        for results in pool.map(_run_chunk, chunks):
            out.update((r.day, r) for r in results)
    return [out[day] for day in days]
