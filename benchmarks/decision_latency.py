"""Decision latency: a completed bar's arrival at the client socket -> the bracket order leaving it.

The real day trader (IntradayTrader over IBBroker over ib_async) trades 50 symbols against the
Gateway simulator running as its own process (as IB Gateway is: in-process, its thread would
compete with the client for the GIL and the number would measure that). Measured per entry:
  t0 = the socket read that delivered the 5-second bar completing the minute (`data_received`)
  t1 = the parent order's placeOrder bytes handed to the socket (`Connection.sendMsg`)
Everything between (decoding, bar building, indicators, strategy, risk, the intent write to the
history DB, building the three bracket orders) is in the number, including the queueing behind the
other 49 symbols whose bars complete at the same instant.

The market runs 100x real time, so ib_async's own 45 messages/s throttle is switched off: at
real speed the same orders are spread over real minutes and the throttle never binds. The
strategy is loosened (RSI < 100, no ATR floor, 0.1% target/stop) to produce many entries; the
code path is the production one. Entries in the first `--settle` seconds are not counted: at
start-up each symbol's first live minute follows a gap that is filled from history within IB's
pacing (6 requests / 2 s), and bars held back meanwhile are not "live" arrivals. Target: p50 <= 1 ms.

    python benchmarks/decision_latency.py [--symbols 50] [--seconds 20] [--settle 25] [--speed 100]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from observability.history import HistoryDB  # noqa: E402
from sim.market.tickers import shipped  # noqa: E402
from trade.calendar import MarketCalendar  # noqa: E402
from trade.ib.broker import IBBroker  # noqa: E402
from trade.ib.connection import IBConnection  # noqa: E402
from trade.intraday.run_log import RunLog  # noqa: E402
from trade.intraday.trader import IntradayTrader, TraderOptions  # noqa: E402
from trade.models import Params  # noqa: E402
from trade.risk import RiskManager  # noqa: E402

DAY = date(2025, 6, 3)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    n_symbols: int, seconds: float, settle: float, speed: float
) -> tuple[list[float], list[float]]:
    # real tickers: the simulator's synthetic market refuses made-up ones, as IB would (error 200)
    symbols = sorted(s for s, listing in shipped().items() if listing.kind == "stock")[:n_symbols]
    gateway = subprocess.Popen(
        [sys.executable, "-m", "sim.gateway", "--port", "0", "--synthetic", "--seed", "11",
         "--date", DAY.isoformat(), "--speed", str(speed), "--cash", "10000000", "--symbols", *symbols],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    assert gateway.stdout is not None
    listening = re.search(r"listening on [\d.]+:(\d+)", gateway.stdout.readline())
    assert listening is not None, "the simulator did not start (its error is above)"
    port = int(listening.group(1))
    connection = IBConnection("127.0.0.1", port, client_id=2)
    await connection.connect()
    connection.ib.client.MaxRequests = 0  # see the module docstring
    broker = IBBroker(connection)
    await broker.start()
    measuring = False

    bar_arrival: dict[str, float] = {}
    bar_handed: dict[str, float] = {}
    chunk_arrival = 0.0
    latencies: list[float] = []
    from_trader: list[float] = []
    conn = connection.ib.client.conn
    original_receive, original_send = conn.data_received, conn.sendMsg

    def timed_receive(data: bytes) -> None:
        nonlocal chunk_arrival
        chunk_arrival = time.perf_counter()
        original_receive(data)

    def timed_send(msg: bytes) -> None:
        original_send(msg)
        fields = msg[4:].split(b"\0")
        if fields[0] == b"3" and b"BUY" in fields[:20]:  # placeOrder of a bracket parent
            symbol = fields[3].decode()
            if symbol in bar_arrival and measuring:
                sent = time.perf_counter()
                latencies.append((sent - bar_arrival.pop(symbol)) * 1000.0)
                from_trader.append((sent - bar_handed.pop(symbol)) * 1000.0)

    conn.data_received = timed_receive  # type: ignore[method-assign]  # wrap the wire to time it
    conn.sendMsg = timed_send  # type: ignore[method-assign]  # wrap the wire to time it

    session = MarketCalendar().session(DAY)
    params = Params(rsi_max=100.0, atr_min_pct=0.0, profit_target=0.001, stop_loss=0.001,
                    atr_timeframe="1 min")
    with tempfile.TemporaryDirectory() as tmp:
        db = HistoryDB.open(Path(tmp) / "bench.db")
        risk = RiskManager.standard(0.5, n_symbols, params)
        trader = IntradayTrader(
            broker, db, session, dict.fromkeys(symbols, params), risk,
            TraderOptions(allocation=0.5), RunLog(DAY, 0.5, params.as_dict()),
        )
        original_on_bar = trader.feed.on_bar

        def timed_on_bar(bar):  # noqa: ANN001, ANN202
            bar_arrival[bar.symbol] = chunk_arrival
            bar_handed[bar.symbol] = time.perf_counter()
            original_on_bar(bar)

        trader.feed.on_bar = timed_on_bar  # type: ignore[method-assign]  # a timing tap on the feed
        await broker.qualify(symbols)
        await trader.start()
        runner = asyncio.get_running_loop().create_task(trader.run())
        await asyncio.sleep(settle)
        measuring = True
        await asyncio.sleep(seconds)
        trader.stop("benchmark done")
        await runner
        db.close()
    await broker.stop()
    await connection.close()
    gateway.send_signal(signal.SIGTERM)
    gateway.wait(10)
    return latencies, from_trader


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=25.0)
    parser.add_argument("--speed", type=float, default=100.0)
    args = parser.parse_args()
    latencies, from_trader = asyncio.run(
        measure(args.symbols, args.seconds, args.settle, args.speed)
    )
    if not latencies:
        print("no entries were made: nothing measured")
        return 1
    print(f"symbols: {args.symbols}, market speed: {args.speed:g}x, entries measured: {len(latencies)}")
    print(f"bar arrival at the socket -> order at the socket: p50 {statistics.median(latencies):.3f} ms, "
          f"p99 {_percentile(latencies, 0.99):.3f} ms, max {max(latencies):.3f} ms")
    print(f"bar handed to the trader -> order at the socket: p50 {statistics.median(from_trader):.3f} ms, "
          f"p99 {_percentile(from_trader, 0.99):.3f} ms (the rest is decoding the same burst)")
    print(f"decision_p50_ms: {statistics.median(latencies):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
