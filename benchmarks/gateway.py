"""Gateway simulator latency: connect time and order round-trip as the ib_async client sees it.

Round trip = `placeOrder` (market order) until the client has seen orderStatus Filled. The
simulator runs in its own thread (as it does for blocking clients and e2e tests); the client runs
on the main event loop. The client's own 45-msg/s throttle is switched off (MaxRequests = 0) so
the number measures the simulator, not the client's pacing. Target: p50 <= 2 ms.

    python benchmarks/gateway.py [--orders 400] [--connects 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ib_async import IB, Contract, MarketOrder, Stock  # noqa: E402

from sim.gateway import GatewaySimulator  # noqa: E402
from sim.market.bar_sources import CsvBarSource  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def measure(host: str, port: int, orders: int, connects: int) -> None:
    connect_ms = []
    for i in range(connects):
        ib = IB()
        t0 = time.perf_counter()
        await ib.connectAsync(host, port, clientId=100 + i, timeout=5)
        connect_ms.append((time.perf_counter() - t0) * 1000)
        ib.disconnect()
        await asyncio.sleep(0.01)

    ib = IB()
    await ib.connectAsync(host, port, clientId=1, timeout=5)
    ib.client.MaxRequests = 0
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    assert isinstance(spy, Contract), f"the simulator did not qualify SPY: {spy!r}"
    rtt_ms = []
    for i in range(orders + 20):
        t0 = time.perf_counter()
        trade = ib.placeOrder(spy, MarketOrder("BUY" if i % 2 == 0 else "SELL", 1))
        done = asyncio.get_running_loop().create_future()
        trade.filledEvent += lambda t, f=done: f.done() or f.set_result(None)
        if not trade.isDone():
            await asyncio.wait_for(done, 5)
        if i >= 20:  # warm-up excluded
            rtt_ms.append((time.perf_counter() - t0) * 1000)
    ib.disconnect()

    print(f"connect ({connects}x): p50 {statistics.median(connect_ms):.2f} ms, p99 {pct(connect_ms, 99):.2f} ms")
    print(
        f"order round-trip placeOrder->Filled ({orders} market orders): "
        f"p50 {statistics.median(rtt_ms):.3f} ms, p99 {pct(rtt_ms, 99):.3f} ms, max {max(rtt_ms):.3f} ms"
    )
    verdict = "OK" if statistics.median(rtt_ms) <= 2.0 else "ABOVE TARGET"
    print(f"target p50 <= 2 ms: {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--connects", type=int, default=20)
    args = parser.parse_args()
    source = CsvBarSource(DATA, ["SPY"])
    sim = GatewaySimulator.build(source, date(2019, 2, 13), ["SPY"], speed=None, cash=10_000_000.0)
    handle = sim.start_in_thread()
    try:
        asyncio.run(measure(handle.host, handle.port, args.orders, args.connects))
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
