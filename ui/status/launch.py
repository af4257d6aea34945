"""Start and stop the status page around a trading day, without ever stopping the trading.

A page that cannot start (the port is taken, the token file cannot be written) prints one line and
the bot trades on without it; the token is printed exactly once, on the console, never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from ui.status.config import StatusPageConfig
from ui.status.controls import TraderControls
from ui.status.server import OnControl, StatusOptions, StatusServer
from ui.status.token import TokenFileError, new_token, read_token, write_token

log = logging.getLogger("ui.status")


class StatusPage:
    """The status page of one run: `start` once the trader is started, `stop` at the end."""

    def __init__(self, config: StatusPageConfig, say: Callable[[str], None] = print) -> None:
        self.config = config
        self._say = say
        self.server: StatusServer | None = None

    async def start(self, controls: TraderControls, on_control: OnControl | None = None,
                    clock: Callable[[], datetime] | None = None) -> StatusServer | None:
        if not self.config.enabled:
            return None
        where = f"{self.config.host}:{self.config.port}"
        try:
            token = read_token(self.config.token_file) if self.config.provisioned else new_token()
        except (OSError, TokenFileError) as exc:
            self._say(f"status page not started: control token file {self.config.token_file}: "
                      f"{exc}; trading continues")
            return None
        try:
            server = StatusServer(controls, token, StatusOptions(self.config.host, self.config.port),
                                  on_control, clock)
            await server.start()  # bound first: a page that cannot start writes no token file
            if not self.config.provisioned:
                try:
                    write_token(self.config.token_file, token)
                except (OSError, TokenFileError) as exc:
                    await server.stop()
                    self._say(f"status page not started: control token file "
                              f"{self.config.token_file}: {exc}; trading continues")
                    return None
        except OSError as exc:
            reason = "is in use" if exc.errno in (48, 98) else f"cannot be bound ({exc.strerror or exc})"
            self._say(f"status page not started: {where} {reason}; trading continues "
                      "(pick another --status-port, or 0 for none)")
            return None
        except Exception as exc:  # the page is optional; the trading day is not
            self._say(f"status page not started: {type(exc).__name__}: {exc}; trading continues")
            return None
        self.server = server
        if self.config.provisioned:
            self._say(f"status page on {server.url} (control token from {self.config.token_file})")
        else:
            self._say(f"status page on {server.url} — control token, shown once and saved in "
                      f"{self.config.token_file} (mode 600): {token}")
        return server

    async def stop(self) -> None:
        if self.server is not None:
            try:
                await self.server.stop()
            except Exception as exc:
                log.warning("status page: stop failed: %s", exc)
            self.server = None
