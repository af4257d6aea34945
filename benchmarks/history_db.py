"""History DB latency: one committed trade insert (called synchronously from the event loop) and
a daily summary over a 100k-trade file. Targets: insert p50 <= 0.1 ms, daily summary <= 5 ms.

Run: `.venv/bin/python benchmarks/history_db.py`. Uses a temp dir; the last line is
`insert_p50_ms: X` for scripts that parse it.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from observability.history import HistoryDB  # noqa: E402
from observability.schema import TradeRow  # noqa: E402

INSERTS = 5_000
TOTAL_TRADES = 100_000
DAYS = 250  # a trading year: 400 trades a day
SUMMARY_RUNS = 200
SYMBOLS = ("SPY", "QQQ", "AAPL", "MSFT", "NVDA", "AMD", "TSLA", "META")


def trade(i: int, first_day: date) -> TradeRow:
    day = first_day + timedelta(days=i % DAYS)
    entry = datetime(day.year, day.month, day.day, 13, 30, tzinfo=UTC) + timedelta(seconds=i // DAYS * 50)
    pnl = ((i * 7919) % 41 - 18) * 1.5
    return TradeRow(
        trading_date=day, book="intraday", symbol=SYMBOLS[i % len(SYMBOLS)], side="BUY", qty=10,
        entry_time=entry, entry_price=100.0, exit_time=entry + timedelta(minutes=7),
        exit_price=100.0 + pnl / 10, pnl=pnl, commission=1.0, variant="AB"[i % 2], rsi=52.0,
        vwap=99.8, atr=1.7, reason="above VWAP", exit_reason="target", order_ref=f"DT-{i}-ENTRY",
    )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    first_day = date(2024, 1, 2)
    with tempfile.TemporaryDirectory() as tmp:
        db = HistoryDB.open(Path(tmp) / "trading_history.db")
        rows = [trade(i, first_day) for i in range(TOTAL_TRADES)]

        insert_ms: list[float] = []
        for row in rows[:INSERTS]:
            started = time.perf_counter()
            db.record_trade(row)
            insert_ms.append((time.perf_counter() - started) * 1000)

        fill_started = time.perf_counter()
        for row in rows[INSERTS:]:
            db.record_trade(row)
        fill_s = time.perf_counter() - fill_started

        summary_ms: list[float] = []
        for run in range(SUMMARY_RUNS):
            day = first_day + timedelta(days=(run * 37) % DAYS)
            started = time.perf_counter()
            summary = db.daily_summary(day)
            summary_ms.append((time.perf_counter() - started) * 1000)
        assert summary.trades == TOTAL_TRADES // DAYS, summary

        exec_ms: list[float] = []
        for i in range(2_000):
            started = time.perf_counter()
            db.record_execution(f"exec-{i % 1_000}", "DT-1-ENTRY", "SPY", "BOT", 10, 100.0,
                                rows[i].exit_time, 0.5, "intraday")  # half are duplicates
            exec_ms.append((time.perf_counter() - started) * 1000)
        db.close()

    p50, p99 = statistics.median(insert_ms), percentile(insert_ms, 0.99)
    print(f"trade insert (committed, WAL, synchronous=NORMAL), n={INSERTS}: "
          f"p50 {p50:.4f} ms  p99 {p99:.4f} ms  max {max(insert_ms):.3f} ms  (target p50 <= 0.1 ms)")
    slow = sum(ms > 1.0 for ms in insert_ms)
    print(f"inserts over 1 ms: {slow} of {INSERTS} (the WAL auto-checkpoint: every ~1000 WAL pages "
          "one commit copies the WAL into the main file and fsyncs it)")
    print(f"filled to {TOTAL_TRADES} trades over {DAYS} days in {fill_s:.1f} s")
    print(f"daily_summary over {TOTAL_TRADES} trades ({TOTAL_TRADES // DAYS}/day), n={SUMMARY_RUNS}: "
          f"p50 {statistics.median(summary_ms):.3f} ms  p99 {percentile(summary_ms, 0.99):.3f} ms "
          "(target <= 5 ms)")
    print(f"record_execution (half duplicates), n={len(exec_ms)}: "
          f"p50 {statistics.median(exec_ms):.4f} ms  p99 {percentile(exec_ms, 0.99):.4f} ms")
    print(f"insert_p50_ms: {p50:.4f}")


if __name__ == "__main__":
    main()
