"""OpenTelemetry tracing for one named service (`day-trader`, `weekly-portfolio`, `ib-gateway-sim`).

Why it is shaped this way:
- Off unless the standard `OTEL_EXPORTER_OTLP_*` variables ask for it: the tracer is then OTel's
  no-op tracer and `span()` returns before building any attribute, so an untraced bot pays nothing.
- Each `setup_tracing` call builds its *own* `TracerProvider` and hands out tracers from it; the
  global provider (settable once per process) is never touched, so tests and the simulator can set
  up tracing many times in one process.
- Export runs on the BatchSpanProcessor's thread with a short per-request timeout, and `shutdown()`
  waits at most `shutdown_timeout_s`: an unreachable or silent collector never stalls the event
  loop or the bot's exit.
- Every attribute passes through `redact()`: secrets never leave the process.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import INVALID_SPAN, Span, Status, StatusCode, Tracer

from observability.quiet_export import QuietExporter
from observability.redaction import redact, scrub_text

log = logging.getLogger(__name__)

SERVICES = ("day-trader", "weekly-portfolio", "ib-gateway-sim")
DEFAULT_EXPORT_TIMEOUT_S = 0.5
DEFAULT_SHUTDOWN_TIMEOUT_S = 1.0
_PROTOCOLS = ("http/protobuf", "grpc")


class SpanNames:
    """The span names docs/traces-in-jaeger.md describes; use these so traces read the same in
    every service. Dotted names are `<component>.<action>`; a bar's root span names its symbol."""

    DECIDE = "decide"
    RISK_CHECK = "risk.check"
    PLACE_BRACKET = "order.place_bracket"
    PLACE_MARKET = "order.place_market"
    CANCEL = "order.cancel"
    FILL = "fill"
    RECONNECT = "connection.reconnect"
    SYNC = "sync.reconcile"
    FLATTEN = "flatten"
    LLM_CALL = "llm.call"

    @staticmethod
    def bar(symbol: str) -> str:
        return f"bar {symbol}"

    @staticmethod
    def agent(name: str) -> str:
        return f"agent.{name}"


class TracingConfigError(ValueError):
    """An OTEL_* variable that cannot be honoured (one line, naming the variable)."""


@dataclass(frozen=True, slots=True)
class ExportTarget:
    protocol: str  # http/protobuf | grpc
    endpoint: str  # full URL of the traces endpoint (http) or the collector (grpc)


def export_target(environ: Mapping[str, str]) -> ExportTarget | None:
    """Where spans go according to the standard variables, or None when tracing is off.

    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is; `OTEL_EXPORTER_OTLP_ENDPOINT` is a base
    URL to which HTTP appends `/v1/traces` (as the OTLP spec says). Protocol defaults to
    http/protobuf, the spec's default. `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`
    turn export off.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    var = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    protocol = environ.get(var, "").strip()
    if not protocol:
        var = "OTEL_EXPORTER_OTLP_PROTOCOL"
        protocol = environ.get(var, "").strip() or "http/protobuf"
    if protocol not in _PROTOCOLS:
        raise TracingConfigError(
            f"{var}={protocol!r} is not supported: use http/protobuf or grpc"
        )
    signal_endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    base_endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if signal_endpoint:
        endpoint = signal_endpoint
    elif base_endpoint:
        endpoint = base_endpoint
        if protocol == "http/protobuf":
            endpoint = endpoint.rstrip("/") + "/v1/traces"
    else:
        return None
    if not endpoint.startswith(("http://", "https://")):
        name = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" if signal_endpoint else "OTEL_EXPORTER_OTLP_ENDPOINT"
        raise TracingConfigError(
            f"{name}={endpoint!r} has no scheme: use a URL such as http://localhost:4318"
        )
    return ExportTarget(protocol, endpoint)


@dataclass(slots=True)
class TracingHandle:
    """The service's tracer and the means to flush and stop it. Safe to shut down twice."""

    service_name: str
    tracer: Tracer
    provider: TracerProvider | None = None
    target: ExportTarget | None = None
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    _closed: bool = field(default=False, repr=False)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @contextmanager
    def span(self, name: str, attrs: Mapping[str, Any] | None = None,
             **trading: Any) -> Iterator[Span]:
        """A child of the current span. Keyword attributes become `trading.<key>`; `attrs` keys
        are used as given. An exception marks the span as an error (message scrubbed) and is
        re-raised; cancellation is not an error."""
        if self.provider is None:
            yield INVALID_SPAN
            return
        attributes = _attributes(attrs, trading)
        with self.tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as current:
            try:
                yield current
            except Exception as exc:
                _mark_error(current, exc)
                raise

    def force_flush(self, timeout_s: float | None = None) -> bool:
        if self.provider is None:
            return True
        return self.provider.force_flush(int((timeout_s or self.shutdown_timeout_s) * 1000))

    def shutdown(self) -> None:
        """Export what is queued and stop, waiting at most `shutdown_timeout_s`."""
        if self._closed:
            return
        self._closed = True
        global _current
        if _current is self:
            _current = None
        if self.provider is None:
            return
        atexit.unregister(self.shutdown)
        worker = threading.Thread(target=self.provider.shutdown, name="otel-shutdown", daemon=True)
        worker.start()
        worker.join(self.shutdown_timeout_s)
        if worker.is_alive():
            log.warning("tracing: collector did not answer within %.1fs; dropped unsent spans",
                        self.shutdown_timeout_s)


_current: TracingHandle | None = None


def setup_tracing(service_name: str, *, console: bool = False,
                  environ: Mapping[str, str] | None = None,
                  export_timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S,
                  shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S) -> TracingHandle:
    """Tracing for `service_name` from the OTEL_* variables (`environ`, default os.environ).

    Returns a no-op handle when no endpoint is set and `console` is False. The newest handle
    also serves the module-level `span()` helper until it is shut down.
    """
    global _current
    if not service_name:
        raise TracingConfigError(f"service_name is empty: use one of {', '.join(SERVICES)}")
    env = os.environ if environ is None else environ
    target = export_target(env)
    if target is None and not console:
        handle = TracingHandle(service_name, trace.NoOpTracer())
        _current = handle
        return handle
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}),
                              shutdown_on_exit=False)
    if target is not None:
        provider.add_span_processor(BatchSpanProcessor(
            QuietExporter(_exporter(target, export_timeout_s), target.endpoint),
            schedule_delay_millis=500,
            export_timeout_millis=export_timeout_s * 1000,
        ))
    if console:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout)))
    handle = TracingHandle(service_name, provider.get_tracer("trading"), provider, target,
                           shutdown_timeout_s)
    atexit.register(handle.shutdown)
    _current = handle
    return handle


def current() -> TracingHandle | None:
    return _current


@contextmanager
def span(name: str, attrs: Mapping[str, Any] | None = None, **trading: Any) -> Iterator[Span]:
    """`TracingHandle.span` on the newest live handle; a no-op when tracing is not set up."""
    handle = _current
    if handle is None or handle.provider is None:
        yield INVALID_SPAN
        return
    with handle.span(name, attrs, **trading) as current_span:
        yield current_span


def current_context() -> Context:
    """The active trace context, to continue a trace later (a fill arrives long after its
    decision: `span_under(saved, "fill")` puts it in the decision's trace)."""
    return otel_context.get_current()


@contextmanager
def span_under(parent: Context | None, name: str, attrs: Mapping[str, Any] | None = None,
               **trading: Any) -> Iterator[Span]:
    """`span()` as a child of a saved context (or of the current one when `parent` is None)."""
    if parent is None:
        with span(name, attrs, **trading) as current_span:
            yield current_span
        return
    token = otel_context.attach(parent)
    try:
        with span(name, attrs, **trading) as current_span:
            yield current_span
    finally:
        otel_context.detach(token)


def trading_attrs(**values: Any) -> dict[str, Any]:
    """`trading_attrs(symbol="SPY", qty=10)` -> `{"trading.symbol": "SPY", "trading.qty": 10}`;
    None values are left out, enums/dates become strings."""
    return {f"trading.{k}": _attr_value(v) for k, v in values.items() if v is not None}


def set_attrs(target: Span, attrs: Mapping[str, Any] | None = None, **trading: Any) -> None:
    """Add attributes to a live span (e.g. the fill price once it is known), redacted."""
    if target.is_recording():
        target.set_attributes(_attributes(attrs, trading))


def _attributes(attrs: Mapping[str, Any] | None, trading: Mapping[str, Any]) -> dict[str, Any]:
    merged = {k: _attr_value(v) for k, v in (attrs or {}).items() if v is not None}
    merged.update(trading_attrs(**trading))
    return redact(merged)


def _attr_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_attr_value(v) for v in value]
    return str(value)


def _mark_error(target: Span, exc: Exception) -> None:
    message = scrub_text(f"{type(exc).__name__}: {exc}")
    target.set_status(Status(StatusCode.ERROR, message))
    target.add_event("exception", {
        "exception.type": type(exc).__name__,
        "exception.message": scrub_text(str(exc)),
        "exception.stacktrace": scrub_text("".join(traceback.format_exception(exc))),
    })


def _exporter(target: ExportTarget, timeout_s: float) -> SpanExporter:
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(endpoint=target.endpoint, timeout=timeout_s)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=target.endpoint, timeout=timeout_s)


@contextmanager
def suspended() -> Iterator[None]:
    """No spans from the module-level helpers while inside: for replaying the trader in-process
    (a backtest validating a parameter change), whose thousands of decisions never happened and
    must not reach the collector next to the live ones. The handle is restored afterwards."""
    global _current
    saved, _current = _current, None
    try:
        yield
    finally:
        _current = saved
