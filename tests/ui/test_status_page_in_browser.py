"""`day_trader.py --sim` with its status page, driven in headless Chromium as a person would: the
page shows positions and decisions and follows the bars; a request without the token changes
nothing; Pause stops new entries; Flatten leaves the book flat; every action is in the run log."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import DATA, PYTHON, bot_env, write_watchlist
from tests.paths import REPO
from tests.ui.browser import image_stats, save_for_docs


def _trader_offers_controls() -> bool:
    from trade.intraday.trader import IntradayTrader

    return all(hasattr(IntradayTrader, name) for name in
               ("status_snapshot", "pause_entries", "resume_entries", "flatten_now"))


pytestmark = [
    pytest.mark.e2e, pytest.mark.slow,
    pytest.mark.skipif(not _trader_offers_controls(),
                       reason="IntradayTrader does not offer the TraderControls surface "
                              "(ui.status.controls) yet: nothing for the page to drive"),
]

DAY = "2026-02-27"
OVERRIDES = {"SPY": {"atr_min_pct": 0.0003, "atr_timeframe": "1 min"},
             "NVDA": {"atr_min_pct": 0.0008, "atr_timeframe": "1 min"},
             "COIN": {"atr_min_pct": 0.0015, "atr_timeframe": "1 min"}}
_STATUS_LINE = re.compile(r"status page on (http://127\.0\.0\.1:\d+/) .*: (\S+)$")


class Bot:
    """The day trader as a subprocess; stdout lines collected by a thread, stderr to a file."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.err_path = workdir / "bot.err"
        self._err = self.err_path.open("w")
        self.process = subprocess.Popen(
            [PYTHON, str(REPO / "day_trader.py"), *args], cwd=workdir, env=bot_env(workdir),
            stdout=subprocess.PIPE, stderr=self._err, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if (match := pattern.search(line)) is not None:
                    return match
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern.pattern!r}: {self.lines[-5:]} "
                             f"{self.err_path.read_text()[-2000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._reader.join(5)
            self._err.close()
        return code


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _api(url: str, action: str | None = None, token: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url + ("api/status" if action is None else f"api/{action}"),
                                     method="GET" if action is None else "POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _market_time(snapshot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(snapshot["time"])


def _entries_since(db: Path, since: datetime) -> list[str]:
    """ENTRY intents the bot recorded at or after `since` (read-only: the bot owns the file)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT order_ref, created_time FROM order_intents "
                            "WHERE order_ref LIKE '%-ENTRY'").fetchall()
    return [ref for ref, created in rows if datetime.fromisoformat(created) >= since]


def _net_shares(db: Path) -> dict[str, float]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT symbol, SUM(CASE side WHEN 'BUY' THEN qty ELSE -qty END) "
                            "FROM executions GROUP BY symbol").fetchall()
    return {symbol: qty for symbol, qty in rows}


def _text(browser: Any, element_id: str) -> str:
    """An element's shown text, read in one script call: the page redraws its parts on every
    update, so a WebElement handle can go stale between finding it and reading it."""
    return str(browser.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText.trim() : '';",
        element_id))


def _rows(browser: Any, table: str) -> list[list[str]]:
    """The table's rows as cell texts, taken atomically in the page (see `_text`)."""
    return list(browser.execute_script(
        "return Array.from(document.querySelectorAll(`#${arguments[0]} tbody tr`))"
        ".map(r => Array.from(r.querySelectorAll('td')).map(c => c.innerText.trim()));", table))


def test_the_status_page_shows_and_steers_a_running_day_trader(browser: Any, tmp_path: Path) -> None:
    watchlist = write_watchlist(tmp_path, list(OVERRIDES), OVERRIDES)
    db = tmp_path / "sim.db"
    port = _free_port()
    bot = Bot(tmp_path, "--allocation", "0.25", "--sim", "--sim-data", str(DATA), "--sim-date", DAY,
              "--speed", "240", "--watchlist", str(watchlist), "--db", str(db), "--no-improve",
              "--status-port", str(port))
    try:
        url, token = bot.wait_for_line(_STATUS_LINE, 90).groups()
        token_file = tmp_path / "logs" / f"status_token_{port}"  # named per port: two bots
        assert token_file.read_text().strip() == token and token_file.stat().st_mode & 0o077 == 0

        # -- the page shows positions (with their exits at the broker) and the last decisions ----
        browser.get(f"{url}#token={token}")
        # taken out of the address bar by the page's first script (CI once read the address
        # before the browser reported the replaced one)
        _until(lambda: "token" not in browser.current_url, 10, "the token out of the address bar")
        _until(lambda: _rows(browser, "positions"), 60, "a position on the page")
        position = " ".join(_rows(browser, "positions")[0])
        assert re.search(r"stop \d+\.\d\d", position), position  # its stop at the broker
        _until(lambda: len(_rows(browser, "decisions")) == len(OVERRIDES), 30, "a decision per symbol")
        assert all(row[3] for row in _rows(browser, "decisions"))
        assert _text(browser, "connection") == "IB connected"

        # -- it follows the bars without a reload -----------------------------------------------
        first_clock, first_updates = _text(browser, "clock"), int(browser.find_element(
            "tag name", "body").get_attribute("data-updates"))
        _until(lambda: _text(browser, "clock") != first_clock, 20, "the market clock to move")
        later = {row[0]: row[1] for row in _rows(browser, "decisions")}
        _until(lambda: int(browser.find_element("tag name", "body").get_attribute("data-updates"))
               > first_updates + 2, 20, "several live updates")
        _until(lambda: {row[0]: row[1] for row in _rows(browser, "decisions")} != later, 20,
               "newer decisions")
        _assert_page_drawn(browser)
        save_for_docs(browser, "status_page.png")

        # -- without the token nothing changes ----------------------------------------------------
        for action in ("pause", "flatten", "resume"):
            for wrong in (None, "not-the-token", token[:-1]):
                status, body = _api(url, action, wrong)
                assert status == 401 and "token" in body["error"]
        browser.find_element("id", "token").clear()
        browser.find_element("id", "token").send_keys("not-the-token")
        browser.find_element("id", "pause").click()
        _until(lambda: "refused (401)" in _text(browser, "message"), 10, "the page to say 401")
        status, snapshot = _api(url)
        assert snapshot["entries_paused"] is None and snapshot["flattening"] is False
        assert _text(browser, "entries") == "entries open"
        browser.find_element("id", "token").clear()
        browser.find_element("id", "token").send_keys(token)

        # -- Pause stops new entries --------------------------------------------------------------
        assert _entries_since(db, datetime(2000, 1, 1).astimezone()), "entries before the pause"
        browser.find_element("id", "pause").click()
        _until(lambda: _text(browser, "entries").startswith("entries paused")
               and "status page" in _text(browser, "entries"), 10, "the pause")
        paused_at = _market_time(_api(url)[1])
        _until(lambda: _market_time(_api(url)[1]) >= paused_at + timedelta(minutes=30), 60,
               "30 market minutes while paused")
        assert _entries_since(db, paused_at) == []

        # -- Resume lets it enter again, then Flatten leaves the book flat -------------------------
        browser.find_element("id", "resume").click()
        _until(lambda: _text(browser, "entries") == "entries open", 10, "the resume")
        resumed_at = _market_time(_api(url)[1])
        _until(lambda: _entries_since(db, resumed_at) and _api(url)[1]["positions"], 90,
               "a new entry after the resume")
        browser.find_element("id", "flatten").click()
        browser.switch_to.alert.accept()  # "Flatten now? ..."
        _until(lambda: "flatten: flatten started" in _text(browser, "message"), 10, "the flatten")
        flat = _until(lambda: (s := _api(url)[1]) and s["flat_at"] and not s["positions"]
                      and not s["working_orders"] and s, 60, "a flat book")
        assert flat["entries_paused"], "no new entries after a flatten until resumed"
        assert all(qty == 0 for qty in _net_shares(db).values()), _net_shares(db)
        assert flat["realized_pnl"] == pytest.approx(sum(t["pnl"] for t in flat["trades"]), abs=0.05)
        _until(lambda: not _rows(browser, "positions"), 10, "the page to show no positions")
        assert "flatten" in [t["exit_reason"] for t in flat["trades"]]
    finally:
        code = bot.stop()
    assert code == 0, bot.err_path.read_text()[-3000:]

    [log_path] = (tmp_path / "logs").rglob(f"day_trader_run_{DAY}*.json")
    actions = json.loads(log_path.read_text())["control_actions"]
    assert [(a["action"], a["result"]) for a in actions] == [
        ("pause", "entries paused"), ("resume", "entries resumed"),
        ("flatten", "flatten started"), ("flatten", "flatten finished")]
    assert all(a["by"] == "status page" and a["time"].startswith(DAY) for a in actions)
    assert token not in bot.err_path.read_text() + log_path.read_text()  # shown once, on the console


def _assert_page_drawn(browser: Any) -> None:
    stats = image_stats(browser, browser.get_screenshot_as_png())
    assert stats.get("colors", 0) >= 100 and stats.get("ink", 0) >= 0.05, stats
