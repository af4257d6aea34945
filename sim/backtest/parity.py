"""The fast engine against the event engine, session by session: the proof the fast one is trusted on.

    python -m sim.backtest.parity [--data DIR] [--configs default one_minute risk_limits]

For every session of the data root (each day's batch: every symbol with a day file that day, in
a fixed shuffled subscription order) and each configuration, both engines trade the day and
their round trips (symbol, times, quantities, prices, commissions, exit reasons), the flat time
and the kept symbols must be equal. Prints one line per configuration; exit 1 on any difference.
The configurations: the default parameters (the daily ATR screen drops most recent sessions,
which lack 15 prior daily bars), the 1-minute ATR rule with a low threshold (every session
trades), and the same with the risk limits binding (5% positions, so the exposure cap fills up,
a re-entry cooldown, at most 5 open positions, the daily loss cap).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sim.backtest.bars import BarStore
from sim.backtest.config import BacktestConfig
from sim.backtest.event_engine import run_event_day
from sim.backtest.fast.engine import run_fast_day
from sim.backtest.prepare import prepare_day
from sim.backtest.result import DayResult
from sim.market.bar_sources import CsvBarSource
from sim.market.grid import TickGridSource, on_grid
from trade.config import ConfigError, require_market_data
from trade.models import Params

ONE_MINUTE = Params(atr_timeframe="1 min", atr_min_pct=0.001)
CONFIGS: dict[str, tuple[Params, BacktestConfig]] = {
    "default": (Params(), BacktestConfig()),
    "one_minute": (ONE_MINUTE, BacktestConfig()),
    "risk_limits": (ONE_MINUTE.with_overrides({"position_pct": 0.05, "cooldown_minutes": 10}),
                    BacktestConfig(allocation=0.2, max_open_positions=5, daily_loss_pct=0.004)),
}


@dataclass(frozen=True, slots=True)
class DayParity:
    day: date
    event: DayResult
    fast: DayResult

    @property
    def equal(self) -> bool:
        return (self.event.trades == self.fast.trades and self.event.flat_at == self.fast.flat_at
                and self.event.kept == self.fast.kept)

    def difference(self) -> str:
        e, f = self.event, self.fast
        if e.kept != f.kept:
            return f"{self.day}: kept {e.kept} (event) vs {f.kept} (fast)"
        if e.flat_at != f.flat_at:
            return f"{self.day}: flat at {e.flat_at} (event) vs {f.flat_at} (fast)"
        for i, (a, b) in enumerate(zip(e.trades, f.trades, strict=False)):
            if a != b:
                return f"{self.day}: trade {i}: event {a} vs fast {b}"
        return f"{self.day}: {len(e.trades)} trades (event) vs {len(f.trades)} (fast)"


def shared_universe(source: TickGridSource, seed: int = 5) -> list[str]:
    """Every symbol with day files, in a fixed shuffled order (not alphabetical: the engine
    matches exits alphabetically but decides in subscription order, and both must hold)."""
    symbols = [s for s in source.symbols() if source.sessions(s)]
    random.Random(seed).shuffle(symbols)
    return symbols


def all_days(source: TickGridSource, symbols: Sequence[str]) -> list[date]:
    return sorted({d for s in symbols for d in source.sessions(s)})


def compare_day(source: TickGridSource, store: BarStore, day: date, symbols: Sequence[str],
                params: Params, config: BacktestConfig,
                overrides: Mapping[str, Params] | None = None) -> DayParity:
    event = run_event_day(source, day, symbols, params, config, overrides)
    batch = prepare_day(store, day, symbols)
    fast = DayResult(day) if batch is None else run_fast_day(batch, params, config, overrides)
    return DayParity(day, event, fast)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.backtest.parity",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", metavar="DIR", help="market data (default: MARKET_DATA_DIR)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args(argv)
    try:
        data = require_market_data(args.data)
    except ConfigError as exc:
        parser.error(str(exc))
    source = on_grid(CsvBarSource(data))
    store = BarStore(source)
    symbols = shared_universe(source)
    days = all_days(source, symbols)
    failed = False
    for name in args.configs:
        params, config = CONFIGS[name]
        started = time.perf_counter()
        trades = mismatches = 0
        for day in days:
            result = compare_day(source, store, day, symbols, params, config)
            trades += len(result.event.trades)
            if not result.equal:
                mismatches += 1
                print(f"  MISMATCH {result.difference()}")
        failed |= mismatches > 0
        print(f"{name}: {len(days)} sessions, {len(symbols)} symbols, {trades} event-engine "
              f"trades, {mismatches} sessions differ ({time.perf_counter() - started:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
