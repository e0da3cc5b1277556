"""One pure-ASGI middleware for the cross-cutting work on every request: request id, trace
context, service credential, fault injection, admission under the adaptive concurrency limit
(concurrency.py), metrics. Pure ASGI keeps the hot path cheap."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace

from cinemesh.platform.auth import SERVICE_TOKEN_HEADER, is_service_token
from cinemesh.platform.concurrency import (
    OVERLOADED,
    RETRY_AFTER_S,
    Classifier,
    ConcurrencyLimiter,
    Priority,
    at_priority,
    priority_from_caller,
)
from cinemesh.platform.drain import Drain
from cinemesh.platform.faults import FaultState
from cinemesh.platform.observability import HTTP_LATENCY, HTTP_REQUESTS, extract_trace_context
from cinemesh.platform.treatments import TREATMENTS_HEADER, carry_treatments, stop_carrying

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = ("/health/", "/metrics")
TREATMENTS_KEY = TREATMENTS_HEADER.lower()
REMEMBERED_LABELS = 4096


class _ShedHeaders(dict[bytes, list[tuple[bytes, bytes]]]):
    """The headers of a 503 OVERLOADED answer, made once for each body."""

    def __missing__(self, body: bytes) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER_S).encode()),
        ]
        self[body] = headers
        return headers


SHED_HEADERS = _ShedHeaders()
tracer = trace.get_tracer("cinemesh.http")


class PlatformMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        service_token: str,
        faults: FaultState,
        public: bool,
        drain: Drain | None = None,
        limiter: ConcurrencyLimiter | None = None,
        priority_of: Classifier = priority_from_caller,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.priority_of = priority_of
        self._routes: list[tuple[Any, str]] | None = None
        self._labels: dict[str, str] = {}
        self._shed_bodies: dict[Priority, bytes] = {}
        self._shed_counters: dict[tuple[str, str], Any] = {}
        self.drain = drain or Drain()
        self.service = service
        self.service_token = service_token
        self.faults = faults
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.drain.active:  # keep-alive clients reconnect, to an instance that stays
            send = _closing_connection(send)
        if scope["path"].startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        priority = self.priority_of(scope)
        if priority is None:
            await self._checked(scope, receive, send)
            return
        with at_priority(priority):  # the calls it makes carry it on (http.py)
            await self._admitted(scope, receive, send, priority)

    async def _admitted(
        self, scope: Scope, receive: Receive, send: Send, priority: Priority
    ) -> None:
        """Run the request if the limit has room for its priority; else answer OVERLOADED at
        once, before any other work: under a surge refusing must cost next to nothing."""
        if self.limiter is None:
            await self._checked(scope, receive, send)
            return
        admitted_at = self.limiter.admit(priority)
        if admitted_at is None:
            await self._shed(scope, send, priority)
            return
        status = 0  # no answer: the client went away or the app raised
        try:
            status = await self._checked(scope, receive, send)
        finally:
            self.limiter.release(admitted_at, measured=0 < status < 500)

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> int:
        """The service credential and injected faults, then the app; the status answered."""
        path: str = scope["path"]
        headers = _headers(scope)
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        needs_credential = not self.public or path.startswith("/internal/")
        presented = headers.get(SERVICE_TOKEN_HEADER.lower(), "")
        if needs_credential and not is_service_token(presented, self.service_token):
            await _send_error(
                send,
                403,
                "SERVICE_CREDENTIAL_REQUIRED",
                "this endpoint is for cinemesh services only",
                request_id,
            )
            return 403
        if self.faults.active and not path.startswith("/internal/"):
            if await self.faults.apply():
                await _send_error(
                    send, 503, "INJECTED_FAULT", "fault injected by chaos", request_id
                )
                return 503
        return await self._traced(scope, receive, send, headers, request_id)

    async def _shed(self, scope: Scope, send: Send, priority: Priority) -> None:
        body = self._shed_bodies.get(priority)
        if body is None:
            message = f"{self.service} is over its concurrency limit for {priority.label} requests"
            body = orjson.dumps({"error": {"code": OVERLOADED, "message": message}})
            self._shed_bodies[priority] = body
        await send({"type": "http.response.start", "status": 503, "headers": SHED_HEADERS[body]})
        await send({"type": "http.response.body", "body": body})
        key = (self._route_label(scope), scope["method"])
        counter = self._shed_counters.get(key)
        if counter is None:
            counter = self._shed_counters[key] = HTTP_REQUESTS.labels(self.service, *key, "503")
        counter.inc()

    def _route_label(self, scope: Scope) -> str:
        """The route a request would have taken, found only for the requests that are shed
        (the app's router finds it for the others), so that they count against its SLO;
        remembered for the most recent paths, since a surge repeats them."""
        path: str = scope["path"]
        label = self._labels.get(path)
        if label is not None:
            return label
        if self._routes is None:
            app = scope.get("app")
            routes = getattr(getattr(app, "router", None), "routes", [])
            self._routes = [(r.path_regex, r.path) for r in routes if hasattr(r, "path_regex")]
        label = next((name for regex, name in self._routes if regex.match(path)), "unmatched")
        if len(self._labels) >= REMEMBERED_LABELS:
            self._labels.clear()
        self._labels[path] = label
        return label

    async def _traced(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], request_id: str
    ) -> int:
        """Run the app in the request's trace; the status it answered (0: none)."""
        started = time.perf_counter()
        status_holder = [0]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        token = otel_context.attach(extract_trace_context(headers))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        # a public service's caller is a client, who never chooses its own cells
        carried = carry_treatments("" if self.public else headers.get(TREATMENTS_KEY, ""))
        try:
            with tracer.start_as_current_span(f"{scope['method']} {scope['path']}"):
                await self.app(scope, receive, send_wrapper)
        finally:
            stop_carrying(carried)
            structlog.contextvars.unbind_contextvars("request_id")
            otel_context.detach(token)
            route = scope.get("route")
            label = getattr(route, "path", "unmatched")
            status = str(status_holder[0] or 500)
            HTTP_REQUESTS.labels(self.service, label, scope["method"], status).inc()
            HTTP_LATENCY.labels(self.service, label).observe(time.perf_counter() - started)
        return status_holder[0]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _send_error(send: Send, status: int, code: str, message: str, request_id: str) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _closing_connection(send: Send) -> Send:
    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
        await send(message)

    return closing
