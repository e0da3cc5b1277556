"""Adaptive concurrency limits: a server admits a request only while fewer than its limit are
in flight, and the limit follows the latency it measures (Netflix's Gradient2, in our words;
docs/overload.md has the formula and why Gradient2 rather than Vegas).

Past the limit a request is answered at once, 503 with `Retry-After` and the code
`OVERLOADED`, instead of waiting its turn. A queue in front of a saturated server adds its wait
to every answer until every answer is too late to be of use: throughput holds while goodput
(answers in time) collapses. Answering the excess in microseconds keeps the admitted requests
fast, and tells the caller, who can use its fallback or another instance.

Requests come in three priorities, each allowed a share of the limit: critical ones (starting
and keeping playback, signing in) the whole of it, normal ones (home, search) most of it,
background ones (telemetry, rebuilds) half, so that as load rises background work is shed
first and critical work last. The gateway decides a request's priority from its route; the
resilient client carries it to every service the request calls (`PRIORITY_HEADER`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cinemesh.platform.observability import CONCURRENCY_IN_FLIGHT, CONCURRENCY_LIMIT, REQUESTS_SHED
from cinemesh.platform.settings import load_settings

PRIORITY_HEADER = "x-cinemesh-priority"
OVERLOADED = "OVERLOADED"
RETRY_AFTER_S = 1
BULK_BODY_BYTES = 1024**2  # an upload this big is a transfer, not a call: never limited


class Priority(IntEnum):
    """How much a request matters to someone watching; lower sheds last."""

    CRITICAL = 0
    NORMAL = 1
    BACKGROUND = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, label: str) -> Priority:
        """The priority a header names; anything unknown is normal."""
        return _BY_LABEL.get(label, cls.NORMAL)


_BY_LABEL = {p.label: p for p in Priority}
# The share of the limit each priority may fill: past 50% in flight only critical and normal
# requests are admitted, past 80% only critical ones, which keep the last fifth to themselves.
SHARE_OF_LIMIT = {Priority.CRITICAL: 1.0, Priority.NORMAL: 0.8, Priority.BACKGROUND: 0.5}

_current_priority: ContextVar[Priority] = ContextVar("cinemesh_priority", default=Priority.NORMAL)


def current_priority() -> Priority:
    """The priority of the request (or background work) this code runs for."""
    return _current_priority.get()


@contextmanager
def at_priority(priority: Priority) -> Iterator[None]:
    """Run a block, and every call it makes to other services, at `priority`."""
    token = _current_priority.set(priority)
    try:
        yield
    finally:
        _current_priority.reset(token)


Classifier = Callable[[Mapping[str, Any]], "Priority | None"]  # from an ASGI scope


def priority_from_caller(scope: Mapping[str, Any]) -> Priority | None:
    """A service's requests come at the priority their caller gave them; None (not limited)
    for the chassis' internal paths and for bulk uploads, whose time measures the transfer."""
    if scope["path"].startswith("/internal/") or is_bulk(scope):
        return None
    return Priority.named(header(scope, PRIORITY_HEADER.encode()))


def is_bulk(scope: Mapping[str, Any]) -> bool:
    """An upload of BULK_BODY_BYTES or more, or of a length not given (chunked)."""
    if scope["method"] not in ("POST", "PUT", "PATCH"):
        return False
    length = header(scope, b"content-length")
    chunked = header(scope, b"transfer-encoding") == "chunked"
    return chunked or (length.isdigit() and int(length) >= BULK_BODY_BYTES)


def header(scope: Mapping[str, Any], name: bytes) -> str:
    """One request header from the raw ASGI list, without decoding the others."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class ConcurrencySettings(BaseSettings):
    """A service's limit, under `CINEMESH_<NAME>_CONCURRENCY_` (`enabled=false` turns it off)."""

    model_config = SettingsConfigDict(extra="ignore")

    enabled: bool = True
    initial_limit: int = Field(20, ge=1)
    min_limit: int = Field(8, ge=1)
    max_limit: int = Field(400, ge=1)
    # latency over 1.5x its long-run average that is still no queue worth shedding for
    allowance_ms: float = Field(50.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ConcurrencySettings:
        if not self.min_limit <= self.initial_limit <= self.max_limit:
            raise ValueError("needs min_limit <= initial_limit <= max_limit")
        return self


def settings_env_prefix(service: str) -> str:
    return f"CINEMESH_{service.upper()}_CONCURRENCY_"


@dataclass
class Gradient2:
    """The limit, moved once a window by how the window's average latency compares with the
    long-run average: `gradient = clamp((tolerance * long + allowance) / short, 0.5, 1)`,
    then `limit += smoothing * (limit * gradient + queue_size - limit)` within [min, max].

    `allowance` is ours, not Netflix's: tens of milliseconds more are no queue worth shedding
    for when callers wait hundreds. Without it a service whose requests take 2 ms would shed
    at 3 ms, refusing work it had the room to do in time; and a gateway whose event loop is
    busy refusing a surge would read that as a queue and refuse still more."""

    limit: float
    min_limit: int
    max_limit: int
    smoothing: float = 0.2
    tolerance: float = 1.5
    allowance_s: float = 0.050
    queue_size: float = 4.0
    long_window: int = 600  # windows the long-run average spans
    warmup: int = 10  # windows averaged plainly before the long-run average decays
    long_rtt_s: float = 0.0
    _windows: int = 0

    def update(self, *, rtt_s: float, max_in_flight: int) -> float:
        """Learn from one window: its average latency and the most requests it had in flight."""
        long_rtt = self._learn_long_rtt(rtt_s)
        if long_rtt / rtt_s > 2:  # latency is back to normal: let the slow past go faster
            self.long_rtt_s *= 0.95
        if max_in_flight < self.limit / 2:  # not near its limit: nothing learnt about the limit
            return self.limit
        gradient = max(0.5, min(1.0, (self.tolerance * long_rtt + self.allowance_s) / rtt_s))
        target = self.limit * gradient + self.queue_size
        smoothed = self.limit + self.smoothing * (target - self.limit)
        self.limit = max(float(self.min_limit), min(float(self.max_limit), smoothed))
        return self.limit

    def _learn_long_rtt(self, rtt_s: float) -> float:
        self._windows += 1
        if self._windows <= self.warmup:
            self.long_rtt_s += (rtt_s - self.long_rtt_s) / self._windows
        else:
            self.long_rtt_s += (rtt_s - self.long_rtt_s) * 2 / (self.long_window + 1)
        return self.long_rtt_s


@dataclass
class _Window:
    """The latencies seen since the limit last moved."""

    ends_at: float
    total_s: float = 0.0
    samples: int = 0
    max_in_flight: int = 0


@dataclass
class ConcurrencyLimiter:
    """Admission for one server: `admit` before the app, `release` after the response."""

    service: str
    algorithm: Gradient2
    window_s: float = 0.1
    min_samples: int = 10
    in_flight: int = 0
    _window: _Window = field(init=False)
    _room: dict[Priority, int] = field(init=False)
    _shed_total: dict[Priority, int] = field(init=False)
    _shed_counters: dict[Priority, Any] = field(init=False)

    def __post_init__(self) -> None:
        self._window = _Window(ends_at=time.perf_counter() + self.window_s)
        self._shed_total = dict.fromkeys(Priority, 0)
        self._shed_counters = {p: REQUESTS_SHED.labels(self.service, p.label) for p in Priority}
        self._set_room()
        CONCURRENCY_LIMIT.labels(self.service).set_function(lambda: self.limit)
        CONCURRENCY_IN_FLIGHT.labels(self.service).set_function(lambda: self.in_flight)

    @property
    def limit(self) -> int:
        return self._room[Priority.CRITICAL]

    def admit(self, priority: Priority) -> float | None:
        """The admission time, or None: over the share of the limit `priority` may use."""
        if self.in_flight >= self._room[priority]:
            self._shed_total[priority] += 1
            self._shed_counters[priority].inc()
            return None
        self.in_flight += 1
        if self.in_flight > self._window.max_in_flight:
            self._window.max_in_flight = self.in_flight
        return time.perf_counter()

    def release(self, admitted_at: float, *, measured: bool = True) -> None:
        """A request admitted at `admitted_at` is done; `measured=False` for one whose latency
        says nothing of this server's load (it failed, or its client went away)."""
        self.in_flight -= 1
        if not measured:
            return
        now = time.perf_counter()
        window = self._window
        window.total_s += now - admitted_at
        window.samples += 1
        if now >= window.ends_at and window.samples >= self.min_samples:
            self.algorithm.update(
                rtt_s=max(window.total_s / window.samples, 1e-6),
                max_in_flight=window.max_in_flight,
            )
            self._set_room()
            self._window = _Window(ends_at=now + self.window_s, max_in_flight=self.in_flight)

    def _set_room(self) -> None:
        limit = self.algorithm.limit
        self._room = {p: max(1, math.floor(limit * share)) for p, share in SHARE_OF_LIMIT.items()}

    def describe(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "in_flight": self.in_flight,
            "shed": {p.label: n for p, n in self._shed_total.items()},
        }


def limiter_for(service: str) -> ConcurrencyLimiter | None:
    """The service's limiter from its settings; None when they turn it off."""
    settings = load_settings(ConcurrencySettings, env_prefix=settings_env_prefix(service))
    if not settings.enabled:
        return None
    algorithm = Gradient2(
        limit=float(settings.initial_limit),
        min_limit=settings.min_limit,
        max_limit=settings.max_limit,
        allowance_s=settings.allowance_ms / 1000,
    )
    return ConcurrencyLimiter(service, algorithm)
