"""Where the status page listens and where its control token lives, and which combinations are
refused before the bot trades (a non-loopback address without an explicit flag and a token file
made beforehand; a token file other users can read). No aiohttp here: argument checking stays fast.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ui.status.token import TokenFileError, read_token


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class StatusPageConfig:
    port: int  # 0: no status page
    host: str = "127.0.0.1"
    token_file: Path = Path("logs/status_token")
    provisioned: bool = False  # the token file was made beforehand: use its token, print none

    @property
    def enabled(self) -> bool:
        return self.port != 0


def check_config(config: StatusPageConfig, allow_remote: bool) -> str | None:
    """Why this configuration must not start (one line), or None. Checked before trading."""
    if not 0 <= config.port <= 65535:
        return f"--status-port {config.port} is invalid: use 0 (no page) or a port 1-65535"
    if not config.enabled:
        return None
    if not is_loopback(config.host):
        if not allow_remote:
            return (f"--status-host {config.host} is not a loopback address: add --status-remote "
                    "to serve the page to other machines, or use 127.0.0.1")
        if not config.provisioned:
            return (f"--status-host {config.host} needs --status-token-file: a file you created "
                    "holding the control token (chmod 600); a remote page never runs on a "
                    "console-only token")
    return _token_problem(config.token_file) if config.provisioned else None


def _token_problem(path: Path) -> str | None:
    try:
        read_token(path)
    except TokenFileError as exc:
        return str(exc)
    return None
