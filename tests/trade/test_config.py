"""Settings: layering defaults < .env < environment < CLI, validation, one-line errors, secrets."""

import dataclasses
import os
import re
from pathlib import Path

import pytest

from tests.paths import REPO
from trade.config import (
    ConfigError,
    Settings,
    environment_variables,
    load_settings,
    market_data_dir,
)
from trade.models import Params


def load(cli=None, env=None, dotenv_path=None, bot="day_trader") -> Settings:
    return load_settings(cli=cli, env=env or {}, dotenv_path=dotenv_path, bot=bot)


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_defaults_without_env_or_dotenv() -> None:
    settings = load()
    assert (settings.ib_host, settings.ib_port, settings.ib_client_id) == ("127.0.0.1", 4001, 2)
    assert settings.ib_account is None
    assert settings.watchlist_path == Path("day_trading_watchlist.json")
    assert settings.db_path == Path("trading_history.db")
    assert settings.sim_db_path == Path("trading_history.sim.db")
    assert settings.kill_switch_path == Path("KILL_SWITCH")
    assert (settings.entry_cutoff_minutes, settings.flatten_minutes) == (30, 5)
    assert settings.daily_loss_cap_pct == 2.0
    assert settings.max_open_positions is None
    assert settings.params == Params()
    assert (settings.llm_base_url, settings.llm_model) == (
        "https://api.deepseek.com",
        "deepseek-chat",
    )
    assert settings.otel_endpoint is None and not settings.otlp_enabled
    assert settings.log_level == "INFO"


def test_weekly_bot_has_its_own_client_id_default_and_variable() -> None:
    assert load(bot="weekly").ib_client_id == 1
    assert (
        load(env={"IB_WEEKLY_CLIENT_ID": "11", "IB_CLIENT_ID": "12"}, bot="weekly").ib_client_id
        == 11
    )
    assert load(env={"IB_WEEKLY_CLIENT_ID": "11", "IB_CLIENT_ID": "12"}).ib_client_id == 12


def test_dotenv_overrides_defaults(tmp_path: Path) -> None:
    settings = load(dotenv_path=write_env(tmp_path, "IB_PORT=4002\nLOG_LEVEL=debug\n"))
    assert settings.ib_port == 4002
    assert settings.log_level == "DEBUG"


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    dotenv = write_env(tmp_path, "IB_PORT=4002\n")
    assert load(env={"IB_PORT": "7497"}, dotenv_path=dotenv).ib_port == 7497


def test_cli_overrides_environment(tmp_path: Path) -> None:
    dotenv = write_env(tmp_path, "IB_HOST=10.0.0.1\n")
    settings = load(
        cli={"ib_host": "gateway.local"}, env={"IB_HOST": "10.0.0.2"}, dotenv_path=dotenv
    )
    assert settings.ib_host == "gateway.local"


def test_cli_none_means_flag_not_given() -> None:
    assert load(cli={"ib_port": None}, env={"IB_PORT": "4002"}).ib_port == 4002


def test_reading_dotenv_does_not_touch_os_environ(tmp_path: Path) -> None:
    name = "TRADE_CONFIG_TEST_ONLY_VARIABLE"
    dotenv = write_env(tmp_path, f"{name}=1\nIB_PORT=4002\n")
    load_settings(env={}, dotenv_path=dotenv)
    assert name not in os.environ


def test_missing_dotenv_file_is_not_an_error(tmp_path: Path) -> None:
    assert load(dotenv_path=tmp_path / "absent.env").ib_port == 4001


def test_empty_value_keeps_the_default() -> None:
    settings = load(env={"IB_PORT": "", "IB_ACCOUNT": "  "})
    assert (settings.ib_port, settings.ib_account) == (4001, None)


def test_bad_environment_value_names_variable_fix_and_source() -> None:
    with pytest.raises(ConfigError) as error:
        load(env={"IB_PORT": "abc"})
    message = str(error.value)
    assert message.startswith("IB_PORT='abc' is invalid: use a TCP port number 1-65535")
    assert message.endswith("(set in the environment)")
    assert "\n" not in message


def test_bad_dotenv_value_names_the_file(tmp_path: Path) -> None:
    dotenv = write_env(tmp_path, "FLATTEN_MINUTES=often\n")
    with pytest.raises(ConfigError, match=re.escape("FLATTEN_MINUTES='often' is invalid")) as error:
        load(dotenv_path=dotenv)
    assert str(error.value).endswith(f"(set in {dotenv})")


@pytest.mark.parametrize("value", ["0", "1.5", "abc", "-0.1", "nan", "inf"])
def test_bad_allocation_from_cli_names_the_flag(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(cli={"allocation": value})
    assert (
        str(error.value) == f"--allocation {value} is invalid: use a fraction in (0, 1], e.g. 0.25"
    )


@pytest.mark.parametrize(("value", "expected"), [("1", 1.0), ("0.25", 0.25), (0.5, 0.5)])
def test_allocation_accepts_fractions_up_to_one(value: object, expected: float) -> None:
    assert load(cli={"allocation": value}).allocation == expected


def test_weekly_allocation_can_come_from_the_environment() -> None:
    assert load(env={"WEEKLY_ALLOCATION": "0.4"}, bot="weekly").allocation == 0.4
    assert load(env={"WEEKLY_ALLOCATION": "0.4"}).allocation is None


@pytest.mark.parametrize("port", ["0", "65536", "-1", "4001.5", "true"])
def test_port_outside_tcp_range_is_rejected(port: str) -> None:
    with pytest.raises(ConfigError, match=f"--port {re.escape(port)} is invalid"):
        load(cli={"ib_port": port})


def test_api_key_is_masked_in_repr_and_str() -> None:
    settings = load(env={"DEEPSEEK_API_KEY": "sk-very-secret-123"})
    assert settings.deepseek_api_key == "sk-very-secret-123"
    assert settings.llm_enabled
    for text in (repr(settings), str(settings), str(settings.redacted())):
        assert "sk-very-secret-123" not in text
        assert "deepseek_api_key='****'" in text or "'deepseek_api_key': '****'" in text


def test_invalid_api_key_error_does_not_print_the_key() -> None:
    with pytest.raises(ConfigError) as error:
        load(env={"DEEPSEEK_API_KEY": "sk-secret with-space"})
    assert "sk-secret" not in str(error.value)
    assert str(error.value).startswith("DEEPSEEK_API_KEY='<hidden>' is invalid")


def test_account_is_masked_in_repr() -> None:
    settings = load(env={"IB_ACCOUNT": "DU1234567"})
    assert settings.ib_account == "DU1234567"
    assert "DU1234567" not in repr(settings)
    assert "****4567" in repr(settings)


def test_sim_uses_the_sim_database_and_ignores_db_path() -> None:
    settings = load(cli={"sim": True}, env={"DB_PATH": "real.db"})
    assert settings.db_path == Path("trading_history.sim.db")
    assert load(cli={"sim": True}, env={"SIM_DB_PATH": "s.db"}).db_path == Path("s.db")


def test_explicit_db_flag_wins_in_sim_mode() -> None:
    assert load(cli={"sim": True, "db_path": "mine.db"}).db_path == Path("mine.db")


def test_strategy_parameters_come_from_the_environment() -> None:
    settings = load(env={"STRATEGY_PROFIT_TARGET": "0.02", "STRATEGY_RSI_PERIOD": "10"})
    assert settings.params == Params(profit_target=0.02, rsi_period=10)


def test_position_pct_none_means_equal_split() -> None:
    assert load(env={"STRATEGY_POSITION_PCT": "none"}).params.position_pct is None
    assert load(env={"STRATEGY_POSITION_PCT": "0.1"}).params.position_pct == 0.1


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("STRATEGY_PROFIT_TARGET", "5", "a fraction such as 0.014"),
        ("STRATEGY_RSI_PERIOD", "2.5", "a whole number"),
        ("STRATEGY_STOP_LOSS", "tight", "a number"),
    ],
)
def test_bad_strategy_parameter_names_the_variable(name: str, value: str, fix: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(env={name: value})
    assert str(error.value) == f"{name}={value!r} is invalid: use {fix} (set in the environment)"


def test_given_params_are_used_as_they_are() -> None:
    tuned = Params(profit_target=0.02)
    assert load(cli={"params": tuned}, env={"STRATEGY_PROFIT_TARGET": "0.01"}).params is tuned


def test_entry_cutoff_before_flatten_time_is_rejected() -> None:
    with pytest.raises(
        ConfigError, match=r"ENTRY_CUTOFF_MINUTES=3 is invalid: use at least FLATTEN_MINUTES \(5\)"
    ):
        load(env={"ENTRY_CUTOFF_MINUTES": "3"})


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("3", 3)])
def test_max_open_positions_is_optional(raw: str, expected: int | None) -> None:
    assert load(env={"MAX_OPEN_POSITIONS": raw}).max_open_positions == expected


def test_max_open_positions_zero_is_rejected() -> None:
    with pytest.raises(
        ConfigError, match="MAX_OPEN_POSITIONS='0' is invalid: use a whole number >= 1"
    ):
        load(env={"MAX_OPEN_POSITIONS": "0"})


def test_otlp_settings_use_the_standard_variables() -> None:
    settings = load(
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
    )
    assert (settings.otel_endpoint, settings.otel_protocol) == ("http://collector:4317", "grpc")
    assert settings.otlp_enabled


def test_unknown_otlp_protocol_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="use one of grpc, http/protobuf, http/json"):
        load(env={"OTEL_EXPORTER_OTLP_PROTOCOL": "udp"})


def test_unknown_log_level_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="--log-level LOUD is invalid: use one of DEBUG, INFO"):
        load(cli={"log_level": "LOUD"})


def test_unknown_cli_setting_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'port'"):
        load(cli={"port": 4002})


def test_unknown_bot_is_rejected() -> None:
    with pytest.raises(ConfigError, match="bot 'nightly' is invalid"):
        load(bot="nightly")


def test_settings_are_frozen() -> None:
    settings = load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.ib_port = 1  # type: ignore[misc]  # the write the test expects to fail


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def _documented_variables() -> dict[str, str]:
    """Variable name -> the comment line directly above it in .env.example."""
    lines = (REPO / ".env.example").read_text().splitlines()
    documented: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if match:
            above = lines[index - 1] if index else ""
            documented[match[1]] = above if above.startswith("# ") else ""
    return documented


def test_env_example_documents_every_variable_with_a_comment() -> None:
    documented = _documented_variables()
    assert sorted(documented) == environment_variables()
    assert [name for name, comment in documented.items() if not comment] == []


@pytest.mark.parametrize("bot", ["day_trader", "weekly"])
def test_env_example_as_is_gives_the_defaults(bot: str) -> None:
    assert load(dotenv_path=REPO / ".env.example", bot=bot) == load(bot=bot)


def test_the_market_data_directory_is_one_setting_the_flag_overrides(tmp_path: Path) -> None:
    """MARKET_DATA_DIR (environment over .env), --sim-data over both; none set: None, and
    the commands that need real bars say so in one line naming the flag and the variable."""
    from trade.config import market_data_dir, no_market_data, require_market_data

    assert load().market_data_dir is None
    dotenv = write_env(tmp_path, "MARKET_DATA_DIR=/from/dotenv\n")
    assert load(dotenv_path=dotenv).market_data_dir == Path("/from/dotenv")
    env = {"MARKET_DATA_DIR": "/from/env"}
    assert load(env=env, dotenv_path=dotenv).market_data_dir == Path("/from/env")
    assert load({"market_data_dir": "/from/flag"}, env=env).market_data_dir == Path("/from/flag")
    assert market_data_dir(env={}, dotenv_path=dotenv) == Path("/from/dotenv")
    assert market_data_dir("/given", env=env) == Path("/given")
    assert market_data_dir(env={"MARKET_DATA_DIR": " "}, dotenv_path=None) is None
    with pytest.raises(ConfigError) as raised:
        require_market_data(None, "--data DIR", env={}, dotenv_path=None)
    assert str(raised.value) == no_market_data("--data DIR") == (
        "no market data directory: pass --data DIR or set MARKET_DATA_DIR (in the environment "
        "or .env) to a directory holding intraday/<SYM>/<YYYY-MM-DD>.csv and daily/<SYM>.csv")


def test_sim_data_dir_still_names_the_simulated_runs_data(tmp_path: Path) -> None:
    """Issue 22: SIM_DATA_DIR stays for simulated runs; MARKET_DATA_DIR, where set beside it,
    wins (an old .env keeps working)."""
    assert load(env={"SIM_DATA_DIR": "/data"}).market_data_dir == Path("/data")
    assert load(env={"SIM_DATA_DIR": "/old", "MARKET_DATA_DIR": "/new"}).market_data_dir \
        == Path("/new")
    dotenv = write_env(tmp_path, "SIM_DATA_DIR=/data\n")
    assert load(dotenv_path=dotenv).market_data_dir == Path("/data")
    assert market_data_dir(env={"SIM_DATA_DIR": "/data"}, dotenv_path=None) == Path("/data")
    assert load(env={"SIM_DATA_DIR": ""}).market_data_dir is None  # an empty line sets nothing
