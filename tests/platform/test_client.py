"""The resilient client against real loopback servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from cinemesh.platform.discovery import Instance
from cinemesh.platform.http import CallPolicy, ServiceClient, ServiceUnavailable
from cinemesh.platform.resilience import BreakerPolicy


class FixedDiscovery:
    def __init__(self, urls: list[str]) -> None:
        self.urls = urls

    async def instances(self, service: str) -> list[Instance]:
        return [Instance(service, f"i{n}", url) for n, url in enumerate(self.urls)]

    async def all_instances(self) -> dict[str, list[Instance]]:
        return {}


class Backend:
    """A loopback server whose behaviour the test sets."""

    def __init__(self) -> None:
        self.calls = 0
        self.status = 200
        self.delay_s = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        return web.json_response({"method": request.method}, status=self.status)


@pytest.fixture
async def servers() -> AsyncIterator[list[tuple[Backend, str]]]:
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


def client_for(urls: list[str], session: aiohttp.ClientSession, **policy: object) -> ServiceClient:
    return ServiceClient(
        "target",
        caller="test",
        discovery=FixedDiscovery(urls),
        session=session,
        policy=CallPolicy(**policy),
        auth_headers={},
    )  # type: ignore[arg-type]


async def test_idempotent_call_is_retried_on_another_instance(servers) -> None:  # type: ignore[no-untyped-def]
    (bad, bad_url), (good, good_url) = servers
    bad.status = 503
    async with aiohttp.ClientSession() as session:
        client = client_for([bad_url, good_url], session, retries=2)
        for _ in range(6):
            response = await client.request("GET", "/x")
            assert response.status == 200
    assert good.calls == 6


async def test_non_idempotent_call_is_not_retried(servers) -> None:  # type: ignore[no-untyped-def]
    (bad, bad_url), _ = servers
    bad.status = 503
    async with aiohttp.ClientSession() as session:
        client = client_for([bad_url], session, retries=3)
        with pytest.raises(ServiceUnavailable):
            await client.request("POST", "/x", json={})
    assert bad.calls == 1


async def test_a_call_that_could_not_connect_goes_to_another_instance(servers) -> None:  # type: ignore[no-untyped-def]
    """A refused connection means the request never left, so even a POST may try elsewhere."""
    from cinemesh.runner.layout import free_port

    (good, good_url), _ = servers
    dead_url = f"http://127.0.0.1:{free_port()}"
    async with aiohttp.ClientSession() as session:
        client = client_for([dead_url, good_url], session, retries=2)
        for _ in range(4):
            response = await client.request("POST", "/x", json={})
            assert response.status == 200
    assert good.calls == 4


async def test_deadline_bounds_a_slow_dependency(servers) -> None:  # type: ignore[no-untyped-def]
    (slow, url), _ = servers
    slow.delay_s = 2.0
    async with aiohttp.ClientSession() as session:
        client = client_for([url], session, timeout_s=0.2)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ServiceUnavailable):
            await client.request("GET", "/x")
        assert asyncio.get_running_loop().time() - started < 0.6


async def test_client_errors_are_answers_not_failures(servers) -> None:  # type: ignore[no-untyped-def]
    (backend, url), _ = servers
    backend.status = 404
    async with aiohttp.ClientSession() as session:
        client = client_for([url], session, breaker=BreakerPolicy(consecutive_failures=1))
        for _ in range(3):
            assert (await client.request("GET", "/x")).status == 404
        assert client.breaker.state == "closed"


async def test_the_client_knows_whether_its_service_answered_lately(servers) -> None:  # type: ignore[no-untyped-def]
    (backend, url), _ = servers
    async with aiohttp.ClientSession() as session:
        client = client_for([url], session, retries=0)
        assert not client.answered_within(3600)
        backend.status = 404
        await client.request("GET", "/x")
        assert client.answered_within(60)
        await asyncio.sleep(0.05)
        assert not client.answered_within(0.04)
        backend.status = 500
        with pytest.raises(ServiceUnavailable):
            await client.request("GET", "/x")
        assert not client.answered_within(0.04), "a failed call is no answer"


async def test_breaker_opens_then_recovers_without_a_manual_step(servers) -> None:  # type: ignore[no-untyped-def]
    (backend, url), _ = servers
    backend.status = 500
    policy = BreakerPolicy(consecutive_failures=3, open_for_s=0.2)
    async with aiohttp.ClientSession() as session:
        client = client_for([url], session, retries=0, breaker=policy)
        for _ in range(3):
            with pytest.raises(ServiceUnavailable):
                await client.request("GET", "/x")
        calls = backend.calls
        with pytest.raises(ServiceUnavailable, match="circuit open"):
            await client.request("GET", "/x")
        assert backend.calls == calls, "an open breaker must not call the dependency"
        backend.status = 200
        await asyncio.sleep(0.25)
        assert (await client.request("GET", "/x")).status == 200
        assert client.breaker.state == "closed"


async def test_no_instances_is_unavailable_not_a_crash() -> None:
    async with aiohttp.ClientSession() as session:
        client = client_for([], session)
        with pytest.raises(ServiceUnavailable, match="no instances"):
            await client.request("GET", "/x")


async def half_open_client(
    backend: Backend, url: str, session: aiohttp.ClientSession, **policy: object
) -> ServiceClient:
    """A client whose breaker one failure tripped, now half-open, and a backend that answers."""
    backend.status = 500
    breaker = BreakerPolicy(consecutive_failures=1, open_for_s=0.1)
    client = client_for([url], session, retries=0, breaker=breaker, **policy)
    with pytest.raises(ServiceUnavailable):
        await client.request("GET", "/x")
    backend.status = 200
    await asyncio.sleep(0.15)
    return client


async def test_a_cancelled_probe_does_not_hold_the_breaker_half_open_forever(servers) -> None:  # type: ignore[no-untyped-def]
    # A caller's own deadline (the home page's, with asyncio.wait_for) cancels a call. When
    # that call was the half-open breaker's one probe, the probe never reported back, and
    # every later call was refused with "probe in flight": the dependency stayed unavailable
    # to that caller for good, though it had recovered.
    (backend, url), _ = servers
    async with aiohttp.ClientSession() as session:
        client = await half_open_client(backend, url, session)
        backend.delay_s = 1.0
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.request("GET", "/x"), timeout=0.1)
        backend.delay_s = 0.0
        await asyncio.sleep(0.15)
        assert (await client.request("GET", "/x")).status == 200
        assert client.breaker.state == "closed"


async def test_a_probe_turned_away_by_a_full_bulkhead_frees_its_slot(servers) -> None:  # type: ignore[no-untyped-def]
    (backend, url), _ = servers
    async with aiohttp.ClientSession() as session:
        client = await half_open_client(backend, url, session, max_concurrent=1)
        async with client.bulkhead.slot():  # another call holds the one slot meanwhile
            with pytest.raises(ServiceUnavailable, match="bulkhead"):
                await client.request("GET", "/x")
        assert (await client.request("GET", "/x")).status == 200
        assert client.breaker.state == "closed"
