"""A tiny alert receiver for trying alerts by hand: prints each alert it gets, one line each.

    python -m observability.alerts.receiver --port 8089
    ALERT_URLS=json://127.0.0.1:8089/alerts make run        # in another terminal

It takes what apprise's generic webhooks send: `json://` (a JSON object with `title`, `message`
and `type`) on any path, and `form://` (the same fields form-encoded). Each alert is printed as
`HH:MM:SS type title: message` with the message's lines joined by " / ". It listens on loopback
unless told otherwise, and answers 200 to everything it can read, 400 to anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

Printer = Callable[[str], None]


def alert_line(fields: Mapping[str, Any], now: datetime) -> str:
    """One printed line for one received alert."""
    kind = str(fields.get("type") or "info")
    title = " ".join(str(fields.get("title") or "").split())
    lines = [" ".join(line.split()) for line in str(fields.get("message") or "").splitlines()]
    message = " / ".join(line for line in lines if line)
    text = f"{title}: {message}" if title and message else title or message
    return f"{now:%H:%M:%S} {kind:<7} {text}"


def build_app(say: Printer, clock: Callable[[], datetime] = datetime.now) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        fields: Mapping[str, Any]
        try:
            if request.content_type == "application/json":
                parsed = json.loads(await request.text())
                if not isinstance(parsed, dict):
                    raise ValueError("not an object")
                fields = parsed
            else:
                fields = dict(await request.post())
        except ValueError:
            return web.Response(status=400, text="send a JSON object or a form")
        say(alert_line(fields, clock()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    return app


async def serve(host: str, port: int, say: Printer, stop: asyncio.Event) -> None:
    runner = web.AppRunner(build_app(say), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    say(f"receiver: listening on http://{host}:{bound}/ (set ALERT_URLS=json://{host}:{bound}/"
        "alerts); Ctrl-C to stop")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m observability.alerts.receiver",
                                     description="Print each alert a bot sends, one line each.")
    parser.add_argument("--port", type=int, default=8089, help="port to listen on (default 8089)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.exit(2, f"{parser.prog}: error: --port {args.port} is invalid: use 0-65535\n")

    def say(line: str) -> None:
        print(line, flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(args.host, args.port, say, stop)

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"{parser.prog}: error: --port {args.port}: {exc.strerror or exc}: pick another "
              "port", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
