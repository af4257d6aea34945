"""Secrets never leave the process: keys and values that look secret are dropped, accounts masked."""

from __future__ import annotations

from observability.redaction import mask_account, redact, redact_json, scrub_text


def test_secret_named_keys_are_dropped() -> None:
    attrs = {"api_key": "x", "OPENAI_API_KEY": "x", "token": "x", "password": "x",
             "llm.authorization": "x", "trading.symbol": "SPY"}
    assert redact(attrs) == {"trading.symbol": "SPY"}


def test_values_that_look_like_tokens_are_dropped_whatever_the_key() -> None:
    attrs = {"note": "sk-ant-abcdefghijklmnopqrstu", "jwt": "eyJhbGc.eyJzdWIi.c2lnbmF0dXJl",
             "header": "Bearer abc.def", "order_ref": "DT-20250703-SPY-1-ENTRY"}
    assert redact(attrs) == {"order_ref": "DT-20250703-SPY-1-ENTRY"}


def test_account_ids_keep_only_their_last_four_characters() -> None:
    assert mask_account("DU1234567") == "****4567"
    assert redact({"trading.account": "U7654321", "account_id": "DU1111222"}) == {
        "trading.account": "****4321", "account_id": "****1222"}


def test_free_text_is_scrubbed_of_tokens_and_account_ids() -> None:
    text = "LLM call with sk-abcdefghijklmnopqrstuvwx failed for DU1234567"
    assert scrub_text(text) == "LLM call with [redacted] failed for ****4567"


def test_nested_json_is_redacted_at_every_level() -> None:
    content = {"insights": [{"text": "ok", "secret": "s"}], "meta": {"password": "p", "n": 3}}
    assert redact_json(content) == {"insights": [{"text": "ok"}], "meta": {"n": 3}}
