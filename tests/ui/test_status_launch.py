"""Starting the status page: the token shown once and kept in a 0600 file, a port in use is one
line (trading goes on), and a non-loopback bind refused without an explicit flag and a token file."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.paths import REPO
from tests.ui.fake_trader import FakeTrader
from ui.status.config import StatusPageConfig, check_config
from ui.status.launch import StatusPage
from ui.status.token import TokenFileError, read_token, write_token

GOOD_TOKEN = "provisioned-token-0123456789abcdefghij"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_token_is_shown_once_saved_owner_only_and_new_each_start(tmp_path: Path) -> None:
    token_file = tmp_path / "logs" / "status_token"
    tokens = []
    for _ in range(2):
        lines: list[str] = []
        page = StatusPage(StatusPageConfig(_free_port(), token_file=token_file), lines.append)
        server = await page.start(FakeTrader())
        assert server is not None
        await page.stop()
        [line] = lines
        token = token_file.read_text().strip()
        assert line.startswith(f"status page on http://127.0.0.1:{server.port}/")
        assert line.count(token) == 1 and len(token) >= 32
        assert _mode(token_file) == 0o600
        tokens.append(token)
    assert tokens[0] != tokens[1]


async def test_an_existing_token_file_with_loose_mode_is_tightened_when_rewritten(tmp_path: Path) -> None:
    token_file = tmp_path / "status_token"
    token_file.write_text("old")
    token_file.chmod(0o644)
    write_token(token_file, "new-token")
    assert _mode(token_file) == 0o600 and token_file.read_text() == "new-token\n"


async def test_a_port_in_use_is_one_line_and_no_server(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        lines: list[str] = []
        page = StatusPage(StatusPageConfig(port, token_file=tmp_path / "t"), lines.append)
        assert await page.start(FakeTrader()) is None
        await page.stop()
    assert lines == [f"status page not started: 127.0.0.1:{port} is in use; trading continues "
                     "(pick another --status-port, or 0 for none)"]


async def test_port_zero_means_no_page(tmp_path: Path) -> None:
    lines: list[str] = []
    page = StatusPage(StatusPageConfig(0, token_file=tmp_path / "t"), lines.append)
    assert await page.start(FakeTrader()) is None
    assert lines == [] and not (tmp_path / "t").exists()


async def test_a_provisioned_token_is_used_and_never_printed(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    write_token(token_file, GOOD_TOKEN)
    lines: list[str] = []
    page = StatusPage(StatusPageConfig(_free_port(), token_file=token_file, provisioned=True),
                      lines.append)
    trader = FakeTrader()
    server = await page.start(trader)
    assert server is not None
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.url}api/pause",
                                 headers={"Authorization": f"Bearer {GOOD_TOKEN}"}) as reply:
                assert reply.status == 200
    finally:
        await page.stop()
    assert trader.entries_paused == "status page"
    assert GOOD_TOKEN not in "".join(lines)


def test_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(GOOD_TOKEN)
    token_file.chmod(0o640)
    with pytest.raises(TokenFileError, match="chmod 600"):
        read_token(token_file)
    token_file.chmod(0o600)
    assert read_token(token_file) == GOOD_TOKEN
    token_file.write_text("short\n")
    with pytest.raises(TokenFileError, match="no usable token"):
        read_token(token_file)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "status.example"])
def test_a_non_loopback_bind_needs_the_flag_and_a_token_file(tmp_path: Path, host: str) -> None:
    token_file = tmp_path / "token"
    config = StatusPageConfig(8765, host, token_file, provisioned=False)
    assert "add --status-remote" in (check_config(config, allow_remote=False) or "")
    assert "needs --status-token-file" in (check_config(config, allow_remote=True) or "")
    write_token(token_file, GOOD_TOKEN)
    token_file.chmod(0o644)
    provisioned = StatusPageConfig(8765, host, token_file, provisioned=True)
    assert "chmod 600" in (check_config(provisioned, allow_remote=True) or "")
    token_file.chmod(0o600)
    assert check_config(provisioned, allow_remote=True) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_a_loopback_bind_needs_nothing_more(tmp_path: Path, host: str) -> None:
    assert check_config(StatusPageConfig(8765, host, tmp_path / "t"), allow_remote=False) is None


@pytest.mark.parametrize(("args", "message"), [
    (["--status-host", "0.0.0.0"], "--status-host 0.0.0.0 is not a loopback address: add --status-remote"),
    (["--status-host", "0.0.0.0", "--status-remote"], "--status-host 0.0.0.0 needs --status-token-file"),
    (["--status-port", "70000"], "--status-port 70000 is invalid: use 0 (no status page) or a port"),
])
def test_day_trader_refuses_an_unsafe_status_page_before_trading(tmp_path: Path, args: list[str],
                                                                 message: str) -> None:
    result = subprocess.run([sys.executable, str(REPO / "day_trader.py"), "--allocation", "0.25", *args],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
