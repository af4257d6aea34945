"""The preflight as a command, shared by `python day_trader.py --preflight` and
`python -m trade.ib.preflight`: connect, run, one line per step, an exit code.

Exit codes as the bots have them (trade/startup.py): 0 every step passed and the preflight left
nothing behind; 1 a step did not pass (its fallback is now in force for the day trader; the
record says what IB answered), the account was not left as found, or the Gateway failed us;
2 refused before any order (not a paper account, outside regular hours, an unknown symbol,
orders already working in the symbol) — raised as `Refused` for `startup.guarded` to print.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from trade import startup
from trade.config import Settings
from trade.ib.preflight.options import DEFAULT_CLIENT_ID, PreflightOptions
from trade.ib.preflight.runner import run_preflight
from trade.ib.session import ib_broker


def run_command(settings: Settings, *, symbol: str, client_id: int | None = None,
                options: PreflightOptions | None = None,
                say: Callable[[str], None] = print) -> int:
    """Run the preflight against the Gateway the settings name; `client_id` None: the
    preflight's own (it never takes a running bot's). Lines go to `say`, prefixed `preflight:`."""
    log_format = startup.install_logging(settings.log_level)
    chosen = dataclasses.replace(options or PreflightOptions(), symbol=symbol.upper())

    def line(text: str) -> None:
        say(f"preflight: {text}")

    async def main() -> int:
        stop = asyncio.Event()
        startup.stop_on_signals(stop)
        async with ib_broker(settings.ib_host, settings.ib_port,
                             DEFAULT_CLIENT_ID if client_id is None else client_id,
                             settings.ib_account or "") as broker:
            log_format.clock = broker.now
            record, _ = await run_preflight(broker, settings.logs_dir, chosen, line, stop)
        return startup.EXIT_DONE if record.passed else startup.EXIT_FAILED

    return asyncio.run(main())
