"""search's internal API (`/v1/search`)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from cinemesh.contracts.maturity import Rating as MaturityRating
from cinemesh.contracts.maturity import level
from cinemesh.platform.deps import provided
from cinemesh.platform.errors import ApiError
from cinemesh.services.search.index import Query as SearchQuery
from cinemesh.services.search.index import TitleIndex

MAX_QUERY_CHARS = 200

IndexDep = Annotated[TitleIndex, provided(TitleIndex)]
router = APIRouter(prefix="/v1")


@router.get("/search")
async def search(
    index: IndexDep,
    q: str = Query("", max_length=MAX_QUERY_CHARS),
    genre: str | None = Query(None, min_length=1, max_length=40),
    year_from: int | None = Query(None, ge=1800, le=2200),
    year_to: int | None = Query(None, ge=1800, le=2200),
    max_maturity: MaturityRating | None = None,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=10_000),
) -> dict[str, Any]:
    """`{total, hits, facets, took_ms}`: words match typo-tolerant, the last as a prefix."""
    if year_from is not None and year_to is not None and year_from > year_to:
        raise ApiError(422, "INVALID_REQUEST", "year_from must not be after year_to")
    started = time.perf_counter()
    result = index.search(
        SearchQuery(
            text=q,
            genre=genre,
            year_from=year_from,
            year_to=year_to,
            max_maturity_level=level(max_maturity) if max_maturity else None,
            limit=limit,
            offset=offset,
        )
    )
    took_ms = round((time.perf_counter() - started) * 1000, 3)
    return {**result, "took_ms": took_ms, "indexed": len(index)}
