"""Keep secrets out of spans and the history DB.

Traces leave the process (to a collector, to Jaeger) and the history DB is copied around for
analysis, so neither may ever hold an API key, a token, a password or a full IB account number.
Callers should not pass such things in the first place; this is the guard for when they do:
attributes whose *key* names a secret are dropped, values that *look* like a token are dropped,
and account ids are cut to their last 4 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SECRET_KEY = re.compile(
    r"(api[_.-]?key|apikey|secret|token|passw(or)?d|passwd|pwd|credential|private[_.-]?key"
    r"|bearer|authorization|auth[_.-]?header|cookie|session[_.-]?id)",
    re.IGNORECASE,
)
_ACCOUNT_KEY = re.compile(r"(^|[_.])(account|acct)([_.]?id)?$", re.IGNORECASE)
_SECRET_VALUE = re.compile(
    r"^(?:(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"  # LLM provider keys (sk-..., sk-ant-...)
    r"|Bearer\s+\S+"
    r"|eyJ[\w-]+\.[\w-]+\.[\w-]+"  # JWT
    r"|[A-Za-z0-9+/_-]{40,}={0,2})$"  # long opaque token
)
_SECRET_IN_TEXT = re.compile(
    r"(?:(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}|Bearer\s+[A-Za-z0-9._~+/=-]+|eyJ[\w-]+\.[\w-]+\.[\w-]+)"
)
# IB account ids: U1234567 (live), DU1234567 (paper), DF/DI advisor ids.
_ACCOUNT_IN_TEXT = re.compile(r"\b(?:DU|DF|DI|U|F|I)\d{5,10}\b")

REDACTED = "[redacted]"


def mask_account(account: str) -> str:
    """`DU1234567` -> `****4567`: enough to tell accounts apart, useless to anyone else."""
    text = str(account or "")
    if not text:
        return ""
    return "****" + text[-4:]


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def looks_like_secret(value: Any) -> bool:
    return isinstance(value, str) and bool(_SECRET_VALUE.match(value.strip()))


def scrub_text(text: str) -> str:
    """Free text (exception messages, LLM output): tokens replaced, account ids masked."""
    text = _SECRET_IN_TEXT.sub(REDACTED, text)
    return _ACCOUNT_IN_TEXT.sub(lambda m: mask_account(m.group(0)), text)


def redact(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `attrs` that is safe to export: secret keys/values dropped, accounts masked."""
    safe: dict[str, Any] = {}
    for key, value in attrs.items():
        if is_secret_key(key) or looks_like_secret(value):
            continue
        if _ACCOUNT_KEY.search(key):
            safe[key] = mask_account(str(value))
        elif isinstance(value, str):
            safe[key] = scrub_text(value)
        else:
            safe[key] = value
    return safe


def redact_json(value: Any) -> Any:
    """`redact` applied recursively to JSON-shaped data (dicts, lists, scalars)."""
    if isinstance(value, Mapping):
        return {k: redact_json(v) for k, v in redact({str(k): v for k, v in value.items()}).items()}
    if isinstance(value, list | tuple):
        return [redact_json(v) for v in value if not looks_like_secret(v)]
    if isinstance(value, str):
        return scrub_text(value)
    return value
