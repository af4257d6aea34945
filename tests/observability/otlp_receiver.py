"""Loopback OTLP receivers for tests: what a collector (or Jaeger) would receive from our bots.

`OtlpHttpReceiver` serves `POST /v1/traces` (protobuf `ExportTraceServiceRequest`, gzip/deflate
aware); `OtlpGrpcReceiver` serves the OTLP gRPC TraceService. Both decode every span into a plain
`ReceivedSpan` so tests assert on names, parent/child links and attributes without protobuf code:

    with OtlpHttpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        handle = setup_tracing("day-trader", environ=env)
        ...
        handle.shutdown()
        spans = receiver.wait_for_spans(3)
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    name: str
    service_name: str
    trace_id: str  # hex
    span_id: str  # hex
    parent_span_id: str  # hex, "" for a root span
    attributes: dict[str, Any]
    status: str  # UNSET | OK | ERROR
    status_message: str
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)


def decode_request(body: bytes) -> list[ReceivedSpan]:
    """Every span in one serialized `ExportTraceServiceRequest`."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return _spans_of(request)


def _spans_of(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attrs(resource_spans.resource.attributes)
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                spans.append(ReceivedSpan(
                    name=s.name, service_name=service, trace_id=s.trace_id.hex(),
                    span_id=s.span_id.hex(), parent_span_id=s.parent_span_id.hex(),
                    attributes=_attrs(s.attributes), status=_STATUS.get(s.status.code, "UNSET"),
                    status_message=s.status.message,
                    events=[(e.name, _attrs(e.attributes)) for e in s.events], resource=resource,
                ))
    return spans


def _attrs(key_values: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in key_values}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attrs(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


class _Collected:
    """Spans received so far, shared by the receiver and its server threads."""

    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self._cond = threading.Condition()
        self.requests = 0

    def add(self, spans: list[ReceivedSpan]) -> None:
        with self._cond:
            self._spans.extend(spans)
            self.requests += 1
            self._cond.notify_all()

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._cond:
            return list(self._spans)

    def wait_for(self, count: int, timeout_s: float) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._spans) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"received {len(self._spans)} spans, expected {count}")
                self._cond.wait(remaining)
            return list(self._spans)


class _Receiver:
    def __init__(self) -> None:
        self._collected = _Collected()

    @property
    def spans(self) -> list[ReceivedSpan]:
        return self._collected.spans

    @property
    def requests(self) -> int:
        return self._collected.requests

    def wait_for_spans(self, count: int, timeout_s: float = 5.0) -> list[ReceivedSpan]:
        return self._collected.wait_for(count, timeout_s)

    def start(self) -> _Receiver:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OtlpHttpReceiver(_Receiver):
    """OTLP/HTTP protobuf on 127.0.0.1 (ephemeral port). `endpoint` is the base URL to put in
    `OTEL_EXPORTER_OTLP_ENDPOINT`; `traces_endpoint` the full `/v1/traces` URL."""

    def __init__(self) -> None:
        super().__init__()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> OtlpHttpReceiver:
        collected = self._collected

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_error(404, "only /v1/traces is served")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                collected.add(decode_request(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True, name="otlp-http-receiver")
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "call start() first"
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def traces_endpoint(self) -> str:
        return f"{self.endpoint}/v1/traces"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class OtlpGrpcReceiver(_Receiver):
    """OTLP/gRPC TraceService on 127.0.0.1 (ephemeral port); `endpoint` is `http://127.0.0.1:N`."""

    def __init__(self) -> None:
        super().__init__()
        self._server: Any = None
        self._port = 0

    def start(self) -> OtlpGrpcReceiver:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        collected = self._collected

        class Service(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> ExportTraceServiceResponse:  # noqa: N802
                collected.add(_spans_of(request))
                return ExportTraceServiceResponse()

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self._server)
        self._port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        return self

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None
