"""What both entry scripts do the same way around a run: logging in market time, tracing, stopping
on a signal, the live-account rule, and turning a failure into one line and an exit code.

Why one module: the two bots are run by the same person from the same cron file, so they must
refuse the same accounts, stamp their logs the same way and mean the same thing by an exit code:

    0  done (or nothing to do today)
    1  the Gateway, IB or the history DB failed us (unreachable Gateway, a DB that cannot open)
    2  bad input or a refusal to trade (a malformed file, an unknown symbol or account, a live
       account without --live): nothing was sent

Every way out of a run that is not 0 is one line on stderr, `<prog>: error: <what and the fix>`,
and, where alerts reach a phone (docs/alerts.md), one critical alert: the account refused, or
the bot stopped and why.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from observability import log_clock
from observability.history_errors import HistoryDBError
from observability.tracing import TracingConfigError, TracingHandle, setup_tracing
from trade.broker import BrokerError, UnknownAccount
from trade.models import Account
from trade.refusal import AccountRefused, Refused

if TYPE_CHECKING:
    from observability.alerts.notifier import Notifier

__all__ = ["EXIT_DONE", "EXIT_FAILED", "EXIT_REFUSED", "AccountRefused", "Refused",
           "check_writable", "fail", "guarded", "install_logging", "refuse_live_account",
           "stop_on_signals", "tracing"]

EXIT_DONE, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2

# libraries whose own log lines are noise at INFO: ib_async logs a routine OCA cancel (202) as
# ERROR (the IB adapter logs IB's errors itself, at their true weight); the scheduler's every
# tick; the in-process simulator's chatter
_QUIET = {"ib_async": logging.CRITICAL, "apscheduler": logging.WARNING, "sim": logging.WARNING}


def refuse_live_account(account: Account, live: bool) -> None:
    """The one live-account rule: a non-paper account only with --live."""
    if not account.is_paper and not live:
        raise AccountRefused(f"account {account.masked_id} is a live account: pass --live to "
                             "trade real money (paper account ids start with DU)",
                             account.account_id)


def install_logging(level: int | str) -> log_clock.MarketTimeFormatter:
    """Log lines stamped in market time (once the caller sets the formatter's clock to the
    broker's), libraries quietened; returns the formatter."""
    formatter = log_clock.install(level)
    root_level = logging.getLogger().level
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root_level))
    return formatter


@contextmanager
def tracing(service: str) -> Iterator[TracingHandle]:
    """OpenTelemetry for the run (a no-op without OTEL_* settings), shut down on every way out;
    a malformed setting is a refusal."""
    try:
        handle = setup_tracing(service)
    except TracingConfigError as exc:
        raise Refused(str(exc)) from None
    try:
        yield handle
    finally:
        handle.shutdown()


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set `stop` (the bots finish their step, keep exits at the broker, write
    their logs) instead of killing the process mid-step."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def check_writable(places: dict[str, Path]) -> None:
    """Each folder the run will write into exists (or can be made) and takes a file, checked
    before the first order; otherwise a refusal naming it and the fix."""
    for what, folder in places.items():
        probe = folder / f".write-check-{os.getpid()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_text("ok", encoding="utf-8")
            probe.unlink()
        except OSError as exc:
            raise Refused(f"{what} {folder} cannot be written ({exc.strerror or exc}): make it "
                          "writable or point the setting elsewhere; nothing was sent") from None


def fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return code


def guarded(prog: str, body: Callable[[], int], alerts: Notifier | None = None,
            bot: str = "") -> int:
    """Run an entry script's body; a refusal or a failure becomes one line and its exit code,
    and the owner's critical alert; anything else (a bug) alerts too and keeps its traceback."""
    try:
        return body()
    except (Refused, UnknownAccount) as exc:
        _alert_stop(alerts, bot, exc)
        return fail(prog, str(exc), EXIT_REFUSED)
    except (BrokerError, HistoryDBError, ConnectionError) as exc:
        _alert_stop(alerts, bot, exc)
        return fail(prog, str(exc) or type(exc).__name__, EXIT_FAILED)
    except Exception as exc:
        _alert_stop(alerts, bot, exc)
        raise


def _alert_stop(alerts: Notifier | None, bot: str, exc: BaseException) -> None:
    """The critical alert of a run that stops, before its error line (only where alerts reach a
    phone: in log-only mode the error line is the record, not repeated)."""
    if alerts is None or not alerts.pushing or getattr(exc, "alerted", False):
        return
    from observability.alerts import events as ev

    if isinstance(exc, AccountRefused):
        alerts.notify(ev.account_refused(bot, exc.account, str(exc)))
    elif isinstance(exc, UnknownAccount):
        alerts.notify(ev.account_refused(bot, None, str(exc)))
    else:
        alerts.notify(ev.bot_stopped(bot, exc))
    alerts.close()
