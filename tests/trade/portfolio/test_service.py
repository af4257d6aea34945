"""What main.py runs: the LLM choice by market state, and the day's record for the schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime

from observability.history import HistoryDB
from observability.schema import WeeklyCycleRow
from trade.portfolio.service import DayMemory, llm_chooser

ENV = {"DEEPSEEK_API_KEY": "sk-test-0123456789abcdefghijk", "LOCAL_LLM_BASE_URL":
       "http://127.0.0.1:11434/v1", "LOCAL_LLM_MODEL": "qwen2.5"}


def test_a_local_llm_while_the_market_is_closed_deepseek_while_it_is_open():
    choose = llm_chooser(ENV, force_online=False)
    closed, _ = choose(False)
    opened, _ = choose(True)
    assert closed is not None and closed.label == "local:qwen2.5"
    assert opened is not None and opened.label == "deepseek:deepseek-chat"
    forced, _ = llm_chooser(ENV, force_online=True)(False)
    assert forced is not None and forced.provider == "deepseek"


def test_without_the_chosen_llm_the_reason_says_what_is_missing():
    choose = llm_chooser({}, force_online=False)
    assert choose(False) == (None, "market closed and no LOCAL_LLM_BASE_URL set "
                                   "(--force-online uses DeepSeek)")
    assert choose(True) == (None, "no DEEPSEEK_API_KEY set")
    assert llm_chooser({}, force_online=True)(False) == (
        None, "no DEEPSEEK_API_KEY set (--force-online)")


def test_the_day_record_comes_from_the_db_or_for_dry_runs_from_memory(tmp_path):
    day = date(2026, 11, 9)
    when = datetime(2026, 11, 9, 15, 5, tzinfo=UTC)
    with HistoryDB.open(tmp_path / "h.db") as db:
        memory = DayMemory(db, dry_run=False)
        assert memory.record(day).cycle_status is None
        db.record_weekly_cycle(WeeklyCycleRow(day, "trading", 0.5, 1e4, when), [])
        assert memory.record(day).cycle_status == "trading"
        dry = DayMemory(db, dry_run=True)
        assert dry.record(day).cycle_status is None  # a dry run never reads real cycles
        dry.remember(day, "done", when)
        assert (dry.record(day).cycle_status, dry.record(day).last_run_end) == ("done", when)
