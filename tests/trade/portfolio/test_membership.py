"""Membership hysteresis: a held name keeps its seat within top K + buffer, a new name needs an
empty seat or a margin over the weakest member; with no buffer and no margin it is the plain
top K of the passing names."""

from __future__ import annotations

import random

import pytest

from trade.portfolio.membership import Ranked, choose
from trade.portfolio.universe import PortfolioRules

RULES = PortfolioRules(top_k=3, hold_buffer=2, entry_margin=0.5)


def _ranked(*rows: tuple[str, float] | tuple[str, float, bool, bool]) -> list[Ranked]:
    out = []
    for row in rows:
        symbol, score = row[0], row[1]
        passed, holdable = (row[2], row[3]) if len(row) == 4 else (True, True)
        out.append(Ranked(symbol, score, passed, holdable))
    return sorted(out, key=lambda r: (not r.holdable, -r.score, r.symbol))


def test_a_held_name_that_slips_within_the_buffer_is_kept():
    ranked = _ranked(("A", 2.0), ("B", 1.5), ("C", 1.2), ("D", 1.0), ("E", 0.9), ("F", 0.1))
    chosen = choose(ranked, {"A", "B", "E"}, RULES)  # E is 5th <= 3 + 2
    assert chosen.members == ["A", "B", "E"] and chosen.added == [] and chosen.dropped == []
    assert chosen.reasons["E"] == "kept: rank 5 <= 5"


def test_beyond_the_buffer_it_is_dropped_and_the_best_new_name_takes_the_seat():
    ranked = _ranked(("A", 2.0), ("B", 1.5), ("C", 1.2), ("D", 1.0), ("E", 0.9), ("F", 0.1))
    chosen = choose(ranked, {"A", "B", "F"}, RULES)
    assert chosen.members == ["A", "B", "C"]
    assert chosen.added == ["C"] and chosen.dropped == ["F"]
    assert chosen.reasons["F"].startswith("dropped: rank 6 of the eligible names is beyond")
    assert chosen.reasons["C"] == "added: rank 3, fills an empty slot"


def test_a_challenger_displaces_the_weakest_member_only_by_the_margin():
    held = {"A", "B", "E"}
    close = _ranked(("C", 1.3), ("A", 2.0), ("B", 1.5), ("E", 0.9))  # C beats E by 0.4
    assert choose(close, held, RULES).members == ["A", "B", "E"]
    clear = _ranked(("C", 1.5), ("A", 2.0), ("B", 1.6), ("E", 0.9))  # by 0.6
    chosen = choose(clear, held, RULES)
    assert chosen.members == ["A", "B", "C"] and chosen.dropped == ["E"]
    assert chosen.reasons["E"] == "dropped: displaced by C (score margin)"
    assert "clears the weakest member E (+0.90) by >= 0.5" in chosen.reasons["C"]


def test_the_filters_two_thresholds():
    # H fails the entry filter but may be held; N neither
    ranked = _ranked(("A", 2.0), ("H", 1.8, False, True), ("N", 1.7, False, False),
                     ("B", 1.0))
    assert choose(ranked, {"H", "N"}, RULES).members == ["A", "H", "B"]  # best score first
    fresh = choose(ranked, set(), RULES)
    assert fresh.members == ["A", "B"]  # H may not enter: a seat stays empty (cash)
    dropped = choose(ranked, {"N"}, RULES)
    assert dropped.reasons["N"] == "dropped: failed the filter for held names"


def test_a_held_name_screened_out_is_dropped():
    chosen = choose(_ranked(("A", 1.0)), {"GONE"}, RULES)
    assert chosen.dropped == ["GONE"]
    assert chosen.reasons["GONE"] == "dropped: not a candidate this cycle (screened out)"


def test_more_held_names_than_seats_keep_the_best():
    small = PortfolioRules(top_k=2, hold_buffer=3, entry_margin=0.5)
    chosen = choose(_ranked(("A", 2.0), ("B", 1.0), ("C", 0.5)), {"A", "B", "C"}, small)
    assert chosen.members == ["A", "B"]
    assert chosen.reasons["C"] == "dropped: 2 better-ranked held names fill the book"


@pytest.mark.parametrize("seed", range(20))
def test_without_buffer_and_margin_it_is_the_plain_top_k_of_the_passing_names(seed):
    rng = random.Random(seed)
    plain = PortfolioRules(top_k=5, hold_buffer=0, entry_margin=0.0)
    rows = [Ranked(f"S{i}", rng.gauss(0, 1), ok, ok) for i in range(15)
            for ok in [rng.random() < 0.7]]
    ranked = sorted(rows, key=lambda r: (not r.holdable, -r.score, r.symbol))
    held = {r.symbol for r in rng.sample(rows, 5)}
    expected = [r.symbol for r in ranked if r.passed][:5]
    assert choose(ranked, held, plain).members == expected
