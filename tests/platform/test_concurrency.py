"""The adaptive concurrency limit: Gradient2's arithmetic, admission by priority, the
middleware's fast 503 OVERLOADED, and a resilient client that does not retry into it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from prometheus_client import REGISTRY

from cinemesh.platform.concurrency import (
    PRIORITY_HEADER,
    ConcurrencyLimiter,
    ConcurrencySettings,
    Gradient2,
    Priority,
    at_priority,
    limiter_for,
)
from cinemesh.platform.discovery import Instance
from cinemesh.platform.errors import StartupError
from cinemesh.platform.faults import FaultState
from cinemesh.platform.http import CallPolicy, Overloaded, ServiceClient, ServiceUnavailable
from cinemesh.platform.middleware import PlatformMiddleware


def gradient(limit: float = 40, *, min_limit: int = 4, max_limit: int = 400) -> Gradient2:
    """A Gradient2 that has learnt a 10 ms long-run latency."""
    algorithm = Gradient2(limit=limit, min_limit=min_limit, max_limit=max_limit)
    for _ in range(20):
        algorithm.update(rtt_s=0.010, max_in_flight=0)
    return algorithm


def test_the_limit_falls_while_latency_is_far_above_its_long_run_average() -> None:
    algorithm = gradient(limit=100)
    for _ in range(15):  # thirty times the long-run average, far past the allowance
        algorithm.update(rtt_s=0.300, max_in_flight=100)
    assert algorithm.limit < 40


def test_the_limit_grows_while_latency_holds_and_the_limit_is_in_use() -> None:
    algorithm = gradient(limit=20)
    for _ in range(20):
        algorithm.update(rtt_s=0.010, max_in_flight=int(algorithm.limit))
    assert algorithm.limit > 30


def test_tens_of_milliseconds_more_are_no_reason_to_shed() -> None:
    algorithm = Gradient2(limit=40, min_limit=4, max_limit=400)
    for _ in range(20):
        algorithm.update(rtt_s=0.002, max_in_flight=0)
    for _ in range(20):  # twenty times the long-run average, but only 40 ms
        algorithm.update(rtt_s=0.040, max_in_flight=40)
    assert algorithm.limit >= 40


def test_the_limit_learns_nothing_while_far_from_used() -> None:
    algorithm = gradient(limit=40)
    for _ in range(20):
        algorithm.update(rtt_s=0.200, max_in_flight=5)
    assert algorithm.limit == 40


def test_the_limit_stays_within_its_bounds() -> None:
    algorithm = gradient(limit=20, min_limit=12, max_limit=30)
    for _ in range(50):
        algorithm.update(rtt_s=1.0, max_in_flight=30)
    assert algorithm.limit == 12
    for _ in range(500):
        algorithm.update(rtt_s=0.001, max_in_flight=30)
    assert algorithm.limit == 30


def test_after_a_surge_the_long_run_average_comes_back_quickly() -> None:
    algorithm = gradient(limit=40)
    for _ in range(300):  # thirty seconds of 100 ms windows at ten times the latency
        algorithm.update(rtt_s=0.100, max_in_flight=40)
    slow_past = algorithm.long_rtt_s
    for _ in range(30):
        algorithm.update(rtt_s=0.010, max_in_flight=40)
    assert algorithm.long_rtt_s < slow_past * 0.5


def limiter(limit: int, service: str = "test-limits") -> ConcurrencyLimiter:
    return ConcurrencyLimiter(service, Gradient2(limit=limit, min_limit=1, max_limit=limit))


def admitted(lim: ConcurrencyLimiter, priority: Priority, tries: int) -> int:
    return sum(lim.admit(priority) is not None for _ in range(tries))


def test_background_work_is_shed_first_and_critical_work_last() -> None:
    lim = limiter(20)
    assert admitted(lim, Priority.BACKGROUND, 50) == 10  # half the limit
    assert admitted(lim, Priority.NORMAL, 50) == 6  # up to 80%
    assert admitted(lim, Priority.BACKGROUND, 5) == 0
    assert admitted(lim, Priority.CRITICAL, 50) == 4  # the last fifth is theirs
    assert lim.in_flight == 20
    assert lim.describe()["shed"] == {"critical": 46, "normal": 44, "background": 45}


def test_a_released_request_frees_its_place() -> None:
    lim = limiter(10)
    admitted_at = [lim.admit(Priority.CRITICAL) for _ in range(10)]
    assert lim.admit(Priority.CRITICAL) is None
    first = admitted_at[0]
    assert first is not None
    lim.release(first, measured=False)
    assert lim.admit(Priority.CRITICAL) is not None


def test_settings_come_from_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEMESH_ALPHA_CONCURRENCY_ENABLED", "false")
    monkeypatch.setenv("CINEMESH_BETA_CONCURRENCY_MIN_LIMIT", "3")
    assert limiter_for("alpha") is None
    beta = limiter_for("beta")
    assert beta is not None and beta.algorithm.min_limit == 3
    assert ConcurrencySettings().enabled


def test_bad_limits_are_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEMESH_GAMMA_CONCURRENCY_MIN_LIMIT", "50")
    monkeypatch.setenv("CINEMESH_GAMMA_CONCURRENCY_MAX_LIMIT", "10")
    with pytest.raises(StartupError, match="CINEMESH_GAMMA_CONCURRENCY_"):
        limiter_for("gamma")


class Gate:
    """Holds requests until released; `held` is set once `expected` are waiting."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.waiting = 0
        self.held = asyncio.Event()
        self.release = asyncio.Event()


def slow_app(gate: Gate) -> FastAPI:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        gate.waiting += 1
        if gate.waiting >= gate.expected:
            gate.held.set()
        await gate.release.wait()
        return {"ok": True}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return app


def limited(app: FastAPI, lim: ConcurrencyLimiter) -> FastAPI:
    """The app behind the platform middleware, added as the runtime adds it."""
    app.add_middleware(
        PlatformMiddleware,
        service=lim.service,
        service_token="t",
        faults=FaultState(),
        public=True,
        limiter=lim,
    )
    return app


def shed_count(service: str, priority: str) -> float:
    value = REGISTRY.get_sample_value(
        "cinemesh_requests_shed_total", {"service": service, "priority": priority}
    )
    return value or 0.0


async def test_past_the_limit_a_request_is_answered_overloaded_at_once() -> None:
    gate = Gate(expected=6)  # normal requests may fill 80% of 8
    lim = limiter(8, service="mw-limits")
    transport = httpx.ASGITransport(app=limited(slow_app(gate), lim))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        held = [asyncio.create_task(client.get("/slow")) for _ in range(6)]
        await asyncio.wait_for(gate.held.wait(), timeout=5)
        before = shed_count("mw-limits", "normal")
        refused = await asyncio.wait_for(client.get("/slow"), timeout=1)
        critical = asyncio.create_task(client.get("/slow", headers={PRIORITY_HEADER: "critical"}))
        health = await asyncio.wait_for(client.get("/health/live"), timeout=1)
        gate.release.set()
        answers = await asyncio.gather(*held, critical)

    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "OVERLOADED"
    assert refused.headers["retry-after"] == "1"
    assert shed_count("mw-limits", "normal") == before + 1
    counted = {"service": "mw-limits", "route": "/slow", "method": "GET", "status": "503"}
    assert REGISTRY.get_sample_value("cinemesh_http_requests_total", counted) == 1  # its SLO
    assert health.status_code == 200
    assert [a.status_code for a in answers] == [200] * 7
    assert lim.in_flight == 0


class Backend:
    """A loopback server that sheds every call, or answers, as the test sets."""

    def __init__(self) -> None:
        self.calls = 0
        self.shedding = True
        self.priorities: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.priorities.append(request.headers.get(PRIORITY_HEADER, ""))
        if self.shedding:
            return web.json_response(
                {"error": {"code": "OVERLOADED", "message": "busy"}},
                status=503,
                headers={"Retry-After": "1"},
            )
        return web.json_response({"ok": True})


class FixedDiscovery:
    def __init__(self, urls: list[str]) -> None:
        self.urls = urls

    async def instances(self, service: str) -> list[Instance]:
        return [Instance(service, f"i{n}", url) for n, url in enumerate(self.urls)]

    async def all_instances(self) -> dict[str, list[Instance]]:
        return {}


@pytest.fixture
async def backends() -> AsyncIterator[list[tuple[Backend, str]]]:
    runners, found = [], []
    for _ in range(2):
        backend = Backend()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", backend.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        runners.append(runner)
        found.append((backend, f"http://127.0.0.1:{port}"))
    yield found
    for runner in runners:
        await runner.cleanup()


async def client_for(urls: list[str], session: aiohttp.ClientSession) -> ServiceClient:
    return ServiceClient(
        "busy",
        caller="test",
        discovery=FixedDiscovery(urls),
        session=session,
        policy=CallPolicy(timeout_s=2.0, retries=2),
        auth_headers={},
    )


async def test_a_shed_call_is_not_retried_into_the_same_instance(
    backends: list[tuple[Backend, str]],
) -> None:
    backend, url = backends[0]
    async with aiohttp.ClientSession() as session:
        client = await client_for([url], session)
        for _ in range(20):
            with pytest.raises(Overloaded):
                await client.request("GET", "/rows")
        assert backend.calls == 20  # one attempt a call, no retries
        assert client.breaker.state == "closed"  # alive and saying so: not a failure
        assert not client.balancer.ejected()


async def test_a_shed_call_goes_once_to_another_instance(
    backends: list[tuple[Backend, str]],
) -> None:
    (busy, busy_url), (idle, idle_url) = backends
    idle.shedding = False
    async with aiohttp.ClientSession() as session:
        client = await client_for([busy_url, idle_url], session)
        for _ in range(10):
            answer = await client.request("POST", "/sessions", json={})  # never started: safe
            assert answer.status == 200
    assert idle.calls == 10
    assert busy.calls <= 10


async def test_when_every_instance_sheds_the_call_gives_up_after_trying_each_once(
    backends: list[tuple[Backend, str]],
) -> None:
    async with aiohttp.ClientSession() as session:
        client = await client_for([url for _, url in backends], session)
        with pytest.raises(ServiceUnavailable, match="overloaded"):
            await client.request("GET", "/rows")
    assert [b.calls for b, _ in backends] == [1, 1]


async def test_calls_carry_the_priority_of_the_work_they_are_for(
    backends: list[tuple[Backend, str]],
) -> None:
    backend, url = backends[0]
    backend.shedding = False
    async with aiohttp.ClientSession() as session:
        client = await client_for([url], session)
        await client.request("GET", "/a")
        with at_priority(Priority.CRITICAL):
            await client.request("GET", "/b")
        with at_priority(Priority.BACKGROUND):
            await client.request("GET", "/c")
    assert backend.priorities == ["normal", "critical", "background"]
