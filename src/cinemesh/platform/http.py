"""The resilient client for every service-to-service call: deadline, budgeted retries for
idempotent calls, circuit breaker, bulkhead, load balancing over discovered instances.

An instance past its concurrency limit answers 503 OVERLOADED before doing any work
(concurrency.py). The client never asks it again within the call: another instance may take
the call, any call since none was started, once and only within the retry budget; with none
left it gives up at once, so the caller's fallback runs instead of a retry into the storm. The
answer is not a failure to the breaker (the service is alive and said so) nor to the outlier
ejection, which would pile the load onto the other instances."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from cinemesh.platform.concurrency import OVERLOADED, PRIORITY_HEADER, current_priority
from cinemesh.platform.discovery import Discovery, Instance, LoadBalancer
from cinemesh.platform.observability import (
    BREAKER_STATE,
    CLIENT_CALLS,
    CLIENT_LATENCY,
    inject_trace_headers,
)
from cinemesh.platform.resilience import (
    BreakerPolicy,
    Bulkhead,
    CircuitBreaker,
    Rejected,
    RetryBudget,
    backoff_s,
)
from cinemesh.platform.treatments import TREATMENTS_HEADER, carried_treatments

IDLE_CONNECTION_S = 30.0  # a pooled connection unused this long is closed by the caller
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})


class ServiceUnavailable(Exception):
    """The dependency could not give an answer in time; the caller uses its fallback."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} unavailable: {reason}")
        self.service = service
        self.reason = reason


class Overloaded(ServiceUnavailable):
    """Every instance tried was past its concurrency limit and shed the call."""


@dataclass(frozen=True)
class CallPolicy:
    timeout_s: float = 2.0
    retries: int = 2
    max_concurrent: int = 128
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def shed(self) -> bool:
        """The instance was past its concurrency limit and did nothing with the request."""
        return self.status == 503 and f'"{OVERLOADED}"'.encode() in self.body


class CallStats:
    """A minute of call outcomes to one dependency, for the ops view."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._calls: deque[tuple[float, float, bool]] = deque()

    def add(self, latency_s: float, ok: bool) -> None:
        now = time.monotonic()
        self._calls.append((now, latency_s, ok))
        while self._calls and now - self._calls[0][0] > self.window_s:
            self._calls.popleft()

    def summary(self) -> dict[str, float]:
        now = time.monotonic()
        recent = [c for c in self._calls if now - c[0] <= self.window_s]
        if not recent:
            return {"requests_per_s": 0.0, "error_rate": 0.0, "p50_ms": 0.0, "p99_ms": 0.0}
        latencies = sorted(c[1] for c in recent)
        span = max(1.0, min(self.window_s, now - recent[0][0]))
        return {
            "requests_per_s": round(len(recent) / span, 2),
            "error_rate": round(sum(1 for c in recent if not c[2]) / len(recent), 4),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(
                latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2
            ),
        }


class ServiceClient:
    """Calls one service by name; never raises anything but ServiceUnavailable for failure."""

    def __init__(
        self,
        target: str,
        *,
        caller: str,
        discovery: Discovery,
        session: aiohttp.ClientSession,
        policy: CallPolicy,
        auth_headers: dict[str, str],
    ) -> None:
        self.target = target
        self.caller = caller
        self.discovery = discovery
        self.session = session
        self.policy = policy
        self.auth_headers = auth_headers
        self.breaker = CircuitBreaker(policy.breaker)
        self.bulkhead = Bulkhead(policy.max_concurrent)
        self.budget = RetryBudget()
        self.balancer = LoadBalancer()
        self.stats = CallStats()
        self.answered_at = float("-inf")  # monotonic time of the last call that got an answer
        self._outcomes = {
            o: CLIENT_CALLS.labels(caller, target, o) for o in ("ok", "failed", "rejected", "shed")
        }
        self._latency = CLIENT_LATENCY.labels(caller, target)
        self._breaker_gauge = BREAKER_STATE.labels(caller, target)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
        idempotent: bool | None = None,
        body: Any = None,
    ) -> Response:
        """Answer with the dependency's response (any status below 500) or raise.

        `body` streams raw bytes or a file object instead of `json` (never retried)."""
        started = time.monotonic()
        deadline = started + (timeout_s or self.policy.timeout_s)
        try:
            self.breaker.before_call()
        except Rejected as exc:
            self._observe(started, ok=False, outcome="rejected")
            raise ServiceUnavailable(self.target, str(exc)) from None
        retryable = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
        out_headers = {**self.auth_headers, **(headers or {})}
        if json is not None:
            body = orjson.dumps(json)
            out_headers["Content-Type"] = "application/json"
        elif body is not None:
            retryable = False
        inject_trace_headers(out_headers)
        out_headers[PRIORITY_HEADER] = current_priority().label
        if treatments := carried_treatments():
            out_headers.setdefault(TREATMENTS_HEADER, treatments)
        outcome = "abandoned"  # what the breaker learns unless the call ends in an answer
        try:
            async with self.bulkhead.slot():
                response = await self._attempts(
                    method,
                    path,
                    body=body,
                    params=params,
                    headers=out_headers,
                    deadline=deadline,
                    retryable=retryable,
                )
            outcome = "ok"
        except Rejected as exc:
            outcome = "rejected"
            raise ServiceUnavailable(self.target, str(exc)) from None
        except Overloaded:
            outcome = "shed"
            raise
        except ServiceUnavailable:
            outcome = "failed"
            raise
        finally:
            self._settle(started, outcome)
        return response

    def _settle(self, started: float, outcome: str) -> None:
        """Tell the breaker and the stats how a call ended, however it ended: a half-open
        breaker's probe that never reports back would refuse every later call for good."""
        if outcome == "ok":
            self.answered_at = time.monotonic()
        if outcome in ("ok", "failed"):
            self.breaker.record(success=outcome == "ok")
        else:  # rejected before the call, shed by the service, or cancelled: nothing learnt
            self.breaker.abandon()
        if outcome != "abandoned":
            self._observe(started, ok=outcome == "ok", outcome=outcome)

    async def _attempts(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        params: dict[str, Any] | None,
        headers: dict[str, str],
        deadline: float,
        retryable: bool,
    ) -> Response:
        self.budget.record_request()
        tried: set[str] = set()
        last_error = "no attempt"
        shed = False
        for attempt in range(self.policy.retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0.005:
                last_error = "deadline exceeded"
                break
            instances = await self.discovery.instances(self.target)
            if not instances:
                raise ServiceUnavailable(self.target, "no instances registered")
            inst = self.balancer.pick(instances, avoid=tried)
            tried.add(inst.instance_id)
            never_sent = False
            try:
                response = await self._send(
                    inst, method, path, body, params, headers, remaining, total=len(instances)
                )
                if response.status not in RETRYABLE_STATUSES and response.status < 500:
                    return response
                shed = response.shed  # nothing done: as if never sent, if it can be sent again
                never_sent = shed and (body is None or isinstance(body, bytes))
                last_error = "overloaded" if shed else f"answered {response.status}"
            except aiohttp.ClientConnectorError as exc:
                # No connection, so the request never left: another instance may take any call.
                never_sent = body is None or isinstance(body, bytes)
                shed = False
                last_error = str(exc)[:200] or type(exc).__name__
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                shed = False
                last_error = type(exc).__name__ if not str(exc) else str(exc)[:200]
            if never_sent and len(tried) >= len(instances):
                break  # every instance refused or shed it: a retry would be refused too
            may_retry = retryable or never_sent
            if not (may_retry and attempt < self.policy.retries and self.budget.try_spend()):
                break
            if not shed:  # a shed call goes to another instance at once, which is not shedding
                await asyncio.sleep(min(backoff_s(attempt), max(0.0, deadline - time.monotonic())))
        raise (Overloaded if shed else ServiceUnavailable)(self.target, last_error)

    async def _send(
        self,
        inst: Instance,
        method: str,
        path: str,
        body: bytes | None,
        params: dict[str, Any] | None,
        headers: dict[str, str],
        timeout_s: float,
        *,
        total: int,
    ) -> Response:
        self.balancer.started(inst)
        success = False
        try:
            async with self.session.request(
                method,
                inst.url + path,
                data=body,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as resp:
                payload = await resp.read()
                response = Response(resp.status, dict(resp.headers), payload)
                success = resp.status < 500 or response.shed  # busy is not an outlier
                return response
        finally:
            self.balancer.finished(inst, success=success, total=total)

    def _observe(self, started: float, *, ok: bool, outcome: str) -> None:
        elapsed = time.monotonic() - started
        self.stats.add(elapsed, ok)
        self._outcomes[outcome].inc()
        self._latency.observe(elapsed)
        self._breaker_gauge.set(0 if self.breaker.state == "closed" else 1)

    def answered_within(self, seconds: float) -> bool:
        """Whether some call to the service got an answer (any status below 500) lately."""
        return time.monotonic() - self.answered_at <= seconds

    def describe(self) -> dict[str, Any]:
        return {
            "breaker": self.breaker.state.value,
            "breaker_opened_times": self.breaker.times_opened,
            "in_flight": self.bulkhead.in_flight,
            "ejected_instances": sorted(self.balancer.ejected()),
            **self.stats.summary(),
        }


class Clients:
    """One HTTP connection pool per process and one ServiceClient per dependency."""

    def __init__(self, *, caller: str, discovery: Discovery, auth_headers: dict[str, str]) -> None:
        self.caller = caller
        self.discovery = discovery
        self.auth_headers = auth_headers
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, ServiceClient] = {}
        self._policies: dict[str, CallPolicy] = {}

    def configure(self, target: str, policy: CallPolicy) -> None:
        self._policies[target] = policy
        self._clients.pop(target, None)

    def __call__(self, target: str) -> ServiceClient:
        client = self._clients.get(target)
        if client is None:
            client = ServiceClient(
                target,
                caller=self.caller,
                discovery=self.discovery,
                session=self.session,
                policy=self._policies.get(target, CallPolicy()),
                auth_headers=self.auth_headers,
            )
            self._clients[target] = client
        return client

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0, limit_per_host=256, ttl_dns_cache=30, keepalive_timeout=IDLE_CONNECTION_S
            )
            self._session = aiohttp.ClientSession(connector=connector, json_serialize=_dumps)
        return self._session

    def describe(self) -> dict[str, dict[str, Any]]:
        return {name: client.describe() for name, client in self._clients.items()}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
