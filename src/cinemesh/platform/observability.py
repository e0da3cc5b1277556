"""JSON logs that carry the trace id, OpenTelemetry tracing, and Prometheus metrics."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from prometheus_client import Counter, Gauge, Histogram

REDACTED_KEYS = frozenset(
    {
        "password",
        "new_password",
        "old_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "secret",
        "key",
    }
)

HTTP_REQUESTS = Counter(
    "cinemesh_http_requests_total", "HTTP requests served", ["service", "route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "cinemesh_http_request_duration_seconds",
    "HTTP request latency as the service sees it",
    ["service", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CLIENT_CALLS = Counter(
    "cinemesh_client_calls_total",
    "Calls to other services through the resilient client",
    ["service", "target", "outcome"],
)
CLIENT_LATENCY = Histogram(
    "cinemesh_client_call_duration_seconds",
    "Latency of calls to other services",
    ["service", "target"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BREAKER_STATE = Gauge(
    "cinemesh_circuit_breaker_open", "1 while a breaker is open", ["service", "target"]
)
CONCURRENCY_LIMIT = Gauge(
    "cinemesh_concurrency_limit", "The adaptive limit on requests in flight", ["service"]
)
CONCURRENCY_IN_FLIGHT = Gauge(
    "cinemesh_concurrency_in_flight", "Requests admitted and not yet answered", ["service"]
)
REQUESTS_SHED = Counter(
    "cinemesh_requests_shed_total",
    "Requests answered 503 OVERLOADED, past the share of the limit their priority may use",
    ["service", "priority"],
)
EVENTS_PUBLISHED = Counter(
    "cinemesh_events_published_total", "Events relayed from the outbox", ["service", "type"]
)
EVENTS_CONSUMED = Counter(
    "cinemesh_events_consumed_total", "Events handled", ["service", "type", "outcome"]
)


def _add_trace_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    span = trace.get_current_span()
    ctx = span.get_span_context()
    if ctx.is_valid:
        event_dict["trace_id"] = format(ctx.trace_id, "032x")
        event_dict["span_id"] = format(ctx.span_id, "016x")
    return event_dict


def _redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in REDACTED_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(*, service: str, instance: str, level: str = "info") -> None:
    """Log JSON lines to stderr, each with the service, instance and current trace id."""
    numeric = logging.getLevelName(level.upper())
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s", force=True)
    for noisy in ("uvicorn.access", "nats", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_context,
            _redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service, instance=instance)


def configure_tracing(*, service: str, instance: str) -> None:
    """Install a tracer provider so spans get ids that propagate; exporters are optional."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    resource = Resource.create({"service.name": service, "service.instance.id": instance})
    # No exporter is installed, so a recorded span would only be built and dropped (about
    # 10 us each). Unsampled spans still carry and propagate the trace ids that logs and
    # events use; OTEL_TRACES_SAMPLER chooses otherwise for whoever adds an exporter.
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else ALWAYS_OFF
    trace.set_tracer_provider(TracerProvider(resource=resource, sampler=sampler))


def inject_trace_headers(headers: MutableMapping[str, str]) -> None:
    """Write the current W3C trace context into outgoing HTTP or event headers."""
    propagate.inject(headers)


def extract_trace_context(headers: Mapping[str, str]) -> Any:
    return propagate.extract(headers)


def logger(name: str = "cinemesh") -> Any:
    return structlog.get_logger(name)
