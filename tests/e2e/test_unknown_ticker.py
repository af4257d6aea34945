"""A rehearsal catches what the paper account would refuse (issue 21 item 5): the in-process
simulator's synthetic market knows only real tickers, so a watchlist typo is answered as IB
answers it (error 200, no security definition) and the bot stops with one line, exit 2, before
any order. Before, the synthetic market invented bars for `XYZQ` and the bot traded it all day."""

from __future__ import annotations

from tests.e2e.harness import run_bot, sim_namespaces, write_watchlist


def test_a_watchlist_typo_stops_a_simulated_day_as_it_would_stop_a_paper_day(tmp_path):
    watchlist = write_watchlist(tmp_path, ["SPY", "XYZQ"])
    result = run_bot(tmp_path, "--allocation", "0.25", "--sim", "--speed", "4000",
                     "--watchlist", str(watchlist), "--status-port", "0")
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["day_trader.py: error: watchlist symbol(s) XYZQ unknown to the broker (no "
                     "contract): fix the ticker or remove it from the watchlist"], result.stderr
    assert not any((home / "trading_history.db").exists() for home in sim_namespaces(tmp_path))
