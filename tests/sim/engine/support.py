"""Shared helpers for the engine tests: a recording listener, a hand-made engine, stepping."""

from __future__ import annotations

from sim.engine.commissions import ZeroCommission
from sim.engine.exchange import Execution, MatchingEngine, SimOrder
from tests.sim.handmade_bars import replay_of

FLAT = (100.0, 100.0, 100.0, 100.0)


class Recorder:
    """Collects engine events in order, as the gateway would forward them."""

    def __init__(self) -> None:
        self.statuses: list[tuple[int, str]] = []
        self.executions: list[Execution] = []

    def on_order_status(self, order: SimOrder) -> None:
        if not self.statuses or self.statuses[-1] != (order.order_id, order.status):
            self.statuses.append((order.order_id, order.status))

    def on_open_order(self, order: SimOrder) -> None:
        pass

    def on_execution(self, execution: Execution) -> None:
        self.executions.append(execution)

    def of(self, order_id: int) -> list[str]:
        return [s for i, s in self.statuses if i == order_id]


def engine_for(rows, slippage_bps: float = 0.0, cash: float = 100_000.0, commissions=None):
    replay = replay_of(rows)
    engine = MatchingEngine(replay, cash=cash, slippage_bps=slippage_bps,
                            commissions=commissions or ZeroCommission())
    recorder = Recorder()
    engine.add_listener(recorder)
    return engine, recorder


def order(order_id: int, action: str, qty: float, kind: str, lmt=None, aux=None, account="",
          **kw) -> SimOrder:
    return SimOrder(order_id, 0, account, "XYZ", action, qty, kind, lmt, aux, **kw)


def step(engine: MatchingEngine, minutes: float) -> None:
    clock = engine.replay.clock
    clock.advance_by(minutes * 60)
    engine.advance(clock.now())


def go_to(engine: MatchingEngine, when) -> None:
    """Advance the replay clock (and the engine) to the datetime `when`."""
    engine.replay.clock.advance_to(when)
    engine.advance(when)
