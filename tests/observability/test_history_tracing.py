"""With a tracer, every history write is a `db.<op>` span under the caller's span."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from observability.history import HistoryDB
from tests.observability.conftest import make_trade


def test_writes_become_db_spans_children_of_the_current_span(db_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with HistoryDB.open(db_path, tracer=tracer) as history, tracer.start_as_current_span("fill"):
        history.record_trade(make_trade(1, 5.0))
        history.daily_summary(make_trade(1, 5.0).trading_date)  # reads are not traced
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"fill", "db.record_trade"}
    write = spans["db.record_trade"]
    assert write.parent is not None and write.parent.span_id == spans["fill"].context.span_id
    assert write.attributes == {"db.system": "sqlite", "db.operation": "record_trade"}
    provider.shutdown()
