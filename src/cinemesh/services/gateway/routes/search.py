"""/api/v1/search: typo-tolerant search as you type (search behind it; 503 with
SEARCH_UNAVAILABLE when it is down, and nothing else is affected)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from cinemesh.platform.errors import ApiError, error_codes
from cinemesh.services.gateway.core import relay
from cinemesh.services.gateway.deps import GatewayDep, Member
from cinemesh.services.gateway.links import links, title_uses
from cinemesh.services.gateway.routes.catalog import PLAIN, profile_id_query, profile_maturity

SEARCH_TIMEOUT_S = 0.5
SEARCH_CODES = {"INVALID_REQUEST": "a parameter breaks the schema, or year_from is after year_to"}


def year_query() -> Any:
    return Query(None, ge=1800, le=2200)


router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get(
    "/search",
    responses={
        **links(200, title_uses("$response.body#/hits/0/id")),
        **error_codes(422, SEARCH_CODES),
    },
)
async def search(
    request: Request,
    gateway: GatewayDep,
    who: Member,
    q: str = Query("", max_length=200, description="words; the last one may be a prefix"),
    genre: str | None = Query(None, max_length=40, pattern=PLAIN),
    year: int | None = year_query(),
    year_from: int | None = year_query(),
    year_to: int | None = year_query(),
    profile_id: str | None = profile_id_query(),
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=10_000),
) -> Response:
    """`{hits, facets, total, took_ms}`; the profile's maturity limits what is found."""
    if year is not None:
        year_from = year_to = year
    if year_from is not None and year_to is not None and year_from > year_to:
        raise ApiError(422, "INVALID_REQUEST", "year_from must not be after year_to")
    params: dict[str, Any] = {"q": q, "limit": limit, "offset": offset}
    filters = {
        "genre": (genre or "").strip() or None,
        "year_from": year_from,
        "year_to": year_to,
    }
    params.update({name: value for name, value in filters.items() if value is not None})
    if profile_id:
        profile = await gateway.require_profile(request, who, profile_id)
        params["max_maturity"] = profile_maturity(profile)
    return relay(
        await gateway.call(
            "search",
            "GET",
            "/v1/search",
            request=request,
            params=params,
            timeout_s=SEARCH_TIMEOUT_S,
        )
    )
