"""TripLedger: round trips are derived from executions (partial fills, exit leg, net P&L, adoption)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from trade.intraday.ledger import TripLedger
from trade.models import Fill, OrderRef, Side

NY = ZoneInfo("America/New_York")
T0 = datetime(2025, 7, 3, 10, 0, tzinfo=NY)
_ids = iter(range(1, 10_000))


def fill(leg: str, side: Side, qty: int, price: float, commission: float = 0.0, *, seq: int = 1,
         symbol: str = "SPY", bot: str = "DT", minute: int = 0) -> Fill:
    ref = f"{bot}-20250703-{symbol}-{seq}-{leg}"
    return Fill(f"e{next(_ids)}", 1, ref, symbol, side, qty, price,
                T0.replace(minute=minute), commission)


def test_entry_fill_alone_does_not_close_a_round_trip():
    ledger = TripLedger("DT")
    assert ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0)) is None
    trip = ledger.open_trip("SPY")
    assert trip is not None and trip.open_qty == 10 and not trip.is_closed


def test_round_trip_closes_when_exit_qty_matches_entry_qty():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0))
    trip = ledger.apply(fill("TP", Side.SELL, 10, 101.4))
    assert trip is not None and trip.is_closed
    assert ledger.open_trip("SPY") is None
    assert ledger.closed == [trip]


def test_partial_entry_fills_average_their_price_and_sum_their_qty():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 4, 100.0))
    ledger.apply(fill("ENTRY", Side.BUY, 6, 101.0))
    trip = ledger.open_trip("SPY")
    assert trip is not None
    assert trip.entry_qty == 10
    assert trip.entry_price == pytest.approx(100.6)


def test_partial_exit_keeps_the_round_trip_open_until_the_rest_sells():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0))
    assert ledger.apply(fill("TP", Side.SELL, 3, 101.0)) is None
    assert (still := ledger.open_trip("SPY")) is not None and still.open_qty == 7
    trip = ledger.apply(fill("TP", Side.SELL, 7, 101.2, minute=5))
    assert trip is not None
    assert trip.exit_price == pytest.approx((3 * 101.0 + 7 * 101.2) / 10)
    assert trip.exit_time == T0.replace(minute=5)


def test_pnl_is_proceeds_minus_cost_minus_every_commission():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0, commission=1.0))
    trip = ledger.apply(fill("SL", Side.SELL, 10, 99.2, commission=1.05))
    assert trip is not None
    assert trip.commission == pytest.approx(2.05)
    assert trip.pnl == pytest.approx(10 * 99.2 - 10 * 100.0 - 2.05)


@pytest.mark.parametrize(("leg", "reason"), [("TP", "target"), ("SL", "stop"), ("FLAT", "flatten")])
def test_exit_reason_names_the_leg_that_closed_the_position(leg: str, reason: str):
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0))
    trip = ledger.apply(fill(leg, Side.SELL, 10, 100.5))
    assert trip is not None and trip.exit_reason == reason


def test_exit_reason_is_the_leg_that_sold_most_shares():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0))
    ledger.apply(fill("TP", Side.SELL, 3, 101.4))
    trip = ledger.apply(fill("FLAT", Side.SELL, 7, 100.2, seq=2))
    assert trip is not None and trip.exit_reason == "flatten"


def test_key_names_the_entry_sequence():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0, seq=3))
    assert (still := ledger.open_trip("SPY")) is not None and still.key == "20250703-SPY-3"


def test_other_bots_and_foreign_refs_are_ignored():
    ledger = TripLedger("DT")
    assert ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0, bot="WK")) is None
    manual = Fill("m1", 1, "", "SPY", Side.BUY, 5, 100.0, T0)
    assert ledger.apply(manual) is None
    assert ledger.open_trip("SPY") is None


def test_symbols_are_tracked_separately():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0))
    ledger.apply(fill("ENTRY", Side.BUY, 5, 20.0, symbol="IONQ"))
    trip = ledger.apply(fill("TP", Side.SELL, 5, 20.5, symbol="IONQ"))
    assert trip is not None and trip.symbol == "IONQ"
    assert (still := ledger.open_trip("SPY")) is not None and still.open_qty == 10


def test_second_entry_after_a_closed_trip_starts_a_new_round_trip():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0))
    first = ledger.apply(fill("TP", Side.SELL, 10, 101.0))
    ledger.apply(fill("ENTRY", Side.BUY, 8, 102.0, seq=2))
    second = ledger.apply(fill("SL", Side.SELL, 8, 101.0, seq=2))
    assert first is not None and second is not None and first is not second
    assert (second.key, second.entry_qty, second.exit_reason) == ("20250703-SPY-2", 8, "stop")


def test_adopted_position_is_closed_by_its_protective_exits_at_the_adopted_cost():
    ledger = TripLedger("DT")
    ledger.adopt("SPY", 10, 100.0, T0, OrderRef("DT", "20250703", "SPY", 0, "ENTRY"))
    trip = ledger.apply(fill("SL", Side.SELL, 10, 99.0, seq=4))
    assert trip is not None
    assert trip.entry_price == 100.0 and trip.entry_time == T0
    assert trip.pnl == pytest.approx(-10.0)
    assert trip.exit_reason == "stop"


def test_adopt_does_not_replace_an_open_round_trip():
    ledger = TripLedger("DT")
    ledger.apply(fill("ENTRY", Side.BUY, 10, 100.0))
    ledger.adopt("SPY", 25, 90.0, T0, OrderRef("DT", "20250703", "SPY", 0, "ENTRY"))
    trip = ledger.open_trip("SPY")
    assert trip is not None and trip.entry_qty == 10 and trip.entry_price == 100.0


def test_adopt_of_no_shares_is_a_no_op():
    ledger = TripLedger("DT")
    ledger.adopt("SPY", 0, 100.0, T0, OrderRef("DT", "20250703", "SPY", 0, "ENTRY"))
    assert ledger.open_trip("SPY") is None


def test_sale_with_no_known_entry_is_not_a_round_trip():
    """After a restart the DB replay may hold the exit of a position adopted earlier (its entry is
    no execution): a round trip with zero cost would report the whole sale as profit."""
    ledger = TripLedger("DT")
    assert ledger.apply(fill("SL", Side.SELL, 10, 99.0, seq=4)) is None
    assert ledger.closed == []
    assert ledger.open_trip("SPY") is None


def test_position_adopted_after_an_unmatched_sale_is_still_tracked():
    ledger = TripLedger("DT")
    ledger.apply(fill("SL", Side.SELL, 4, 99.0, seq=4))  # part sold before the restart
    ledger.adopt("SPY", 6, 100.0, T0, OrderRef("DT", "20250703", "SPY", 0, "ENTRY"))
    trip = ledger.apply(fill("FLAT", Side.SELL, 6, 101.0, seq=5))
    assert trip is not None and trip.entry_qty == 6 and trip.pnl == pytest.approx(6.0)


def test_realized_pnl_is_the_sum_of_the_closed_trips_in_closing_order() -> None:
    """The running sum the risk rules read equals a fresh sum over the closed trips (the same
    float), also after trips were appended from outside."""
    import random

    ledger = TripLedger("DT")
    rng = random.Random(4)
    for seq in range(1, 60):
        symbol = rng.choice(["AAA", "BBB", "CCC"])
        if ledger.open_trip(symbol) is not None:
            continue
        qty = rng.randint(1, 300)
        ref = f"DT-20250703-{symbol}-{seq}"
        ledger.apply(Fill(f"e{seq}", seq, f"{ref}-ENTRY", symbol, Side.BUY, qty,
                          round(rng.uniform(10, 200), 2), T0, 0.35 + rng.random()))
        ledger.apply(Fill(f"x{seq}", seq, f"{ref}-SL", symbol, Side.SELL, qty,
                          round(rng.uniform(10, 200), 2), T0, 0.4 + rng.random()))
        assert ledger.realized_pnl == sum(t.pnl for t in ledger.closed)
    ledger.closed.append(ledger.closed[0])
    assert ledger.realized_pnl == sum(t.pnl for t in ledger.closed)
