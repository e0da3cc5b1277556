"""A request's experiment treatments travel on through the chassis: the resilient client sends
what the work it runs for carries, and a service takes them from its caller (a peer), so the
calls it makes in turn carry them; a public service never takes them from its client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI

from cinemesh.platform.auth import SERVICE_TOKEN_HEADER
from cinemesh.platform.faults import FaultState
from cinemesh.platform.http import CallPolicy, ServiceClient
from cinemesh.platform.middleware import PlatformMiddleware
from cinemesh.platform.treatments import (
    TREATMENTS_HEADER,
    carried_treatments,
    carry_treatments,
    stop_carrying,
)
from tests.support.fake_upstreams import OneAddress, serving

CELLS = "recommender.model=seq-ease"


def service(*, public: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/cells")
    async def cells() -> dict[str, str]:
        return {"carried": carried_treatments()}

    app.add_middleware(
        PlatformMiddleware, service="svc", service_token="t", faults=FaultState(), public=public
    )
    return app


async def carried_by(app: FastAPI, headers: dict[str, str]) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        answer = await client.get("/cells", headers=headers)
    assert answer.status_code == 200
    carried: str = answer.json()["carried"]
    return carried


async def test_a_service_carries_on_the_treatments_its_caller_sent() -> None:
    peer = {SERVICE_TOKEN_HEADER: "t", TREATMENTS_HEADER: CELLS}
    assert await carried_by(service(public=False), peer) == CELLS
    assert await carried_by(service(public=False), {SERVICE_TOKEN_HEADER: "t"}) == ""
    assert carried_treatments() == ""  # the request's treatments end with it


async def test_a_public_service_takes_no_treatments_from_its_client() -> None:
    assert await carried_by(service(public=True), {TREATMENTS_HEADER: CELLS}) == ""


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(request.headers.get(TREATMENTS_HEADER))
        return web.json_response({})


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    found = Recorder()
    async with serving(found.handle) as url:
        yield found, url


async def test_calls_carry_the_treatments_of_the_work_they_are_for(
    recorder: tuple[Recorder, str],
) -> None:
    found, url = recorder
    async with aiohttp.ClientSession() as session:
        client = ServiceClient(
            "peer",
            caller="test",
            discovery=OneAddress(url),  # type: ignore[arg-type]
            session=session,
            policy=CallPolicy(),
            auth_headers={},
        )
        await client.request("GET", "/a")
        carried = carry_treatments(CELLS)
        await client.request("GET", "/b")
        await client.request("GET", "/c", headers={TREATMENTS_HEADER: "explicit=1"})
        stop_carrying(carried)
        await client.request("GET", "/d")
    assert found.seen == [None, CELLS, "explicit=1", None]
