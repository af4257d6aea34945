"""The simulator says who it is: its account values carry `SimulatedGateway` valued
`ib-gateway-sim/<id>` (read by the bots through ib_async), a fresh id per simulator, the same id
for a simulator restarted with its --state file; the bots file their records under it."""

from __future__ import annotations

from pathlib import Path

from sim.gateway import GatewaySimulator
from sim.market.bar_sources import CsvBarSource
from tests.conftest import TEST_DAY, TEST_SYMBOLS
from tests.paths import DATA
from trade.ib.session import ib_broker


async def _simulator(state: Path | None = None) -> GatewaySimulator:
    sim = GatewaySimulator.build(CsvBarSource(DATA, TEST_SYMBOLS), TEST_DAY, TEST_SYMBOLS,
                                 port=0, state_path=state)
    await sim.start()
    return sim


async def _announced(sim: GatewaySimulator) -> tuple[bool, str | None]:
    async with ib_broker(sim.host, sim.port, 7) as broker:
        account = await broker.account()
    return account.simulated, account.simulator_id


async def test_each_simulator_announces_its_own_id_and_a_state_file_keeps_it(tmp_path: Path):
    state = tmp_path / "state.json"
    first = await _simulator(state)
    try:
        assert await _announced(first) == (True, first.simulator_id)
    finally:
        await first.stop()
    restarted = await _simulator(state)  # the same broker state: the same simulator
    fresh = await _simulator()  # a new simulator starts flat: a new identity
    try:
        assert await _announced(restarted) == (True, first.simulator_id)
        assert await _announced(fresh) == (True, fresh.simulator_id)
        assert fresh.simulator_id != first.simulator_id
    finally:
        await restarted.stop()
        await fresh.stop()
