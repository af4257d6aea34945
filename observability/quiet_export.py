"""A span exporter that says once that the collector is unreachable, and counts the rest.

The OTLP exporters log an error (with a stack trace) for every failed batch: a collector that is
down printed 116 of them into a trading day's output. Trading output is for trading, so the
first failure is one warning line, later ones are counted, and the count is reported once at
shutdown ("tracing: 116 span batch(es) not exported ...").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("observability.tracing")

# the exporters' own per-batch error logs (with stack traces): replaced by the lines below
NOISY_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                 "opentelemetry.exporter.otlp.proto.grpc.exporter",
                 "opentelemetry.sdk.trace.export")


class QuietExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, where: str) -> None:
        self.inner = inner
        self.where = where
        self.failed_batches = 0
        self.failed_spans = 0
        self._lock = threading.Lock()
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # an exporter that raises instead of reporting FAILURE
            result, why = SpanExportResult.FAILURE, f"{type(exc).__name__}: {exc}"
        else:
            why = "no answer or an error status"
        if result is SpanExportResult.FAILURE:
            with self._lock:
                self.failed_batches += 1
                self.failed_spans += len(spans)
                first = self.failed_batches == 1
            if first:
                log.warning("tracing: spans could not be exported to %s (%s); trading goes on, "
                            "further failures are counted and reported at shutdown",
                            self.where, why)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()
        if self.failed_batches:
            log.warning("tracing: %d span batch(es) (%d spans) not exported to %s",
                        self.failed_batches, self.failed_spans, self.where)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)
