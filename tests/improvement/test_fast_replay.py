"""The nightly cycle's replayer is the backtester's fast engine, and it replays exactly as the
event engine (the live trader over the paper broker) does, session for session."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from improvement.after_close import replayer_for
from improvement.fast_replay import BacktestReplayer
from improvement.replay import ReplayConfig
from tests.improvement.conftest import ALLOCATION, DAYS, EQUITY, OVERRIDES, SYMBOLS
from tests.improvement.markets import WaveMarket
from trade.config import load_settings
from trade.models import Params


def test_replayer_for_is_the_fast_engine(tmp_path: Path, wave_market: WaveMarket) -> None:
    watchlist = tmp_path / "watchlist.json"
    watchlist.write_text(json.dumps({"symbols": ["AAA"], "overrides": {"AAA": {"rsi_max": 70}}}))
    settings = load_settings(cli={"allocation": 0.5, "watchlist_path": watchlist},
                             env={}, dotenv_path=None)
    replayer = replayer_for(settings, wave_market, 0.5, EQUITY)
    assert isinstance(replayer, BacktestReplayer) and replayer.engine == "fast"
    assert replayer.overrides == {"AAA": {"rsi_max": 70.0}}
    assert replayer.config.daily_loss_pct == settings.daily_loss_cap_pct / 100.0


def test_fast_replay_equals_the_event_engine_and_ranks_the_better_target(
    wave_market: WaveMarket,
) -> None:
    config = ReplayConfig(allocation=ALLOCATION, equity=EQUITY)
    fast = BacktestReplayer(wave_market, SYMBOLS, config, OVERRIDES)
    event = BacktestReplayer(wave_market, SYMBOLS, config, OVERRIDES, engine="event")
    days = fast.sessions(date(2026, 2, 18), 4)
    assert days == [d for d in DAYS if d <= date(2026, 2, 18)][-4:]
    for params in (Params(), Params(profit_target=0.02)):
        a, b = fast.replay(params, days), event.replay(params, days)
        assert a == b
        assert all(day.trades for day in a.days)
    wider = fast.replay(Params(profit_target=0.02), days)
    assert sum(p for _, p in wider.daily_pnl) > sum(p for _, p in fast.replay(Params(), days).daily_pnl)
