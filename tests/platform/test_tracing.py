"""Tracing without an exporter: spans are not recorded (nothing would read them), yet every
request still has a trace id that logs show and outgoing calls and events carry on."""

from __future__ import annotations

from opentelemetry import context, trace

from cinemesh.platform.observability import (
    configure_tracing,
    extract_trace_context,
    inject_trace_headers,
)

INCOMING = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def test_spans_are_not_recorded_but_their_ids_travel() -> None:
    configure_tracing(service="test", instance="1")
    tracer = trace.get_tracer("test")

    with tracer.start_as_current_span("GET /fresh") as span:
        assert not span.is_recording()
        assert span.get_span_context().is_valid
        outgoing: dict[str, str] = {}
        inject_trace_headers(outgoing)
        assert trace_id_of(outgoing["traceparent"]) == format(
            span.get_span_context().trace_id, "032x"
        )

    token = context.attach(extract_trace_context({"traceparent": INCOMING}))
    try:
        with tracer.start_as_current_span("GET /continued"):
            onward: dict[str, str] = {}
            inject_trace_headers(onward)
    finally:
        context.detach(token)
    assert trace_id_of(onward["traceparent"]) == "ab" * 16
