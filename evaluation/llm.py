"""The one LLM client of the project: DeepSeek through `langchain-deepseek`, or any local
OpenAI-compatible server (Ollama, llama.cpp, vLLM), asked for one JSON object of a strict schema.

Why one module: the nightly insights and the weekly analyst must fail the same safe way. An LLM
is advice, never a dependency: a missing key, a timeout, an HTTP error, a reply that is not JSON
or does not fit the schema all come back as an `LLMAnswer` with a `status` saying so and
`parsed=None`, never as an exception into the caller, so nothing downstream changes on a bad
answer. The API key lives in a `SecretStr` inside the client; it is never put into the prompt, the
answer, a log line, a span or the DB (the key is scrubbed from any error text we keep).

Structured output: the client's own support steers the model (`with_structured_output(...,
method="json_mode")`, which DeepSeek and Ollama implement as `response_format=json_object`), and
the raw reply then gets one strict parse of ours (the whole reply, optionally inside a ```json
fence, must be one JSON object that validates against the schema with no type coercion; the
client's own parser would turn "1.5" into 1.5). Nothing looser: a half-parsed recommendation
must not become a parameter change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from observability import tracing
from observability.redaction import scrub_text
from observability.tracing import SpanNames

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

DEEPSEEK_DEFAULT_MODEL = "deepseek-chat"
DEEPSEEK_DEFAULT_BASE = "https://api.deepseek.com"
LOCAL_DEFAULT_MODEL = "llama3.1"
DEFAULT_TIMEOUT_S = 30.0
RAW_KEEP_CHARS = 4000  # what an answer keeps of the raw reply for the evaluations table
_FENCE = re.compile(r"^\s*```(?:json)?\s*(?P<body>.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LLMEndpoint:
    """Where to ask: `provider` is `deepseek` or `local` (any OpenAI-compatible server)."""

    provider: str
    model: str
    base_url: str
    api_key: SecretStr | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = 1

    @classmethod
    def deepseek(cls, env: Mapping[str, str]) -> LLMEndpoint | None:
        """From `DEEPSEEK_API_KEY` / `DEEPSEEK_API_BASE` / `DEEPSEEK_MODEL`; None without a key."""
        key = (env.get("DEEPSEEK_API_KEY") or "").strip()
        if not key:
            return None
        return cls(
            provider="deepseek",
            model=(env.get("DEEPSEEK_MODEL") or DEEPSEEK_DEFAULT_MODEL).strip(),
            base_url=(env.get("DEEPSEEK_API_BASE") or DEEPSEEK_DEFAULT_BASE).strip(),
            api_key=SecretStr(key),
            timeout_s=_timeout(env.get("LLM_TIMEOUT_S")),
        )

    @classmethod
    def local(cls, env: Mapping[str, str]) -> LLMEndpoint | None:
        """From `LOCAL_LLM_BASE_URL` (e.g. http://127.0.0.1:11434/v1) / `LOCAL_LLM_MODEL`."""
        base = (env.get("LOCAL_LLM_BASE_URL") or "").strip()
        if not base:
            return None
        key = (env.get("LOCAL_LLM_API_KEY") or "").strip()
        return cls(
            provider="local",
            model=(env.get("LOCAL_LLM_MODEL") or LOCAL_DEFAULT_MODEL).strip(),
            base_url=base,
            api_key=SecretStr(key) if key else None,
            timeout_s=_timeout(env.get("LLM_TIMEOUT_S")),
        )

    @property
    def label(self) -> str:
        """What reports show: provider and model, never the key."""
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class LLMAnswer(Generic[T]):
    """The outcome of one question. `status` is `ok`, `skipped: <why>` or `error: <what>`."""

    status: str
    model: str
    parsed: T | None = None
    raw: str = ""
    latency_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.parsed is not None


def _timeout(text: str | None) -> float:
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def schema_instructions(schema: type[BaseModel]) -> str:
    """The system-prompt paragraph that asks for exactly one JSON object of `schema`.

    JSON mode at DeepSeek requires the word "json" in the prompt; the schema itself tells the
    model the field names and types we will validate against."""
    return (
        "Answer with exactly one JSON object and nothing else (no prose, no markdown). "
        "It must validate against this JSON schema:\n"
        + json.dumps(schema.model_json_schema(), separators=(",", ":"), sort_keys=True)
    )


def _no_constant(name: str) -> Any:
    """`NaN`, `Infinity` and `-Infinity` are not JSON (RFC 8259), though Python's parser takes
    them: a number that is not finite must never reach a parameter, a report or the DB."""
    raise ValueError(f"{name} is not a JSON number")


def parse_strict(schema: type[T], text: str) -> T:
    """The reply as `schema`: the whole text (optionally in a ```json fence) must be one JSON
    object valid without type coercion and with finite numbers only. Raises ValueError (bad
    JSON, NaN/Infinity) or ValidationError."""
    match = _FENCE.match(text)
    body = match.group("body") if match else text.strip()
    data = json.loads(body, parse_constant=_no_constant)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return schema.model_validate(data, strict=True)


def _chat_model(endpoint: LLMEndpoint) -> Any:
    """The langchain chat model for `endpoint` (imported lazily: langchain is slow to import)."""
    common: dict[str, Any] = {
        "model": endpoint.model,
        "timeout": endpoint.timeout_s,
        "max_retries": endpoint.max_retries,
        "temperature": 0.0,
    }
    if endpoint.provider == "deepseek":
        from langchain_deepseek import ChatDeepSeek

        return ChatDeepSeek(api_key=endpoint.api_key, api_base=endpoint.base_url, **common)
    from langchain_openai import ChatOpenAI

    # the OpenAI client insists on some key; local servers ignore it
    key = endpoint.api_key or SecretStr("not-needed")
    return ChatOpenAI(api_key=key, base_url=endpoint.base_url, **common)


def _describe_failure(exc: BaseException, endpoint: LLMEndpoint) -> str:
    """`error: <what>` for a failed call, with nothing secret in it."""
    import openai

    if isinstance(exc, openai.APITimeoutError | asyncio.TimeoutError | TimeoutError):
        return f"error: timeout after {endpoint.timeout_s:g}s"
    if isinstance(exc, openai.APIStatusError):
        return f"error: http {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "error: unreachable"
    text = str(exc)
    if endpoint.api_key is not None:
        text = text.replace(endpoint.api_key.get_secret_value(), "[redacted]")
    return f"error: {type(exc).__name__}: {scrub_text(text)[:200]}"


async def ask_structured(
    endpoint: LLMEndpoint | None,
    schema: type[T],
    system: str,
    user: str,
    *,
    skipped_because: str = "no LLM configured",
) -> LLMAnswer[T]:
    """Ask `endpoint` one question and parse the answer into `schema`; never raises.

    `endpoint=None` returns `skipped: <skipped_because>` at once (e.g. "skipped: no
    DEEPSEEK_API_KEY"). The caller builds `system`/`user` from data it has checked to hold no
    secret; this function adds only the schema instructions."""
    if endpoint is None:
        return LLMAnswer(status=f"skipped: {skipped_because}", model="none")
    started = time.perf_counter()
    with tracing.span(SpanNames.LLM_CALL, attrs={
        "llm.provider": endpoint.provider, "llm.model": endpoint.model,
    }) as span:
        answer = await _ask(endpoint, schema, system, user, started)
        tracing.set_attrs(span, attrs={"llm.status": answer.status,
                                       "llm.latency_ms": round(answer.latency_ms, 1)})
    if not answer.ok:
        log.warning("LLM %s: %s", endpoint.label, answer.status)
    return answer


async def _ask(endpoint: LLMEndpoint, schema: type[T], system: str, user: str,
               started: float) -> LLMAnswer[T]:
    def done(status: str, parsed: T | None = None, raw: str = "") -> LLMAnswer[T]:
        return LLMAnswer(status, endpoint.label, parsed, raw[:RAW_KEEP_CHARS],
                         (time.perf_counter() - started) * 1000.0)

    messages = [("system", f"{system}\n\n{schema_instructions(schema)}"), ("human", user)]
    try:
        model = _chat_model(endpoint).with_structured_output(
            schema, method="json_mode", include_raw=True
        )
        # the client's own timeout covers the HTTP call; this one also covers retries
        limit = endpoint.timeout_s * (endpoint.max_retries + 1) + 1.0
        result = await asyncio.wait_for(model.ainvoke(messages), timeout=limit)
    except Exception as exc:  # any failure of the call is an answer, never a crash
        return done(_describe_failure(exc, endpoint))
    raw_message = result.get("raw")
    raw = raw_message.content if isinstance(getattr(raw_message, "content", None), str) else ""
    if not raw.strip():
        # no text to check ourselves (e.g. a tool-call reply): take the client's parse if any
        parsed = result.get("parsed")
        if isinstance(parsed, schema):
            return done("ok", parsed)
        return done("error: empty answer")
    try:  # our strict parse decides, not the client's coercing one ("1.5" is not a number)
        return done("ok", parse_strict(schema, raw), raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
        return done(f"error: schema: {where}: {first.get('msg', 'invalid')}", raw=raw)
    except ValueError as exc:
        return done(f"error: invalid json: {str(exc)[:120]}", raw=raw)
