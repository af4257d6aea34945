"""One long-lived event loop (on its own daemon thread) for the cycle's LLM calls.

Why: the LLM client (langchain-openai over httpx) caches one async HTTP client per base URL and
timeout for the whole process, and its pooled connections belong to the event loop that opened
them. A cycle runs once per night, and the multi-day simulation runs it once per simulated day
in one process; with a fresh `asyncio.run` loop per call, the second call would reuse
connections of a closed loop. Running every call on this one loop keeps the cached client
valid, and the caller only blocks on the answer (the call itself never raises: see
evaluation.llm).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def run_on_llm_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on the shared LLM loop and wait for its result (from any thread)."""
    return asyncio.run_coroutine_threadsafe(work, _shared_loop()).result()


def _shared_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="llm-loop", daemon=True).start()
            _loop = loop
        return _loop
