"""/api/v1/profiles/{id}/continue-watching and watched (history behind it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from cinemesh.platform.auth import Principal
from cinemesh.services.gateway.core import Gateway, relay

ProfileId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
TitleId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
EpisodeId = Query(None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/api/v1/profiles", tags=["history"])

    @api.get("/{profile_id}/continue-watching")
    async def continue_watching(
        request: Request, profile_id: str = ProfileId, who: Principal = Depends(gateway.principal)
    ) -> Response:
        """Titles in progress with resume positions, most recent first."""
        await gateway.require_profile(request, who, profile_id)
        return relay(
            await gateway.call(
                "history", "GET", f"/v1/profiles/{profile_id}/continue-watching", request=request
            )
        )

    @api.get("/{profile_id}/watched")
    async def watched(
        request: Request, profile_id: str = ProfileId, who: Principal = Depends(gateway.principal)
    ) -> Response:
        await gateway.require_profile(request, who, profile_id)
        return relay(
            await gateway.call(
                "history", "GET", f"/v1/profiles/{profile_id}/watched", request=request
            )
        )

    @api.get("/{profile_id}/progress/{title_id}")
    async def progress(
        request: Request,
        profile_id: str = ProfileId,
        title_id: str = TitleId,
        episode_id: str | None = EpisodeId,
        who: Principal = Depends(gateway.principal),
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

    return api
