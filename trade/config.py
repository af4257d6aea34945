"""Settings: the one place for defaults, read from defaults < .env < environment < CLI.

Each bot builds one frozen `Settings` at start-up with `load_settings(...)` and passes it down;
nothing else reads the environment. Every value is validated on load, and a bad one stops the bot
with a single line that names the setting *where it was set* and the fix, e.g.

    IB_PORT='abc' is invalid: use a TCP port number 1-65535 (set in the environment)
    --allocation 1.5 is invalid: use a fraction in (0, 1], e.g. 0.25

`.env` is read with `dotenv_values`, which does not touch `os.environ`, and the environment is an
argument, so tests pass plain dicts. The LLM key is a secret: `repr(settings)` masks it (and the
account id), so logging the settings at start-up is safe. Every environment variable is documented
in `.env.example`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values

from observability.alerts.config import (
    MUTE_FIX,
    URLS_FIX,
    AlertConfigError,
    AlertSettings,
    masked_url,
    parse_mute,
    parse_urls,
)
from trade import allocation
from trade.allocation import parse_allocation
from trade.models import WHOLE_NUMBER_PARAMS, Params

Bot = Literal["day_trader", "weekly"]
BOTS: tuple[str, ...] = ("day_trader", "weekly")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
OTLP_PROTOCOLS = ("grpc", "http/protobuf", "http/json")
SECRET_FIELDS = frozenset({"deepseek_api_key", "fmp_api_key", "local_llm_api_key"})
DEFAULT_CLIENT_IDS: dict[str, int] = {"day_trader": 2, "weekly": 1}
DEFAULT_DB_PATH = Path("trading_history.db")
DEFAULT_SIM_DB_PATH = Path("trading_history.sim.db")
# The broker-held backstop sells 2 minutes after the flatten (trade/intraday/trader.py
# TraderOptions.backstop_delay) and must still be before the close, with a minute to spare.
MIN_FLATTEN_MINUTES = 3

# The market data (1-minute and daily bars) is never inside the checkout: its directory is one
# setting, MARKET_DATA_DIR, that a command's --data/--sim-data flag overrides (docs/backtests.md).
MARKET_DATA_ENV = "MARKET_DATA_DIR"
MARKET_DATA_FIX = "a directory holding intraday/<SYM>/<YYYY-MM-DD>.csv and daily/<SYM>.csv"
# Renamed variables: still set, they stop a bot with one line instead of being silently ignored.
ALIASED_ENV = {"SIM_DATA_DIR": MARKET_DATA_ENV}  # the older name, still read


class ConfigError(ValueError):
    """A setting is missing or invalid. `str(error)` is one line: the setting, the value, the fix."""


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    """Everything a bot is configured with. Build it with `load_settings`, never by hand in code
    that runs live (the constructor does not validate; `load_settings` does)."""

    bot: str = "day_trader"
    # Interactive Brokers connection
    ib_host: str = "127.0.0.1"
    ib_port: int = 4001
    ib_client_id: int = 2
    ib_account: str | None = None  # None: the only account of the login
    # what the bot may do
    allocation: float | None = None  # fraction of net liquidation the bot may use
    live: bool = False  # without it, only paper accounts (ids starting DU) are traded
    sim: bool = False  # run against the built-in simulator
    # files
    watchlist_path: Path = Path("day_trading_watchlist.json")
    db_path: Path = DEFAULT_DB_PATH  # already the sim DB when sim=True
    sim_db_path: Path = DEFAULT_SIM_DB_PATH
    market_data_dir: Path | None = None  # real bars for replays and backtests; None: none set
    logs_dir: Path = Path("logs")
    reports_dir: Path = Path("reports")
    kill_switch_path: Path = Path("KILL_SWITCH")
    # strategy and risk
    params: Params = field(default_factory=Params)
    entry_cutoff_minutes: int = 30
    flatten_minutes: int = 5
    daily_loss_cap_pct: float = 2.0
    max_open_positions: int | None = None
    # LLM (DeepSeek's OpenAI-compatible API)
    deepseek_api_key: str | None = None
    llm_base_url: str = "https://api.deepseek.com"
    llm_model: str = "deepseek-chat"
    llm_timeout_s: float = 30.0
    # the weekly bot: its universe, Financial Modeling Prep, the local LLM used while the
    # market is closed (an OpenAI-compatible server such as Ollama)
    universe_path: Path = Path("weekly_universe.json")
    fmp_api_key: str | None = None
    fmp_base_url: str = "https://financialmodelingprep.com"
    local_llm_base_url: str | None = None
    local_llm_model: str = "llama3.1"
    local_llm_api_key: str | None = None
    # OpenTelemetry (the standard variables; no endpoint = no export)
    otel_endpoint: str | None = None
    otel_protocol: str = "http/protobuf"
    log_level: str = "INFO"
    # alerts (apprise URLs hold tokens: `redacted()` shows their schemes only)
    alert_urls: tuple[str, ...] = ()
    alert_mute: tuple[str, ...] = ()  # levels kept off the phone (still logged)
    # how long a condition lasts before the day trader's critical alert (real seconds): a
    # position without correct exits at the broker, IB unreachable while holding
    alert_unprotected_s: float = 30.0
    alert_unreachable_s: float = 120.0

    @property
    def llm_enabled(self) -> bool:
        return bool(self.deepseek_api_key)

    @property
    def otlp_enabled(self) -> bool:
        return bool(self.otel_endpoint)

    @property
    def alerts(self) -> AlertSettings:
        return AlertSettings(self.alert_urls, self.alert_mute)

    def redacted(self) -> dict[str, Any]:
        """All settings as plain values safe for logs, spans and reports (secrets masked)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                value = "****" if value else None
            elif f.name == "ib_account" and value:
                value = "****" + value[-4:]
            elif f.name == "alert_urls":
                value = [masked_url(url) for url in value]
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, Params):
                value = value.as_dict()
            out[f.name] = value
        return out

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={value!r}" for name, value in self.redacted().items())
        return f"Settings({body})"

    __str__ = __repr__


# -- parsers: raw text (or an already-typed value) -> typed value; ValueError when invalid ------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(value)
    value = value.strip()
    if not value:
        raise ValueError(value)
    return value


def _int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    number = int(value.strip()) if isinstance(value, str) else value
    if not isinstance(number, int) or not low <= number <= high:
        raise ValueError(value)
    return number


def _float(value: Any, low: float, high: float, *, low_open: bool) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value.strip()) if isinstance(value, str) else float(value)
    above_low = number > low if low_open else number >= low
    if not math.isfinite(number) or not above_low or number > high:
        raise ValueError(value)
    return number


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Empty text (or "none") means "not set" for optional settings."""

    def parse_optional(value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        return parse(value)

    return parse_optional


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _matching(pattern: str) -> Callable[[Any], str]:
    compiled = re.compile(pattern)

    def parse(value: Any) -> str:
        text = _text(value)
        if not compiled.fullmatch(text):
            raise ValueError(value)
        return text

    return parse


def _path(value: Any) -> Path:
    return value if isinstance(value, Path) else Path(_text(value)).expanduser()


def _choice(options: tuple[str, ...], *, upper: bool) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value)
        text = text.upper() if upper else text.lower()
        if text not in options:
            raise ValueError(value)
        return text

    return parse


@dataclass(frozen=True, slots=True)
class _Option:
    """How one setting is read: its environment variable, its CLI flag, its parser and fix."""

    name: str
    env: str | None
    flag: str | None
    parse: Callable[[Any], Any]
    fix: str


_URL = r"https?://[^\s]+"
_PORT_FIX = "a TCP port number 1-65535, e.g. 4001 for IB Gateway live, 4002 for paper"


def _options(bot: str) -> list[_Option]:
    weekly = bot == "weekly"
    return [
        _Option("ib_host", "IB_HOST", "--host", _matching(r"[A-Za-z0-9.:\-\[\]]+"),
                "a host name or IP address, e.g. 127.0.0.1"),
        _Option("ib_port", "IB_PORT", "--port", lambda v: _int(v, 1, 65535), _PORT_FIX),
        _Option("ib_client_id", "IB_WEEKLY_CLIENT_ID" if weekly else "IB_CLIENT_ID",
                "--client-id", lambda v: _int(v, 0, 2**31 - 1),
                "a whole number 0-2147483647, different for each bot on the same Gateway"),
        _Option("ib_account", "IB_ACCOUNT", "--account",
                _optional(_matching(r"[A-Za-z0-9]{2,20}")),
                "an IB account id such as DU1234567 (letters and digits), or leave it empty"),
        _Option("allocation", "WEEKLY_ALLOCATION" if weekly else None, "--allocation",
                _optional(parse_allocation), allocation.FIX),
        _Option("live", None, "--live", _bool, "true or false"),
        _Option("sim", None, "--sim", _bool, "true or false"),
        _Option("watchlist_path", "WATCHLIST_PATH", "--watchlist", _path, "a file path"),
        _Option("db_path", "DB_PATH", "--db", _path, "a file path, e.g. trading_history.db"),
        _Option("sim_db_path", "SIM_DB_PATH", None, _path, "a file path"),
        _Option("market_data_dir", MARKET_DATA_ENV, "--sim-data", _optional(_path),
                MARKET_DATA_FIX),
        _Option("logs_dir", "LOGS_DIR", None, _path, "a directory path"),
        _Option("reports_dir", "REPORTS_DIR", None, _path, "a directory path"),
        _Option("kill_switch_path", "KILL_SWITCH_PATH", None, _path, "a file path"),
        _Option("entry_cutoff_minutes", "ENTRY_CUTOFF_MINUTES", None,
                lambda v: _int(v, 0, 180), "whole minutes before the close, 0-180, e.g. 30"),
        _Option("flatten_minutes", "FLATTEN_MINUTES", None,
                lambda v: _int(v, MIN_FLATTEN_MINUTES, 60),
                f"whole minutes before the close, {MIN_FLATTEN_MINUTES}-60, e.g. 5 (the broker-held "
                "backstop sells 2 minutes after the flatten and must do so before the close)"),
        _Option("daily_loss_cap_pct", "DAILY_LOSS_CAP_PCT", None,
                lambda v: _float(v, 0.0, 100.0, low_open=True),
                "a percentage in (0, 100], e.g. 2.0"),
        _Option("max_open_positions", "MAX_OPEN_POSITIONS", None,
                _optional(lambda v: _int(v, 1, 10_000)),
                "a whole number >= 1, or leave it empty for no limit"),
        _Option("deepseek_api_key", "DEEPSEEK_API_KEY", None, _optional(_matching(r"\S+")),
                "the API key without spaces, or leave it empty to disable LLM insights"),
        _Option("llm_base_url", "LLM_BASE_URL", None, _matching(_URL),
                "an http(s) URL, e.g. https://api.deepseek.com"),
        _Option("llm_model", "LLM_MODEL", None, _matching(r"\S+"),
                "a model name, e.g. deepseek-chat"),
        _Option("llm_timeout_s", "LLM_TIMEOUT_S", None,
                lambda v: _float(v, 0.0, 600.0, low_open=True), "seconds in (0, 600], e.g. 30"),
        _Option("universe_path", "WEEKLY_UNIVERSE_PATH", "--universe", _path, "a file path"),
        _Option("fmp_api_key", "FMP_API_KEY", None, _optional(_matching(r"\S+")),
                "the API key without spaces, or leave it empty to screen from IB data alone"),
        _Option("fmp_base_url", "FMP_BASE_URL", None, _matching(_URL),
                "an http(s) URL, e.g. https://financialmodelingprep.com"),
        _Option("local_llm_base_url", "LOCAL_LLM_BASE_URL", None, _optional(_matching(_URL)),
                "an http(s) URL such as http://127.0.0.1:11434/v1, or leave it empty"),
        _Option("local_llm_model", "LOCAL_LLM_MODEL", None, _matching(r"\S+"),
                "a model name, e.g. llama3.1"),
        _Option("local_llm_api_key", "LOCAL_LLM_API_KEY", None, _optional(_matching(r"\S+")),
                "the key without spaces, or leave it empty (most local servers need none)"),
        _Option("otel_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", None, _optional(_matching(_URL)),
                "an http(s) URL such as http://localhost:4318, or leave it empty"),
        _Option("otel_protocol", "OTEL_EXPORTER_OTLP_PROTOCOL", None,
                _choice(OTLP_PROTOCOLS, upper=False), "one of " + ", ".join(OTLP_PROTOCOLS)),
        _Option("log_level", "LOG_LEVEL", "--log-level", _choice(LOG_LEVELS, upper=True),
                "one of " + ", ".join(LOG_LEVELS)),
        _Option("alert_urls", "ALERT_URLS", "--alert-url", parse_urls, URLS_FIX),
        _Option("alert_mute", "ALERT_MUTE", "--alert-mute", parse_mute, MUTE_FIX),
        _Option("alert_unprotected_s", "ALERT_UNPROTECTED_S", None,
                lambda v: _float(v, 0.0, 3600.0, low_open=True),
                "seconds in (0, 3600], e.g. 30 (a position without exits before the alert)"),
        _Option("alert_unreachable_s", "ALERT_UNREACHABLE_S", None,
                lambda v: _float(v, 0.0, 3600.0, low_open=True),
                "seconds in (0, 3600], e.g. 120 (IB unreachable while holding before the alert)"),
    ]  # fmt: skip


def environment_variables() -> list[str]:
    """Every environment variable any bot reads (what `.env.example` must document)."""
    names = {o.env for bot in BOTS for o in _options(bot) if o.env is not None}
    names |= {"STRATEGY_" + f.name.upper() for f in dataclasses.fields(Params)}
    return sorted(names)


def option_fix(name: str, bot: Bot = "day_trader") -> str:
    """The "use ..." advice for a setting, so CLI errors and config errors say the same thing."""
    for option in _options(bot):
        if option.name == name:
            return option.fix
    raise KeyError(name)


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
    *,
    bot: Bot = "day_trader",
) -> Settings:
    """Build and validate the settings of `bot`; raises `ConfigError` (one line) when invalid.

    `cli` maps Settings field names to values from the command line (None = flag not given;
    `params` may be a ready `Params`). `env` defaults to `os.environ`; `dotenv_path=None` skips
    the `.env` file, and a missing file is simply not read.
    """
    if bot not in BOTS:
        raise ConfigError(f"bot {bot!r} is invalid: use one of {', '.join(BOTS)}")
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    environ: Mapping[str, str] = os.environ if env is None else env
    dotenv: dict[str, str | None] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        dotenv = dict(dotenv_values(dotenv_path, interpolate=False))
    options = _options(bot)
    known = {o.name for o in options} | {"params"}
    unknown = sorted(set(cli) - known)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}: use one of {', '.join(sorted(known))}")

    environ, dotenv = _with_aliases(environ, dotenv)
    values: dict[str, Any] = {"bot": bot, "ib_client_id": DEFAULT_CLIENT_IDS[bot]}
    for option in options:
        raw, where = _lookup(option, cli, environ, dotenv, dotenv_path)
        if where is None:
            continue
        try:
            values[option.name] = option.parse(raw)
        except AlertConfigError as exc:  # names the entry with its secrets masked
            raise ConfigError(_invalid(option, exc.shown, where, quote=False)) from None
        except (ValueError, TypeError):
            raise ConfigError(_invalid(option, raw, where)) from None
    if values.get("sim") and "db_path" not in cli:
        # a simulated day must never write into the real trading history
        values["db_path"] = values.get("sim_db_path", DEFAULT_SIM_DB_PATH)
    values["params"] = _params(cli.get("params"), environ, dotenv, dotenv_path)
    settings = Settings(**values)
    if settings.entry_cutoff_minutes < settings.flatten_minutes:
        raise ConfigError(
            f"ENTRY_CUTOFF_MINUTES={settings.entry_cutoff_minutes} is invalid: use at least "
            f"FLATTEN_MINUTES ({settings.flatten_minutes}), so entries stop before the flatten time"
        )
    return settings


def market_data_dir(
    given: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> Path | None:
    """The market data directory: `given` (a command's --data or --sim-data), else
    MARKET_DATA_DIR from the environment, else from `.env`; None when none is set.

    The one reader of that setting for the commands that build no `Settings` (backtests, the
    standalone simulator, the chaos campaign); the bots read the same option in `load_settings`.
    """
    if given is not None and str(given).strip():
        return Path(given).expanduser()
    option = next(o for o in _options("day_trader") if o.name == "market_data_dir")
    environ: Mapping[str, str] = os.environ if env is None else env
    dotenv: dict[str, str | None] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        dotenv = dict(dotenv_values(dotenv_path, interpolate=False))
    environ, dotenv = _with_aliases(environ, dotenv)
    raw, where = _lookup(option, {}, environ, dotenv, dotenv_path)
    return None if where is None else Path(str(raw).strip()).expanduser()


def no_market_data(flag: str = "--data DIR") -> str:
    """The one line a command prints (exit 2) when it needs real bars and no directory is set."""
    return (f"no market data directory: pass {flag} or set {MARKET_DATA_ENV} (in the "
            f"environment or .env) to {MARKET_DATA_FIX}")


def require_market_data(
    given: Path | str | None = None,
    flag: str = "--data DIR",
    *,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> Path:
    """`market_data_dir(...)`, or `ConfigError` with `no_market_data(flag)` when none is set."""
    found = market_data_dir(given, env=env, dotenv_path=dotenv_path)
    if found is None:
        raise ConfigError(no_market_data(flag))
    return found


def _with_aliases(
    environ: Mapping[str, str], dotenv: Mapping[str, str | None]
) -> tuple[Mapping[str, str], dict[str, str | None]]:
    """SIM_DATA_DIR, the simulated runs' data folder before MARKET_DATA_DIR, still sets it where
    MARKET_DATA_DIR is not set in the same place (issue 22: it stays for simulated runs; real
    nights never replay a data folder, `improvement/nightly.py`)."""
    env_out, dot_out = dict(environ), dict(dotenv)
    for old, new in ALIASED_ENV.items():
        for source in (env_out, dot_out):
            raw = source.get(old)
            if raw is not None and str(raw).strip() and not str(source.get(new) or "").strip():
                source[new] = raw
    return env_out, dot_out


def _lookup(
    option: _Option,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    dotenv: Mapping[str, str | None],
    dotenv_path: Path | None,
) -> tuple[Any, str | None]:
    """The raw value with the highest precedence and where it came from (None: use default).

    Empty text in the environment or `.env` counts as "not set" there, so a copied
    `.env.example` with blank lines keeps the defaults.
    """
    if option.name in cli:
        return cli[option.name], "cli"
    if option.env is not None:
        for source, where in ((environ, "the environment"), (dotenv, str(dotenv_path))):
            raw = source.get(option.env)
            if raw is not None and raw.strip():
                return raw, where
    return None, None


def _invalid(option: _Option, raw: Any, where: str, *, quote: bool = True) -> str:
    shown = "<hidden>" if option.name in SECRET_FIELDS else raw
    if where == "cli" and option.flag is not None:
        return f"{option.flag} {shown} is invalid: use {option.fix}"
    name = option.env or option.name
    if not quote:
        return f"{name} {shown} is invalid: use {option.fix} (set in {where})"
    return f"{name}={shown!r} is invalid: use {option.fix} (set in {where})"


def _params(
    given: Any,
    environ: Mapping[str, str],
    dotenv: Mapping[str, str | None],
    dotenv_path: Path | None,
) -> Params:
    """Strategy parameters: the given `Params`, else defaults with `STRATEGY_<FIELD>` overrides."""
    if given is not None:
        if not isinstance(given, Params):
            raise ConfigError(f"params={given!r} is invalid: use a trade.models.Params")
        return given
    params = Params()
    whole = WHOLE_NUMBER_PARAMS
    for f in dataclasses.fields(Params):
        option = _Option(f.name, "STRATEGY_" + f.name.upper(), None, str, "")
        raw, where = _lookup(option, {}, environ, dotenv, dotenv_path)
        if where is None:
            continue
        try:
            text = raw.strip().lower()
            value: Any
            if f.name == "atr_timeframe":
                value = " ".join(text.split())
            elif f.name in whole:
                value = int(text)
            else:
                value = None if text == "none" else float(text)
            params = params.with_overrides({f.name: value})
        except ValueError as exc:
            message = str(exc)
            fix = (
                message.split(": use ", 1)[1]
                if ": use " in message
                else ("a whole number" if f.name in whole else "a number")
            )
            raise ConfigError(
                f"{option.env}={raw!r} is invalid: use {fix} (set in {where})"
            ) from None
    return params
