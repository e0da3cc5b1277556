"""/api/v1/profiles/{id}/continue-watching and watched (history behind it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from cinemesh.services.gateway.core import relay
from cinemesh.services.gateway.deps import GatewayDep, Member
from cinemesh.services.gateway.up_next import resolve_up_next

ProfileId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
TitleId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
EpisodeId = Query(None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")


router = APIRouter(prefix="/api/v1/profiles", tags=["history"])


@router.get("/{profile_id}/continue-watching")
async def continue_watching(
    request: Request, gateway: GatewayDep, who: Member, profile_id: str = ProfileId
) -> Response:
    """Titles in progress with resume positions, most recent first; a series whose last
    episode watched was finished offers the next one from the start (`up_next`)."""
    await gateway.require_profile(request, who, profile_id)
    answered = await gateway.call(
        "history",
        "GET",
        f"/v1/profiles/{profile_id}/continue-watching",
        request=request,
        params={"up_next": "true"},
    )
    if answered.status != 200:
        return relay(answered)

    async def title(title_id: str) -> dict[str, Any] | None:
        found = await gateway.call("catalog", "GET", f"/v1/titles/{title_id}", request=request)
        return found.json() if found.status == 200 else None

    items = await resolve_up_next(answered.json().get("items", []), title)
    return JSONResponse({"items": items})


@router.get("/{profile_id}/watched")
async def watched(
    request: Request, gateway: GatewayDep, who: Member, profile_id: str = ProfileId
) -> Response:
    await gateway.require_profile(request, who, profile_id)
    return relay(
        await gateway.call("history", "GET", f"/v1/profiles/{profile_id}/watched", request=request)
    )


@router.get("/{profile_id}/progress/{title_id}")
async def progress(
    request: Request,
    gateway: GatewayDep,
    who: Member,
    profile_id: str = ProfileId,
    title_id: str = TitleId,
    episode_id: str | None = EpisodeId,
) -> Response:
    """Where the profile is in a title (or one of its episodes); 404 before it started."""
    await gateway.require_profile(request, who, profile_id)
    return relay(
        await gateway.call(
            "history",
            "GET",
            f"/v1/profiles/{profile_id}/progress/{title_id}",
            request=request,
            params={"episode_id": episode_id} if episode_id else None,
        )
    )
