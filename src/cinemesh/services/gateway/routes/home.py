"""/api/v1/home: the personal home page for a profile."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from prometheus_client import Counter

from cinemesh.platform.deps import provided
from cinemesh.services.gateway.deps import Member
from cinemesh.services.gateway.home import HomePage

HOME_PAGES = Counter(
    "cinemesh_gateway_home_pages_total",
    "Home pages answered, by whether the page was built or a recent one reused",
    ["page"],
)
BUILDS = Counter(
    "cinemesh_gateway_home_builds_total",
    "Home pages put together, for a request or to refresh a reused page in the background",
)
DEGRADED = Counter(
    "cinemesh_gateway_home_degraded_total",
    "Home pages built without the rows of a service that could not answer, by that service",
    ["service"],
)
PAGES_DEGRADED = Counter(
    "cinemesh_gateway_home_pages_degraded_total",
    "Home pages built with some rows dropped or replaced by a fallback",
)


HomePageDep = Annotated[HomePage, provided(HomePage)]
router = APIRouter(prefix="/api/v1", tags=["home"])


@router.get("/home", response_model=dict[str, Any])
async def home(
    request: Request,
    who: Member,
    page: HomePageDep,
    profile_id: str = Query(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
) -> Response:
    """Rows for the profile; `degraded` names the services whose rows were dropped or replaced."""
    gateway = page.gw  # the page builder's gateway: one dependency fewer on the busiest route
    profile = await gateway.require_profile(request, who, profile_id)

    async def build() -> tuple[bytes, bool]:
        built = await page.build(request, who, {**profile, "id": profile_id})
        BUILDS.inc()
        count_degraded(built["degraded"])
        return orjson.dumps(built), not built["degraded"]

    body, how = await gateway.home_pages.page(who.account_id, profile_id, build)
    HOME_PAGES.labels(how).inc()
    return Response(content=body, media_type="application/json")


def count_degraded(services: list[str]) -> None:
    if services:
        PAGES_DEGRADED.inc()
        for service in services:
            DEGRADED.labels(service).inc()
