"""Spans of a traced operation reach a real OTLP receiver on loopback, with their tree and attributes."""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Iterator

import pytest
from opentelemetry import trace

from observability.tracing import (
    TracingConfigError,
    export_target,
    set_attrs,
    setup_tracing,
    span,
    trading_attrs,
)
from tests.observability.otlp_receiver import (
    OtlpGrpcReceiver,
    OtlpHttpReceiver,
    ReceivedSpan,
    decode_request,
)


@pytest.fixture
def http_receiver() -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver() as receiver:
        yield receiver


def _trade_decision(handle_span) -> None:
    with handle_span("bar SPY", symbol="SPY", price=100.25):
        with handle_span("decide", variant="A"):
            with handle_span("risk.check", qty=10):
                pass
        with handle_span("order.place_bracket", {"db.system": "none"}, symbol="SPY",
                         side="BUY", qty=10, order_ref="DT-20250703-SPY-1-ENTRY",
                         api_key="sk-abcdefghijklmnopqrstuvwx", account="DU1234567"):
            pass


def _by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {s.name: s for s in spans}


def test_spans_arrive_over_http_with_names_links_and_attributes(
    http_receiver: OtlpHttpReceiver,
) -> None:
    handle = setup_tracing("day-trader", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.endpoint})
    _trade_decision(handle.span)
    handle.shutdown()
    spans = _by_name(http_receiver.wait_for_spans(4))

    root, decide, risk, order = (spans[n] for n in ("bar SPY", "decide", "risk.check",
                                                     "order.place_bracket"))
    assert root.parent_span_id == "" and root.service_name == "day-trader"
    assert decide.parent_span_id == root.span_id and order.parent_span_id == root.span_id
    assert risk.parent_span_id == decide.span_id
    assert {s.trace_id for s in spans.values()} == {root.trace_id}
    assert root.attributes == {"trading.symbol": "SPY", "trading.price": 100.25}
    assert order.attributes["trading.order_ref"] == "DT-20250703-SPY-1-ENTRY"
    assert order.attributes["trading.qty"] == 10 and order.attributes["db.system"] == "none"


def test_secrets_are_never_exported(http_receiver: OtlpHttpReceiver) -> None:
    handle = setup_tracing("day-trader", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.endpoint})
    _trade_decision(handle.span)
    handle.shutdown()
    order = _by_name(http_receiver.wait_for_spans(4))["order.place_bracket"]
    assert "trading.api_key" not in order.attributes
    assert order.attributes["trading.account"] == "****4567"


def test_an_exception_marks_the_span_as_error_and_propagates(http_receiver: OtlpHttpReceiver) -> None:
    handle = setup_tracing("ib-gateway-sim",
                           environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": http_receiver.traces_endpoint})
    with pytest.raises(RuntimeError), handle.span("order.place_bracket", symbol="SPY"):
        raise RuntimeError("rejected (201) for account DU7654321")
    handle.shutdown()
    [failed] = http_receiver.wait_for_spans(1)
    assert failed.status == "ERROR"
    assert failed.status_message == "RuntimeError: rejected (201) for account ****4321"
    [(event, attrs)] = failed.events
    assert event == "exception" and attrs["exception.type"] == "RuntimeError"


def test_gzip_compressed_export_is_decoded(
    http_receiver: OtlpHttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    handle = setup_tracing("weekly-portfolio",
                           environ={"OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.endpoint})
    with handle.span("agent.screener", symbols=["AAPL", "MSFT"]):
        pass
    handle.shutdown()
    [screener] = http_receiver.wait_for_spans(1)
    assert screener.attributes["trading.symbols"] == ["AAPL", "MSFT"]
    assert screener.service_name == "weekly-portfolio"


def test_receiver_decodes_a_gzip_request_it_is_posted(http_receiver: OtlpHttpReceiver) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="fill", span_id=b"\x01" * 8,
                                                             trace_id=b"\x02" * 16)
    post = urllib.request.Request(http_receiver.traces_endpoint,
                                  data=gzip.compress(request.SerializeToString()),
                                  headers={"Content-Encoding": "gzip",
                                           "Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(post, timeout=5) as reply:
        assert reply.status == 200
    assert [s.name for s in http_receiver.spans] == ["fill"]
    assert decode_request(request.SerializeToString())[0].span_id == "01" * 8


def test_spans_arrive_over_grpc() -> None:
    with OtlpGrpcReceiver() as receiver:
        handle = setup_tracing("day-trader", environ={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
        _trade_decision(handle.span)
        handle.shutdown()
        spans = _by_name(receiver.wait_for_spans(4))
    assert spans["risk.check"].parent_span_id == spans["decide"].span_id
    assert spans["bar SPY"].attributes["trading.symbol"] == "SPY"


def test_setting_up_twice_keeps_each_service_separate() -> None:
    with OtlpHttpReceiver() as first, OtlpHttpReceiver() as second:
        trader = setup_tracing("day-trader", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": first.endpoint})
        gateway = setup_tracing("ib-gateway-sim",
                                environ={"OTEL_EXPORTER_OTLP_ENDPOINT": second.endpoint})
        with trader.span("bar SPY"):
            pass
        with gateway.span("gateway.placeOrder"):
            pass
        with span("module.helper"):  # the newest handle serves the module-level helper
            pass
        trader.shutdown()
        gateway.shutdown()
        assert [s.name for s in first.wait_for_spans(1)] == ["bar SPY"]
        assert sorted(s.name for s in second.wait_for_spans(2)) == ["gateway.placeOrder",
                                                                   "module.helper"]
    assert trace.get_tracer_provider().__class__.__name__ != "TracerProvider"  # global untouched


def test_set_attrs_adds_redacted_attributes_to_a_live_span(http_receiver: OtlpHttpReceiver) -> None:
    handle = setup_tracing("day-trader", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.endpoint})
    with handle.span("fill") as current:
        set_attrs(current, price=101.4, password="hunter2")
    handle.shutdown()
    [fill] = http_receiver.wait_for_spans(1)
    assert fill.attributes == {"trading.price": 101.4}


def test_without_an_endpoint_tracing_is_a_no_op() -> None:
    handle = setup_tracing("day-trader", environ={})
    assert not handle.enabled
    with handle.span("bar SPY", symbol="SPY") as current:
        assert not current.is_recording()
    handle.shutdown()


def test_console_exporter_prints_finished_spans(capfd: pytest.CaptureFixture[str]) -> None:
    handle = setup_tracing("day-trader", console=True, environ={})
    assert handle.enabled and handle.target is None
    with handle.span("flatten", symbol="SPY"):
        pass
    handle.shutdown()
    out = capfd.readouterr().out
    assert '"name": "flatten"' in out and '"trading.symbol": "SPY"' in out


def test_trading_attrs_prefixes_keys_and_skips_none() -> None:
    assert trading_attrs(symbol="SPY", qty=10, price=None) == {"trading.symbol": "SPY",
                                                               "trading.qty": 10}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"},
         ("http/protobuf", "http://localhost:4318/v1/traces")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
         ("grpc", "http://localhost:4317")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
          "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"},
         ("http/protobuf", "http://b:4318/custom")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"}, None),
    ],
)
def test_export_target_follows_the_standard_variables(env: dict[str, str], expected) -> None:
    target = export_target(env)
    assert (target and (target.protocol, target.endpoint)) == expected


def test_unsupported_protocol_is_a_one_line_error_naming_the_variable() -> None:
    with pytest.raises(TracingConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL='http/json' is not supported"):
        setup_tracing("day-trader", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318",
                                             "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
