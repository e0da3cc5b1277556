"""A signed-in profile's experiment treatments travel on every call the gateway makes for it
(search, title pages, playback starts), looked up once per profile and kept; with experiments
down the profile gets control and every page still answers; a client never picks its cells."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI

from cinemesh.platform.auth import Principal
from cinemesh.platform.faults import FaultState
from cinemesh.platform.http import CallPolicy, ServiceClient
from cinemesh.platform.kept import KeptReads
from cinemesh.platform.middleware import PlatformMiddleware
from cinemesh.platform.settings import PlatformSettings
from cinemesh.platform.treatments import TREATMENTS_HEADER
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.deps import rate_limited_member
from cinemesh.services.gateway.routes import catalog, playback, search
from cinemesh.services.gateway.settings import GatewaySettings
from tests.support.fake_upstreams import OneAddress, serving

OWNER = Principal(account_id="a1", role="member", plan="basic")
CELLS = "recommender.model=seq-ease"


class Services:
    """Every service behind the gateway on one loopback server, recording what each call
    carried: `(path, treatments header or None)`."""

    def __init__(self) -> None:
        self.experiments_up = True
        self.allocations = 0
        self.carried: list[tuple[str, str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path == "/v1/allocations":
            self.allocations += 1
            if not self.experiments_up:
                return web.json_response({"error": {"code": "DOWN"}}, status=503)
            return web.json_response(
                {"allocations": [{"experiment_id": "e1"}], "treatments": CELLS}
            )
        self.carried.append((path, request.headers.get(TREATMENTS_HEADER)))
        if path.startswith("/v1/profiles/") and path.count("/") == 3:
            return web.json_response({"id": path.rsplit("/", 1)[-1], "maturity": "PG"})
        if path == "/v1/search":
            return web.json_response({"hits": [], "facets": {}, "total": 0, "took_ms": 1})
        if path.startswith("/v1/titles/"):
            return web.json_response({"id": "t1", "title": "T", "maturity_rating": "PG"})
        if path == "/v1/sessions":
            return web.json_response({"session_id": "s1"}, status=201)
        return web.json_response({"error": {"code": "NOT_FOUND"}}, status=404)

    def asked(self, path: str) -> list[str | None]:
        return [carried for asked, carried in self.carried if asked == path]


@pytest.fixture
async def services() -> AsyncIterator[tuple[Services, str]]:
    backend = Services()
    async with serving(backend.handle) as url:
        yield backend, url


@pytest.fixture
async def gateway(services: tuple[Services, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's search, catalog and playback routes behind the platform middleware,
    calling the services through the resilient client; the caller is signed in as OWNER."""
    _, url = services
    async with aiohttp.ClientSession() as session:
        clients: dict[str, ServiceClient] = {}

        def client(service: str) -> ServiceClient:
            if service not in clients:
                clients[service] = ServiceClient(
                    service,
                    caller="gateway",
                    discovery=OneAddress(url),  # type: ignore[arg-type]
                    session=session,
                    policy=CallPolicy(timeout_s=2.0, retries=0),
                    auth_headers={},
                )
            return clients[service]

        runtime = SimpleNamespace(
            settings=PlatformSettings(),
            clients=client,
            kept_reads=lambda notice, **_settings: KeptReads(notice),
        )
        app = FastAPI()
        for router in (search.router, catalog.router, playback.router):
            app.include_router(router)
        app.state.provided = {Gateway: Gateway(runtime, GatewaySettings())}  # type: ignore[arg-type]
        app.dependency_overrides[rate_limited_member] = lambda: OWNER
        app.add_middleware(
            PlatformMiddleware,
            service="gateway",
            service_token="t",
            faults=FaultState(),
            public=True,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            yield http


async def browse_search_and_play(http: httpx.AsyncClient) -> None:
    assert (
        await http.get("/api/v1/search", params={"q": "a", "profile_id": "p1"})
    ).status_code == 200
    title = await http.get("/api/v1/titles/t1", params={"profile_id": "p1"})
    assert title.status_code == 200
    start = {"profile_id": "p1", "title_id": "t1"}
    assert (await http.post("/api/v1/playback/sessions", json=start)).status_code == 201


async def test_search_title_pages_and_playback_starts_carry_the_profiles_cells(
    services: tuple[Services, str], gateway: httpx.AsyncClient
) -> None:
    backend, _ = services
    await browse_search_and_play(gateway)
    assert backend.asked("/v1/search") == [CELLS]
    assert backend.asked("/v1/titles/t1") == [CELLS]
    assert backend.asked("/v1/profiles/p1/progress/t1") == [CELLS]
    assert backend.asked("/v1/sessions") == [CELLS]
    assert backend.asked("/v1/profiles/p1") == [None]  # asked before the cells are known
    assert backend.allocations == 1  # kept for the profile, not asked per request or call


async def test_with_experiments_down_the_profile_gets_control_and_everything_answers(
    services: tuple[Services, str], gateway: httpx.AsyncClient
) -> None:
    backend, _ = services
    backend.experiments_up = False
    await browse_search_and_play(gateway)  # each answers as before
    assert backend.asked("/v1/search") == backend.asked("/v1/sessions") == [None]


async def test_a_client_cannot_choose_its_own_cells(
    services: tuple[Services, str], gateway: httpx.AsyncClient
) -> None:
    backend, _ = services
    backend.experiments_up = False
    own = {TREATMENTS_HEADER: "recommender.model=mine"}
    await gateway.get("/api/v1/search", params={"q": "a"}, headers=own)
    await gateway.get("/api/v1/search", params={"q": "a", "profile_id": "p1"}, headers=own)
    assert backend.asked("/v1/search") == [None, None]


async def test_a_request_without_a_profile_carries_no_earlier_requests_cells(
    services: tuple[Services, str], gateway: httpx.AsyncClient
) -> None:
    backend, _ = services
    await gateway.get("/api/v1/search", params={"q": "a", "profile_id": "p1"})
    await gateway.get("/api/v1/search", params={"q": "a"})
    assert backend.asked("/v1/search") == [CELLS, None]
