"""What the day trader collects after the close, over the real IB adapter against the Gateway
simulator on loopback: SPY is qualified before its daily history is asked (outside `--sim` the
regime asked for an unqualified SPY: "not qualified", stale data, `unknown` every night), and on
a real account the recent 1-minute history is fetched, cached in the history DB and replayed
from there; a window the data cannot fill is reported and decides nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from improvement.fast_replay import BacktestReplayer
from improvement.gate import GateSettings, replay_window
from improvement.live_data import Fetched, RecordedBars, fetch_history, store_history
from improvement.nightly import collect_after_close
from improvement.regime import classify
from improvement.replay import ReplayConfig
from observability.history import HistoryDB
from trade.ib.broker import IBBroker
from trade.ib.connection import IBConnection
from trade.intraday.run_log import RunLog

DAY = date(2019, 2, 13)  # the gateway fixture's session (SPY, QQQ, MSFT from the shared data)


async def _broker(gateway: Any) -> tuple[IBConnection, IBBroker]:
    connection = IBConnection("127.0.0.1", gateway.port, 5, connect_timeout=2)
    await connection.connect()
    broker = IBBroker(connection)
    await broker.start()
    return connection, broker


async def test_the_regime_symbol_is_qualified_before_its_history_is_asked(gateway: Any) -> None:
    connection, broker = await _broker(gateway)
    try:
        assert await broker.qualify(["QQQ"]) == {"QQQ": True}  # the day's watchlist only
        run_log = RunLog(DAY, 0.5, {}, watchlist={"kept": [{"symbol": "QQQ"}], "dropped": []})
        collected = await collect_after_close(broker, run_log)
    finally:
        await connection.close()
    bars = collected["regime_bars"]
    assert len(bars) > 400 and bars[-1].start.date() == date(2019, 2, 12)
    assert classify(bars, date(2019, 2, 12)).name != "unknown"
    assert collected["simulated"] and collected["history"] == Fetched()  # sim: its data folder


async def test_live_history_is_cached_in_the_db_and_a_short_window_is_reported(
    gateway: Any, tmp_path: Path
) -> None:
    connection, broker = await _broker(gateway)
    try:
        fetched = await fetch_history(broker, ["QQQ", "NOPE"])
    finally:
        await connection.close()
    assert set(fetched.minutes) == set(fetched.daily) == {"QQQ"}  # an unknown one is skipped
    minutes = fetched.minutes
    db = tmp_path / "history.db"
    assert store_history(db, minutes) == len(minutes["QQQ"]) == 2 * 390  # all the data holds
    assert store_history(db, minutes) == len(minutes["QQQ"])  # idempotent: upserted
    with HistoryDB.open(db) as h:
        assert len(h.minute_bars(date(2019, 2, 12), "QQQ")) == 390
    source = RecordedBars.window(db, ["QQQ"], date(2019, 2, 12), daily=fetched.daily)
    assert source.sessions("QQQ") == [date(2019, 2, 11), date(2019, 2, 12)]
    daily = source.daily_bars("QQQ")  # the broker's year of daily bars for the ATR screen
    assert len(daily) > 200 and daily[-1].start.date() == date(2019, 2, 12)
    assert [b.start.date() for b in RecordedBars.window(db, ["QQQ"], date(2019, 2, 12))
            .daily_bars("QQQ")] == source.sessions("QQQ")  # without: the stored sessions
    replayer = BacktestReplayer(source, ["QQQ"], ReplayConfig(allocation=0.5))
    window = replay_window(replayer, date(2019, 2, 12), GateSettings())
    assert window.coverage == "2 of 20 sessions" and window.problem is not None
    assert window.problem.startswith("not validated: replay data for 2 of 20 sessions "
                                     "2019-01-15..2019-02-12")


def test_a_half_recorded_session_is_not_replayed(tmp_path: Path) -> None:
    """The bot started late: a session with a third of its minutes is a hole, not a session."""
    from sim.market.bar_sources import CsvBarSource
    from tests.paths import DATA

    bars = CsvBarSource(DATA, ["QQQ"]).session_bars("QQQ", date(2019, 2, 12))
    store_history(tmp_path / "h.db", {"QQQ": bars[:130]})
    assert RecordedBars.window(tmp_path / "h.db", ["QQQ"], date(2019, 2, 12)).sessions("QQQ") == []
    store_history(tmp_path / "h.db", {"QQQ": bars})
    assert RecordedBars.window(tmp_path / "h.db", ["QQQ"], date(2019, 2, 12)).sessions("QQQ") == [
        date(2019, 2, 12)]


def test_a_live_night_replays_the_db_cache_not_the_data_folder(tmp_path: Path) -> None:
    """Outside --sim the replay data is the history DB's cache (what IB gave tonight plus
    earlier nights and the bot's own bars); MARKET_DATA_DIR is for simulated runs only."""
    from improvement.nightly import replay_source
    from sim.market.bar_sources import CsvBarSource
    from tests.paths import DATA
    from trade.config import load_settings

    watchlist = tmp_path / "watchlist.json"
    watchlist.write_text('{"symbols": ["QQQ"]}')
    settings = load_settings(cli={"allocation": 0.5, "db_path": tmp_path / "live.db",
                                  "watchlist_path": watchlist, "market_data_dir": DATA},
                             env={}, dotenv_path=None)
    assert not settings.sim
    bars = CsvBarSource(DATA, ["QQQ"]).session_bars("QQQ", date(2019, 2, 12))
    source, said = replay_source(settings, date(2019, 2, 12),
                                 {"history": Fetched(minutes={"QQQ": bars})}, sim_date=None,
                                 sim_seed=7)
    assert isinstance(source, RecordedBars) and source.sessions("QQQ") == [date(2019, 2, 12)]
    assert said == (f"the bot's recorded minute bars and IB history in {tmp_path / 'live.db'} "
                    "(390 bars fetched tonight)")
