"""Watchlist loading (one-line errors naming the field and the fix), the analyst's judge, and
analyze_watchlist against the in-process paper broker over real data."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sim.engine.exchange import MatchingEngine
from sim.market.bar_sources import CsvBarSource
from sim.market.clock import ReplayClock
from sim.market.replay import MarketReplay
from sim.paper_broker import PaperBroker
from tests.paths import DATA
from trade.models import Bar, Params
from trade.watchlist import AnalystRules, WatchlistError, analyze_watchlist, judge, load_watchlist

NY = ZoneInfo("America/New_York")


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "watchlist.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def error_for(tmp_path: Path, content: object) -> str:
    with pytest.raises(WatchlistError) as info:
        load_watchlist(write(tmp_path, content), Params())
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_watchlist_gives_every_symbol_its_effective_params(tmp_path: Path):
    defaults = Params()
    wl = load_watchlist(write(tmp_path, {"symbols": ["SPY", "BRK.B"],
                                         "overrides": {"SPY": {"profit_target": 0.02}}}), defaults)
    assert wl.symbols == ("SPY", "BRK.B")
    assert wl.params_for("SPY").profit_target == 0.02
    assert wl.params_for("SPY").stop_loss == defaults.stop_loss
    assert wl.params_for("BRK.B") == defaults


def test_missing_file_names_the_option_to_fix_it(tmp_path: Path):
    with pytest.raises(WatchlistError, match="not found.*--watchlist"):
        load_watchlist(tmp_path / "nope.json", Params())


def test_bad_json_names_line_and_column(tmp_path: Path):
    assert "not valid JSON (line 1, column" in error_for(tmp_path, '{"symbols": [}')


def test_missing_symbols_key_is_an_error(tmp_path: Path):
    assert 'needs a "symbols" list' in error_for(tmp_path, {"overrides": {}})


def test_top_level_list_is_an_error(tmp_path: Path):
    assert 'needs a "symbols" list' in error_for(tmp_path, ["SPY"])


def test_empty_symbols_is_an_error(tmp_path: Path):
    assert "non-empty list" in error_for(tmp_path, {"symbols": []})


def test_symbols_as_a_string_is_an_error(tmp_path: Path):
    assert "non-empty list" in error_for(tmp_path, {"symbols": "SPY"})


def test_duplicate_symbol_is_named(tmp_path: Path):
    assert "SPY is listed twice" in error_for(tmp_path, {"symbols": ["SPY", "AAPL", "SPY"]})


@pytest.mark.parametrize("bad", ["spy", "", "1ABC", "TOO-LONG", "ABCDEFGHIJK", 42, None])
def test_malformed_ticker_is_named_by_index(tmp_path: Path, bad: object):
    message = error_for(tmp_path, {"symbols": ["SPY", bad]})
    assert "symbols[1]" in message and "is not a ticker" in message


def test_unknown_top_level_key_is_named(tmp_path: Path):
    assert "unknown key(s) ['symbol']" in error_for(tmp_path, {"symbols": ["SPY"], "symbol": "X"})


def test_override_for_a_symbol_not_listed_is_named(tmp_path: Path):
    message = error_for(tmp_path, {"symbols": ["SPY"], "overrides": {"AAPL": {"rsi_max": 50}}})
    assert "overrides.AAPL is not in symbols" in message


def test_override_of_an_unknown_parameter_is_named(tmp_path: Path):
    message = error_for(tmp_path, {"symbols": ["SPY"], "overrides": {"SPY": {"target": 0.02}}})
    assert "overrides.SPY" in message and "unknown parameter 'target'" in message


@pytest.mark.parametrize(("name", "value"), [("profit_target", "0.02"), ("vwap_period", 20.5),
                                             ("rsi_max", True)])
def test_override_of_the_wrong_type_is_named(tmp_path: Path, name: str, value: object):
    message = error_for(tmp_path, {"symbols": ["SPY"], "overrides": {"SPY": {name: value}}})
    assert f"overrides.SPY: parameter '{name}'" in message


def test_override_out_of_range_is_named(tmp_path: Path):
    message = error_for(tmp_path, {"symbols": ["SPY"], "overrides": {"SPY": {"stop_loss": 2}}})
    assert "overrides.SPY: Params.stop_loss=2.0 is invalid" in message


def test_overrides_that_are_not_an_object_are_an_error(tmp_path: Path):
    assert '"overrides" must be an object' in error_for(tmp_path, {"symbols": ["SPY"], "overrides": []})


def test_override_values_that_are_not_an_object_are_an_error(tmp_path: Path):
    message = error_for(tmp_path, {"symbols": ["SPY"], "overrides": {"SPY": 0.02}})
    assert "overrides.SPY must be an object" in message


# -- judge ------------------------------------------------------------------------------------

def day_bars(day: date, price: float, low: float, high: float, volume: float, n: int = 30) -> list[Bar]:
    start = datetime(day.year, day.month, day.day, 9, 30, tzinfo=NY)
    return [Bar("XYZ", start + timedelta(minutes=i), price, high, low, price, volume) for i in range(n)]


RULES = AnalystRules(min_sessions=2, min_avg_dollar_volume=1_000_000.0, min_daily_range_pct=0.004)


def test_judge_keeps_a_liquid_symbol_with_enough_range():
    bars = day_bars(date(2025, 7, 1), 100, 99.5, 100.5, 1000) + day_bars(date(2025, 7, 2), 100, 99.5, 100.5, 1000)
    verdict = judge("XYZ", bars, RULES)
    assert verdict.kept and verdict.reason.startswith("kept")
    assert verdict.stats["sessions"] == 2.0
    assert verdict.stats["avg_dollar_volume"] == pytest.approx(30 * 100 * 1000)
    assert verdict.stats["avg_range_pct"] == pytest.approx(0.01)


def test_judge_drops_a_symbol_with_too_few_sessions():
    verdict = judge("XYZ", day_bars(date(2025, 7, 1), 100, 99, 101, 1000), RULES)
    assert not verdict.kept and "1 recent sessions" in verdict.reason


def test_judge_drops_a_symbol_with_no_bars():
    assert not judge("XYZ", [], AnalystRules()).kept


def test_judge_drops_an_illiquid_symbol():
    bars = day_bars(date(2025, 7, 1), 100, 99, 101, 300) + day_bars(date(2025, 7, 2), 100, 99, 101, 300)
    verdict = judge("XYZ", bars, RULES)  # 30 x 100 x 300 = 900k < 1M
    assert not verdict.kept and "dollar volume" in verdict.reason


def test_judge_dollar_volume_exactly_at_the_threshold_is_kept():
    bars = day_bars(date(2025, 7, 1), 100, 99, 101, 1000 / 3) + day_bars(date(2025, 7, 2), 100, 99, 101, 1000 / 3)
    assert judge("XYZ", bars, RULES).kept


def test_judge_drops_a_symbol_whose_range_is_too_narrow():
    bars = day_bars(date(2025, 7, 1), 100, 99.9, 100.1, 1000) + day_bars(date(2025, 7, 2), 100, 99.9, 100.1, 1000)
    verdict = judge("XYZ", bars, RULES)  # 0.2% < 0.4%
    assert not verdict.kept and "daily range" in verdict.reason


# -- analyze_watchlist over the paper broker -----------------------------------------------------



def paper_broker(day: date, symbols: list[str]) -> PaperBroker:
    replay = MarketReplay(CsvBarSource(DATA), ReplayClock(datetime(day.year, day.month, day.day, 9, 0,
                                                                   tzinfo=NY)), day, symbols)
    return PaperBroker(MatchingEngine(replay, cash=100_000.0))


async def test_analyze_watchlist_raises_for_a_symbol_the_broker_does_not_know():
    broker = paper_broker(date(2025, 7, 3), ["SPY"])
    with pytest.raises(WatchlistError, match="ZZZZ unknown to the broker"):
        await analyze_watchlist(broker, ("SPY", "ZZZZ"))


async def test_analyze_watchlist_judges_each_symbol_on_recent_history():
    broker = paper_broker(date(2025, 7, 3), ["SPY"])
    verdicts = await analyze_watchlist(broker, ("SPY",), AnalystRules(min_sessions=1),
                                       params={"SPY": Params(atr_timeframe="1 min")})
    assert [v.symbol for v in verdicts] == ["SPY"]
    assert verdicts[0].kept, verdicts[0].reason
    assert verdicts[0].bars and all(b.end <= broker.now() for b in verdicts[0].bars)
