"""`python -m sim.backtest`: bad input is one line and exit 2; the JSON is byte-identical for any
worker count, and the two engines write the same document (but for the engine's name); the
tearsheet draws it; a progress bar appears only on a terminal."""

from __future__ import annotations

import io
import json
from contextlib import nullcontext
from pathlib import Path

import pytest

from sim.backtest.cli import main
from sim.backtest.progress import Progress
from tests.paths import DATA
from ui.tearsheet import build_tearsheet

RANGE = ["--from", "2026-02-12", "--to", "2026-02-13"]
SYMBOLS = ["--symbols", "SOXL", "IONQ", "NVDA"]


def _fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m sim.backtest: error: "), err
    return err


@pytest.mark.parametrize(("argv", "says"), [
    (["--symbols", "SPY", "--to", "2025-07-03"], "--from is required"),
    (["--symbols", "SPY", "--from", "2025-07-03"], "--to is required"),
    (["--symbols", "SPY", "--from", "2025-7-3", "--to", "2025-07-03"], "--from 2025-7-3 is invalid"),
    (["--symbols", "ZZZZ", "--from", "2025-07-01", "--to", "2025-07-03"], "unknown symbol ZZZZ"),
    (["--symbols", "SPY", "--from", "2025-07-05", "--to", "2025-07-06"], "no NYSE session"),
    (["--symbols", "SPY", "--from", "2025-07-03", "--to", "2025-07-01"], "before --from"),
    (["--symbols", "NVDA", "--from", "2019-01-01", "--to", "2019-01-31"], "no session between"),
    (["--symbols", "SPY", "SPY", *RANGE], "listed twice"),
    (["--symbols", "SPY", *RANGE, "--allocation", "2"], "--allocation"),
    (["--symbols", "SPY", *RANGE, "--engine", "turbo"], "--engine"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          says: str) -> None:
    with pytest.raises(SystemExit) if "--engine" in argv or "required" in says \
            or "invalid" in says else nullcontext():
        assert main([*argv, "--data", str(DATA)]) == 2
    assert says in capsys.readouterr().err


def test_without_a_data_directory_the_backtest_names_the_flag_and_the_variable(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.delenv("MARKET_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    err = _fails(capsys, *SYMBOLS, *RANGE)
    assert "no market data directory: pass --data DIR (or --seed N) or set MARKET_DATA_DIR" in err
    monkeypatch.setenv("MARKET_DATA_DIR", str(DATA))
    assert "unknown symbol ZZZZ" in _fails(capsys, "--symbols", "ZZZZ", *RANGE)  # read from there


def test_bad_params_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"profit_target": "high"}')
    err = _fails(capsys, *SYMBOLS, *RANGE, "--data", str(DATA), "--params", str(bad))
    assert "profit_target" in err
    missing = _fails(capsys, *SYMBOLS, *RANGE, "--data", str(DATA), "--params",
                     str(tmp_path / "none.json"))
    assert "not found" in missing


def _run(tmp_path: Path, name: str, *extra: str) -> str:
    out = tmp_path / f"{name}.json"
    assert main([*SYMBOLS, *RANGE, "--data", str(DATA), "--json", str(out), *extra]) == 0
    return out.read_text()


def test_json_is_byte_identical_for_any_worker_count_and_both_engines(tmp_path: Path) -> None:
    fast_1 = _run(tmp_path, "fast1", "--workers", "1")
    fast_2 = _run(tmp_path, "fast2", "--workers", "2")
    event_1 = _run(tmp_path, "event1", "--workers", "1", "--engine", "event")
    event_2 = _run(tmp_path, "event2", "--workers", "2", "--engine", "event")
    assert fast_1 == fast_2
    assert event_1 == event_2
    assert event_1.replace('"engine": "event"', '"engine": "fast"') == fast_1
    document = json.loads(fast_1)
    assert document["kind"] == "backtest" and document["engine"] == "fast"
    assert [d["date"] for d in document["days"]] == ["2026-02-12", "2026-02-13"]
    assert document["trades"] and document["metrics"]["trades"] == len(document["trades"])
    assert set(document["trades"][0]) == {"date", "symbol", "qty", "entry_time", "entry_price",
                                          "exit_time", "exit_price", "exit_reason", "pnl",
                                          "commission"}
    html = build_tearsheet(tmp_path / "fast1.json", tmp_path / "fast1.html")
    assert "SOXL" in html.read_text()


def test_synthetic_sessions_and_the_summary_on_screen(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seed", "7", "--symbols", "AAA", "BBB", "--from", "2025-03-03", "--to",
                 "2025-03-05", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backtest (fast engine): 3 sessions 2025-03-03 to 2025-03-05, 2 symbols")
    assert "net pnl" in out and "sharpe" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    piped, terminal = io.StringIO(), _Terminal()
    for stream in (piped, terminal):
        bar = Progress(3, "backtest", stream=stream, min_interval_s=0.0)
        for _ in range(3):
            bar.advance()
    assert piped.getvalue() == ""
    assert terminal.getvalue().endswith("3/3" + terminal.getvalue().split("3/3")[-1])
    assert "[##############################] 3/3" in terminal.getvalue()
