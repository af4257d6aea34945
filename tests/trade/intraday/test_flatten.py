"""flatten: cancel own orders, sell only the own book at market, re-query until flat."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from sim.engine.commissions import ZeroCommission
from sim.engine.exchange import MatchingEngine
from sim.paper_broker import PaperBroker
from tests.sim.handmade_bars import DAY, at, replay_of
from trade.intraday.flatten import Holdings, flatten
from trade.models import OrderRef, Side

FLAT = (100.0, 100.0, 100.0, 100.0)
ENTRY = "DT-20240305-XYZ-1-ENTRY"


class DeferredCancelBroker(PaperBroker):
    """The paper broker with IB's asynchronous cancel: a cancel takes effect only when the
    exchange confirms it (`confirm_cancels`), as at IB where the order stays working meanwhile."""

    def __init__(self, engine: MatchingEngine) -> None:
        super().__init__(engine)
        self.pending_cancels: list[int] = []

    async def cancel(self, order_id: int) -> None:
        self.pending_cancels.append(order_id)

    async def confirm_cancels(self) -> None:
        for order_id in self.pending_cancels:
            await super().cancel(order_id)
        self.pending_cancels.clear()


def make_broker(cls: type[PaperBroker] = PaperBroker) -> PaperBroker:
    engine = MatchingEngine(replay_of([FLAT] * 10), cash=100_000.0, slippage_bps=0.0,
                            commissions=ZeroCommission())
    return cls(engine)


class Refs:
    """Fresh FLAT refs, as the trader reserves them."""

    def __init__(self) -> None:
        self.seq = 10
        self.asked: list[tuple[str, int]] = []

    def __call__(self, symbol: str, qty: int) -> OrderRef:
        self.seq += 1
        self.asked.append((symbol, qty))
        return OrderRef("DT", "20240305", symbol, self.seq, "FLAT")


def owned_minus(broker: PaperBroker, others: Mapping[str, int]):
    """What the trader would hand the flatten: the broker's position less another book's."""
    async def owned() -> Holdings:
        held = {p.symbol: p.qty for p in await broker.positions()}
        mine = {s: q - others.get(s, 0) for s, q in held.items() if q - others.get(s, 0)}
        return Holdings(mine, dict(mine))
    return owned


async def held(broker: PaperBroker) -> dict[str, int]:
    return {p.symbol: p.qty for p in await broker.positions()}


async def test_already_flat_sends_nothing_and_confirms_at_once():
    broker = make_broker()
    refs = Refs()
    result = await flatten(broker, "DT", owned_minus(broker, {}), refs, poll=0.01)
    assert (result.flat, result.rounds, result.orders) == (True, 1, [])
    assert result.flat_at == broker.now()
    assert refs.asked == []


async def test_bracket_children_are_cancelled_and_the_position_sold_at_market():
    broker = make_broker()
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_bracket("XYZ", 10, None, 102.0, 98.0, ENTRY)
    assert await held(broker) == {"XYZ": 10}
    refs = Refs()
    result = await flatten(broker, "DT", owned_minus(broker, {}), refs, poll=0.01)
    assert result.flat and result.orders == ["DT-20240305-XYZ-11-FLAT"]
    assert refs.asked == [("XYZ", 10)]
    assert await held(broker) == {}
    assert await broker.open_orders() == []
    sells = [f for f in await broker.executions() if f.side is Side.SELL]
    assert [(f.order_ref, f.qty) for f in sells] == [("DT-20240305-XYZ-11-FLAT", 10)]


async def test_another_books_shares_and_orders_are_left_alone():
    broker = make_broker()
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_bracket("XYZ", 10, None, 102.0, 98.0, ENTRY)
    await broker.place_market("XYZ", Side.BUY, 5, "WK-20240305-XYZ-1-ENTRY")
    await broker.place_exits("XYZ", 5, 110.0, 90.0, "WK-20240305-XYZ-1-ENTRY")
    result = await flatten(broker, "DT", owned_minus(broker, {"XYZ": 5}), Refs(), poll=0.01)
    assert result.flat
    assert await held(broker) == {"XYZ": 5}
    assert sorted(o.order_ref for o in await broker.open_orders()) == [
        "WK-20240305-XYZ-1-SL", "WK-20240305-XYZ-1-TP",
    ]


async def test_nothing_is_sold_while_own_exits_are_still_working():
    """A take-profit that fills after the market sell would leave the account short."""
    broker = make_broker(DeferredCancelBroker)
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_bracket("XYZ", 10, None, 102.0, 98.0, ENTRY)
    result = await flatten(broker, "DT", owned_minus(broker, {}), Refs(), max_rounds=2,
                           confirm_timeout=0.05, poll=0.01)
    assert not result.flat and result.orders == [] and result.remaining == {"XYZ": 10}
    assert await held(broker) == {"XYZ": 10}
    assert not [f for f in await broker.executions() if f.side is Side.SELL]


async def test_sells_once_the_broker_confirms_the_cancels():
    broker = make_broker(DeferredCancelBroker)
    assert isinstance(broker, DeferredCancelBroker)
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_bracket("XYZ", 10, None, 102.0, 98.0, ENTRY)

    async def exchange_confirms_later() -> None:
        await asyncio.sleep(0.05)
        await broker.confirm_cancels()

    confirm = asyncio.create_task(exchange_confirms_later())
    result = await flatten(broker, "DT", owned_minus(broker, {}), Refs(), confirm_timeout=1.0, poll=0.01)
    await confirm
    assert result.flat and result.rounds == 1 and len(result.orders) == 1
    assert await held(broker) == {} and await broker.open_orders() == []


async def test_what_the_owner_says_is_not_ours_is_never_sold():
    broker = make_broker()
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_market("XYZ", Side.BUY, 7, "WK-20240305-XYZ-1-ENTRY")
    result = await flatten(broker, "DT", owned_minus(broker, {"XYZ": 7}), Refs(), poll=0.01)
    assert result.flat and result.orders == []
    assert await held(broker) == {"XYZ": 7}


# -- issue 16 item 2: once the exits are cancelled, nothing may stop the flatten ------------------


class FlakyBroker(PaperBroker):
    """Fails the first `failures` position queries the way a dropped socket fails them."""

    failures = 0

    async def positions(self):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("Socket disconnect")
        return await super().positions()


async def test_a_dropped_connection_mid_flatten_is_retried_until_flat():
    broker = make_broker(FlakyBroker)
    assert isinstance(broker, FlakyBroker)
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_bracket("XYZ", 10, None, 102.0, 98.0, ENTRY)
    broker.failures = 2  # the round after the exits were cancelled dies twice
    result = await flatten(broker, "DT", owned_minus(broker, {}), Refs(), poll=0.01, backoff_max=0.01)
    assert result.flat and result.rounds == 3
    assert await held(broker) == {}


async def test_a_db_failure_reserving_the_ref_is_retried_until_flat():
    from observability.history import HistoryDBError

    broker = make_broker()
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_bracket("XYZ", 10, None, 102.0, 98.0, ENTRY)
    refs = Refs()
    calls = {"n": 0}

    def locked_once(symbol: str, qty: int) -> OrderRef:
        calls["n"] += 1
        if calls["n"] == 1:
            raise HistoryDBError("history.db is locked by another process", transient=True)
        return refs(symbol, qty)

    result = await flatten(broker, "DT", owned_minus(broker, {}), locked_once, poll=0.01, backoff_max=0.01)
    assert result.flat and await held(broker) == {}


async def test_the_flatten_stops_trying_once_the_session_has_closed():
    broker = make_broker(DeferredCancelBroker)  # exits never confirm as cancelled
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_bracket("XYZ", 10, None, 102.0, 98.0, ENTRY)
    result = await flatten(broker, "DT", owned_minus(broker, {}), Refs(), until=broker.now(), poll=0.01)
    assert not result.flat and result.orders == []


async def test_an_oversold_book_is_bought_back():
    broker = make_broker()
    await broker.step_to(at(DAY, 9, 31))
    await broker.place_market("XYZ", Side.SELL, 4, "DT-20240305-XYZ-1-TP")  # sold 4 too many

    async def short_book() -> Holdings:
        qty = (await held(broker)).get("XYZ", 0)
        return Holdings({"XYZ": qty} if qty else {}, {"XYZ": qty} if qty else {})

    def cover_refs(symbol: str, qty: int) -> OrderRef:
        return OrderRef("DT", "20240305", symbol, 9, "COVER" if qty < 0 else "FLAT")

    result = await flatten(broker, "DT", short_book, cover_refs, poll=0.01)
    assert result.flat and result.orders == ["DT-20240305-XYZ-9-COVER"]
    assert await held(broker) == {}
