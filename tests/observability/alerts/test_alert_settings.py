"""ALERT_URLS / --alert-url and ALERT_MUTE / --alert-mute: read, validated, never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability.alerts.config import AlertSettings, masked_url, parse_mute, split_urls
from trade.config import ConfigError, load_settings

TG = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8/987654321"
MAIL = "mailtos://alerts:app-pass-0123456789@smtp.example.com?to=a@example.com,b@example.com"
HOOK = "json://127.0.0.1:8089/alerts"


def load(**kwargs):  # noqa: ANN003, ANN201 - thin wrapper
    kwargs.setdefault("env", {})
    kwargs.setdefault("dotenv_path", None)
    return load_settings(**kwargs)


def test_urls_split_on_spaces_commas_and_semicolons_but_not_inside_a_url() -> None:
    assert split_urls(f" {TG}, {MAIL}\n{HOOK};") == [TG, MAIL, HOOK]
    assert split_urls(f"{TG},{HOOK}") == [TG, HOOK]


def test_urls_come_from_the_environment_dotenv_or_repeated_flags(tmp_path: Path) -> None:
    assert load(env={"ALERT_URLS": f"{TG} {HOOK}"}).alert_urls == (TG, HOOK)
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"ALERT_URLS={MAIL}\n")
    assert load(dotenv_path=dotenv).alert_urls == (MAIL,)
    # the flags win over the environment, and a repeated flag adds URLs
    settings = load(cli={"alert_urls": [TG, HOOK]}, env={"ALERT_URLS": MAIL}, bot="weekly")
    assert settings.alert_urls == (TG, HOOK)
    assert load().alert_urls == ()


def test_an_invalid_url_is_named_by_position_and_scheme_never_by_its_token() -> None:
    bad = "tgram://not-a-token/42"
    with pytest.raises(ConfigError) as error:
        load(env={"ALERT_URLS": f"{HOOK} {bad}"})
    message = str(error.value)
    assert message.startswith("ALERT_URLS entry 2 (tgram://…) is invalid: use apprise URLs")
    assert "(set in the environment)" in message and "not-a-token" not in message
    with pytest.raises(ConfigError) as error:
        load(cli={"alert_urls": ["nosuchservice://secret-thing"]})
    assert str(error.value).startswith("--alert-url nosuchservice://… is invalid: use apprise")
    assert "secret-thing" not in str(error.value)


def test_the_settings_show_only_the_schemes_of_the_urls() -> None:
    settings = load(env={"ALERT_URLS": f"{TG} {MAIL}"})
    for text in (repr(settings), str(settings.redacted())):
        assert "AAHdqTcv" not in text and "app-pass" not in text
        assert "tgram://…" in text and "mailtos://…" in text
    assert settings.alerts.describe() == "alerts: 2 endpoint(s): tgram://…, mailtos://…"
    assert AlertSettings().describe().startswith("alerts: log only")


@pytest.mark.parametrize(("text", "levels"), [
    ("info", ("info",)), ("warning, INFO", ("warning", "info")), ("none", ()), ("", ()),
    ("critical,info", ("critical", "info")),
])
def test_mute_levels_are_parsed_most_urgent_first(text: str, levels: tuple[str, ...]) -> None:
    assert parse_mute(text) == levels


def test_a_bad_mute_level_is_one_line_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^ALERT_MUTE loud is invalid: use levels"):
        load(env={"ALERT_MUTE": "info,loud"})
    with pytest.raises(ConfigError, match=r"^--alert-mute debug is invalid: use levels"):
        load(cli={"alert_mute": "debug"})
    assert load(cli={"alert_mute": "info"}).alert_mute == ("info",)


def test_masked_url_keeps_the_scheme_only() -> None:
    assert masked_url(TG) == "tgram://…"
    assert masked_url("garbage") == "…"
