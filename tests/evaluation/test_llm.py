"""evaluation.llm: the real ChatDeepSeek / ChatOpenAI clients against a loopback server.

Every failure mode is an answer with a status and no parsed value, never an exception; the API
key goes in the Authorization header and nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from evaluation.llm import LLMEndpoint, ask_structured, parse_strict
from tests.fakes.openai_server import FakeOpenAIServer

KEY = "sk-test-0123456789abcdefghijklmnop"


class Rating(BaseModel):
    summary: str
    score: float
    reasons: list[str]


GOOD = {"summary": "fine", "score": 0.7, "reasons": ["momentum", "low drawdown"]}


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    fake = await FakeOpenAIServer().start()
    yield fake
    await fake.stop()


def deepseek(server: FakeOpenAIServer, timeout_s: float = 5.0) -> LLMEndpoint:
    endpoint = LLMEndpoint.deepseek({"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_API_BASE": server.base_url,
                                     "LLM_TIMEOUT_S": str(timeout_s)})
    assert endpoint is not None
    return LLMEndpoint(endpoint.provider, endpoint.model, endpoint.base_url, endpoint.api_key,
                       endpoint.timeout_s, max_retries=0)


async def test_a_good_answer_parses_into_the_schema(server: FakeOpenAIServer) -> None:
    server.reply(GOOD)
    answer = await ask_structured(deepseek(server), Rating, "You rate stocks.", "Rate SPY.")
    assert answer.ok and answer.status == "ok"
    assert answer.parsed == Rating(**GOOD)
    assert answer.model == "deepseek:deepseek-chat"
    sent = server.requests[0]
    assert sent.body["model"] == "deepseek-chat"
    assert sent.body["response_format"] == {"type": "json_object"}
    assert "json" in sent.prompt_text.lower() and '"score"' in sent.prompt_text


async def test_the_key_is_sent_as_authorization_and_nowhere_else(server: FakeOpenAIServer) -> None:
    server.reply(GOOD)
    answer = await ask_structured(deepseek(server), Rating, "sys", "user")
    sent = server.requests[0]
    assert sent.authorization == f"Bearer {KEY}"
    assert KEY not in sent.prompt_text and KEY not in repr(answer)
    assert KEY not in repr(deepseek(server))


async def test_a_fenced_json_reply_is_accepted(server: FakeOpenAIServer) -> None:
    server.reply('```json\n{"summary": "s", "score": 1, "reasons": []}\n```')
    answer = await ask_structured(deepseek(server), Rating, "sys", "user")
    assert answer.ok and answer.parsed is not None and answer.parsed.score == 1.0


@pytest.mark.parametrize(("content", "status_start"), [
    ("I think SPY looks great!", "error: invalid json"),
    ('[{"summary": "s"}]', "error: invalid json"),
    ('{"summary": "s", "reasons": []}', "error: schema: score"),
    ('{"summary": "s", "score": "0.7", "reasons": []}', "error: schema: score"),
    ('{"summary": "s", "score": 0.7, "reasons": "many"}', "error: schema: reasons"),
])
async def test_garbage_and_wrong_types_are_errors_not_values(
    server: FakeOpenAIServer, content: str, status_start: str
) -> None:
    server.reply(content)
    answer = await ask_structured(deepseek(server), Rating, "sys", "user")
    assert not answer.ok and answer.parsed is None
    assert answer.status.startswith(status_start), answer.status
    assert answer.raw == content


async def test_http_errors_and_timeouts_are_statuses(server: FakeOpenAIServer) -> None:
    server.reply_status(503)
    answer = await ask_structured(deepseek(server), Rating, "sys", "user")
    assert answer.status == "error: http 503" and answer.parsed is None
    server.reply_after(2.0)
    answer = await ask_structured(deepseek(server, timeout_s=0.3), Rating, "sys", "user")
    assert answer.status.startswith("error: timeout"), answer.status


async def test_an_unreachable_server_is_a_status() -> None:
    endpoint = LLMEndpoint("local", "m", "http://127.0.0.1:9/v1", timeout_s=1.0, max_retries=0)
    answer = await ask_structured(endpoint, Rating, "sys", "user")
    assert answer.status == "error: unreachable"


async def test_no_endpoint_means_skipped() -> None:
    answer = await ask_structured(None, Rating, "sys", "user", skipped_because="no DEEPSEEK_API_KEY")
    assert answer.status == "skipped: no DEEPSEEK_API_KEY" and answer.parsed is None
    assert LLMEndpoint.deepseek({}) is None and LLMEndpoint.deepseek({"DEEPSEEK_API_KEY": " "}) is None


async def test_a_local_openai_compatible_server(server: FakeOpenAIServer) -> None:
    endpoint = LLMEndpoint.local({"LOCAL_LLM_BASE_URL": server.base_url, "LOCAL_LLM_MODEL": "qwen"})
    assert endpoint is not None and endpoint.label == "local:qwen"
    server.reply(GOOD)
    answer = await ask_structured(endpoint, Rating, "sys", "user")
    assert answer.ok and server.requests[-1].body["model"] == "qwen"


def test_parse_strict_accepts_only_one_object_of_exact_types() -> None:
    assert parse_strict(Rating, '{"summary": "s", "score": 2, "reasons": ["a"]}').score == 2.0
    with pytest.raises(ValueError):
        parse_strict(Rating, 'prefix {"summary": "s", "score": 2, "reasons": []}')


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_numbers(constant: str) -> None:
    """Python's parser takes them; the schema then passed a NaN score on (defect: a NaN
    recommendation crashed the nightly cycle after its commit)."""
    with pytest.raises(ValueError, match=f"{constant} is not a JSON number"):
        parse_strict(Rating, f'{{"summary": "s", "score": {constant}, "reasons": []}}')


async def test_an_answer_with_nan_is_an_error_status(server: FakeOpenAIServer) -> None:
    server.reply('{"summary": "s", "score": NaN, "reasons": []}')
    answer = await ask_structured(deepseek(server), Rating, "sys", "user")
    assert not answer.ok and answer.parsed is None
    assert answer.status == "error: invalid json: NaN is not a JSON number"
