"""The manager's decision, shared by the live cycle and the weekly backtest: membership ->
weights -> targets -> the expected turnover and cost of the planned trades."""

from __future__ import annotations

import pytest

from trade.portfolio.analyst import Analysis, Assessment, LLMVerdict
from trade.portfolio.costs import commission
from trade.portfolio.decision import decide, select
from trade.portfolio.universe import PortfolioRules

RULES = PortfolioRules(top_k=2, max_weight=0.45, cash_buffer=0.1, hold_buffer=1,
                       entry_margin=0.5, slippage_bps=5.0)


def _analysis(*rows: tuple[str, float, bool, bool]) -> Analysis:
    assessed = [Assessment(s, {}, None, passed, "", holdable, None, score, score=score)
                for s, score, passed, holdable in rows]
    assessed.sort(key=lambda a: (not a.holdable, -a.score, a.symbol))
    return Analysis(assessed, LLMVerdict("none", "skipped: test", False), {})


def test_a_decision_from_cash_buys_the_members_and_states_its_cost():
    analysis = _analysis(("A", 1.0, True, True), ("B", 0.5, True, True), ("C", 0.2, True, True))
    selection = select(analysis, {}, RULES)
    assert selection.weights == {"A": 0.45, "B": 0.45}
    decision = decide(selection, analysis, {}, {"A": 100.0, "B": 50.0}, 100_000.0, RULES)
    assert [(t.symbol, t.qty, t.planned) for t in decision.targets] == [
        ("A", 450, "BUY"), ("B", 900, "BUY")]
    cost = decision.expected
    assert cost.traded_value == 90_000.0 and cost.turnover == pytest.approx(0.9)
    assert cost.commission == pytest.approx(commission(450, 100.0, "BUY")
                                            + commission(900, 50.0, "BUY"))
    assert cost.slippage == pytest.approx(45.0)
    shown = decision.as_dict()
    assert shown["membership"]["added"] == ["A", "B"]
    assert shown["expected_cost"]["orders"] == 2 and decision.risk is None


def test_an_incumbent_within_the_buffer_stays_and_nothing_is_traded():
    analysis = _analysis(("A", 1.0, True, True), ("C", 0.6, True, True), ("B", 0.5, True, True))
    held = {"A": 450, "B": 900}
    selection = select(analysis, held, RULES)  # B is 3rd <= 2 + 1; C clears it by 0.1 only
    assert selection.membership.members == ["A", "B"]
    decision = decide(selection, analysis, held, {"A": 100.0, "B": 50.0}, 100_000.0, RULES)
    assert all(not t.planned for t in decision.targets)
    assert decision.expected.orders == 0 and decision.expected.turnover == 0.0


def test_a_dropped_name_is_sold_and_its_replacement_bought():
    analysis = _analysis(("A", 1.0, True, True), ("C", 0.9, True, True), ("D", 0.6, True, True),
                         ("B", -1.0, False, False))
    held = {"A": 450, "B": 900}
    selection = select(analysis, held, RULES)
    decision = decide(selection, analysis, held, {"A": 100.0, "B": 50.0, "C": 10.0},
                      100_000.0, RULES)
    planned = {t.symbol: (t.qty, t.planned) for t in decision.targets}
    assert planned == {"A": (450, ""), "B": (0, "SELL"), "C": (4500, "BUY")}
    assert decision.expected.traded_value == 900 * 50.0 + 4500 * 10.0
