"""Command-line helpers shared by the entry scripts: one-line errors and typed flag values.

argparse reports a bad argument with a usage block plus an error line; an operator reading a
cron mail or a systemd journal wants one line that names the argument and the fix. The parser here
prints exactly `<prog>: error: <argument> <value> is invalid: use <fix>` and exits 2.

Kept free of heavy imports: `--help` and argument errors must answer instantly.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Sequence
from datetime import date, time
from typing import Any, NoReturn

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ARGUMENT = re.compile(r"^argument (?P<flags>[^:]+): (?P<rest>.*)$", re.DOTALL)
_REQUIRED = "the following arguments are required: "


def add_flag(
    container: argparse._ActionsContainer, *flags: str, fix: str | None = None, **kwargs: Any
) -> argparse.Action:
    """`add_argument` on a parser or argument group, remembering the fix for that flag.

    The fix ("use ...") is what a one-line error says when the flag is missing or has no value.
    """
    action = container.add_argument(*flags, **kwargs)
    # argparse.Action declares no such field: it is read back with getattr in `one_line`
    action.fix = fix  # type: ignore[attr-defined]
    return action


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line naming the argument and the fix.

    Add flags with `add_flag(..., fix=...)` so a missing or empty flag gets its own advice.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {self.one_line(message)}\n")

    # typeshed overloads this on a generic namespace type; ours takes and returns a Namespace
    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        """A mistyped flag is named first (`--alocation 0.25` is a typo of --allocation, not a
        missing --allocation)."""
        argv = list(sys.argv[1:] if args is None else args)
        for token in argv:
            if token == "--":
                break
            flag = token.split("=", 1)[0]
            if flag.startswith("--") and not self._known_flag(flag):
                self.error(f"unrecognized arguments: {flag}")
        return super().parse_known_args(argv, namespace)

    def _known_flag(self, flag: str) -> bool:
        """An option of this parser, or an unambiguous abbreviation of one (argparse's rule)."""
        options = self._option_string_actions
        return flag in options or len([o for o in options if o.startswith(flag)]) == 1

    def one_line(self, message: str) -> str:
        """Rewrite argparse's wording into `<flag> ...: use <fix>` on one line."""
        if message.startswith(_REQUIRED):
            flag = message[len(_REQUIRED) :].split(",")[0].split()[0]
            return f"{flag} is required: use {self._fix(flag)}"
        match = _ARGUMENT.match(message)
        if match is not None:
            flag = match["flags"].split("/")[-1]
            rest = match["rest"]
            if rest.startswith("expected ") and "argument" in rest:
                rest = f"needs a value: use {self._fix(flag)}"
            elif rest.startswith("invalid ") and " value: " in rest:
                # a plain int()/float() type failed: "invalid int value: 'x'"
                rest = f"{rest.split(' value: ', 1)[1]} is invalid: use {self._fix(flag)}"
            return " ".join(f"{flag} {rest}".split())
        if message.startswith("unrecognized arguments: "):
            given = message.split(": ", 1)[1]
            close = difflib.get_close_matches(given.split()[0], list(self._option_string_actions),
                                              n=1, cutoff=0.75)
            hint = f"did you mean {close[0]}?" if close else "see --help for the flags"
            return f"unrecognized argument {given}: {hint}"
        return " ".join(message.split())

    def _fix(self, flag: str) -> str:
        for action in self._actions:
            fix = getattr(action, "fix", None)  # set by `add_flag`
            if flag in action.option_strings and isinstance(fix, str) and fix:
                return fix
        return f"{flag} VALUE (see --help)"


def _type(fix: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse `type=` that turns any failure into `<value> is invalid: use <fix>`."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(f"{text} is invalid: use {fix}") from None

    return convert


ADOPT_FIX = "SYMBOL or SYMBOL:QTY, e.g. SPY or SPY:100 (repeat the flag for several symbols)"


def adopt_request(text: str) -> tuple[str, int | None]:
    """`--adopt SYMBOL[:QTY]`: the shares of SYMBOL no book records (all, or QTY of them)."""
    symbol, _, qty = text.strip().partition(":")
    if not re.fullmatch(r"[A-Z][A-Z0-9.]{0,9}", symbol):
        raise ValueError(text)
    if not qty:
        return symbol, None
    if not qty.isdigit() or int(qty) <= 0:
        raise ValueError(text)
    return symbol, int(qty)


def _weekday(text: str) -> str:
    wanted = text.strip().lower()
    for name in WEEKDAYS:
        if wanted in (name.lower(), name[:3].lower()):
            return name
    raise ValueError(text)


def _hh_mm(text: str) -> time:
    if not re.fullmatch(r"\d{1,2}:\d{2}", text.strip()):
        raise ValueError(text)
    hour, minute = (int(part) for part in text.strip().split(":"))
    return time(hour, minute)


def _iso_date(text: str) -> date:
    # date.fromisoformat alone would also take "20250703"; insist on the documented form
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise ValueError(text)
    return date.fromisoformat(text.strip())


def _symbol(text: str) -> str:
    symbol = text.strip().upper()
    if not re.fullmatch(r"[A-Z][A-Z0-9.]{0,9}", symbol):
        raise ValueError(text)
    return symbol


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(text)
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


WEEKDAY_FIX = "weekday names such as Monday Thursday"
DATE_FIX = "a date YYYY-MM-DD, e.g. 2025-07-03"
TIME_FIX = "a New York time HH:MM, e.g. 10:00"
SPEED_FIX = "a positive number, e.g. 400 (a 390-minute session in about a minute)"
SEED_FIX = "a whole number >= 0, e.g. 7"
SYMBOL_FIX = "a ticker such as SPY (a liquid ETF)"

weekday = _type(WEEKDAY_FIX, _weekday)
iso_date = _type(DATE_FIX, _iso_date)
hh_mm = _type(TIME_FIX, _hh_mm)
speed = _type(SPEED_FIX, _positive_float)
seed = _type(SEED_FIX, _non_negative_int)
symbol = _type(SYMBOL_FIX, _symbol)


SETTINGS_EPILOG = (
    "Settings not given here come from the environment or .env (see .env.example). "
    "Without --live the bot refuses any account whose id does not start with DU (paper)."
)


def add_connection_flags(
    parser: argparse.ArgumentParser, fix: Callable[[str], str], client_id_help: str
) -> None:
    """The IB Gateway/TWS connection flags both bots share (`--host --port --client-id --account`
    and `--live`); `client_id_help` names the bot's own default and variable."""
    ib = parser.add_argument_group("IB Gateway / TWS connection")
    add_flag(ib, "--host", metavar="HOST", fix=fix("ib_host"),
             help="Gateway host (default: 127.0.0.1, or IB_HOST)")
    add_flag(ib, "--port", metavar="PORT", fix=fix("ib_port"),
             help="Gateway port (default: 4001, or IB_PORT; paper Gateway: 4002)")
    add_flag(ib, "--client-id", metavar="N", fix=fix("ib_client_id"), help=client_id_help)
    add_flag(ib, "--account", metavar="ID", fix=fix("ib_account"),
             help="account id to trade (default: IB_ACCOUNT, or the login's only account)")
    add_flag(ib, "--live", action="store_true", default=None,
             help="allow trading a live account (ids not starting with DU); off by default")


def add_records_flags(parser: argparse.ArgumentParser, fix: Callable[[str], str]) -> None:
    """`--db` and `--log-level`, shared by both bots."""
    out = parser.add_argument_group("records")
    add_flag(out, "--db", metavar="PATH", fix=fix("db_path"),
             help="history DB (default: trading_history.db, or DB_PATH; a simulated account's: "
             "its simulator's sim_runs/<id>/trading_history.db, or SIM_DB_PATH)")
    add_flag(out, "--log-level", metavar="LEVEL", fix=fix("log_level"),
             help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: INFO, or LOG_LEVEL)")


def add_alert_flags(parser: argparse.ArgumentParser, fix: Callable[[str], str]) -> None:
    """`--alert-url` (repeatable) and `--alert-mute`, shared by both bots (docs/alerts.md)."""
    alerts = parser.add_argument_group("alerts (docs/alerts.md)")
    add_flag(alerts, "--alert-url", action="append", metavar="URL", fix=fix("alert_urls"),
             help="where to push alerts: an apprise URL such as tgram://BOT_TOKEN/CHAT_ID or "
             "mailtos://USER:PASSWORD@smtp.host?to=you@example.com; repeat for several "
             "(default: ALERT_URLS; none = the log only)")
    add_flag(alerts, "--alert-mute", metavar="LEVELS", fix=fix("alert_mute"),
             help="levels kept off the phone (still logged): info, warning, critical, "
             "comma-separated, or none (default: ALERT_MUTE, or none)")
