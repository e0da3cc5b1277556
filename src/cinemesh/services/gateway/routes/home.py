"""/api/v1/home: the personal home page for a profile."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from cinemesh.platform.auth import Principal
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.home import HomePage


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["home"])
    page = HomePage(gateway)

    @api.get("/home")
    async def home(
        request: Request,
        profile_id: str = Query(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
        who: Principal = Depends(gateway.principal),
    ) -> dict[str, Any]:
        """Rows for the profile; `degraded` names the services whose rows were dropped or replaced."""
        profile = await gateway.require_profile(request, who, profile_id)
        return await page.build(request, {**profile, "id": profile_id})

    return api
