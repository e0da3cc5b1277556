"""The recommender's routes (internal, service credential required); see app.py for the API."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from cinemesh.contracts.maturity import ADULT_MAX, RATINGS
from cinemesh.platform.db import Database
from cinemesh.platform.errors import ApiError
from cinemesh.services.recommender.rows import build_rows
from cinemesh.services.recommender.service import interaction_view, profile_history
from cinemesh.services.recommender.training import ModelKeeper

ProfileId = Query(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
Maturity = Query(None, description="the profile's maturity limit: " + ", ".join(RATINGS))
Limit = Query(20, ge=1, le=100)


class RowsCache:
    """Recent answers per (profile, maturity, limit) for one snapshot, a short while."""

    def __init__(self, ttl_s: float, max_entries: int = 20_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str, int, str], tuple[float, dict[str, Any]]] = {}

    def get(self, key: tuple[str, str, int, str]) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: tuple[str, str, int, str], body: dict[str, Any]) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl_s, body)


def router(*, keeper: ModelKeeper, db: Database, cache: RowsCache) -> APIRouter:
    routes = APIRouter(prefix="/v1")

    @routes.get("/rows")
    async def rows(
        profile_id: str = ProfileId, maturity: str | None = Maturity, limit: int = Limit
    ) -> dict[str, Any]:
        if maturity is not None and maturity not in RATINGS:
            raise ApiError(422, "INVALID_REQUEST", f"maturity must be one of {', '.join(RATINGS)}")
        snapshot = keeper.current
        if snapshot is None:
            raise ApiError(503, "MODEL_NOT_READY", "the first model is still training")
        key = (profile_id, maturity or "", limit, snapshot.version)
        cached = cache.get(key)
        if cached is not None:
            return cached
        async with db.engine.connect() as conn:
            history = await profile_history(conn, profile_id)
        limit_to = maturity or history.maturity or ADULT_MAX
        body = {
            "profile_id": profile_id,
            "maturity": limit_to,
            "model": {"version": snapshot.version, "trained_at": snapshot.trained_at},
            "rows": build_rows(snapshot, history, maturity=limit_to, limit=limit),
        }
        cache.put(key, body)
        return body

    @routes.post("/retrain")
    async def retrain() -> dict[str, Any]:
        return await keeper.retrain(force=True)

    @routes.get("/model")
    async def model() -> dict[str, Any]:
        if keeper.current is None:
            raise ApiError(503, "MODEL_NOT_READY", "the first model is still training")
        return keeper.current.describe()

    @routes.get("/profiles/{profile_id}/interactions")
    async def interactions(
        profile_id: str = PathParam(min_length=1, max_length=64),
    ) -> dict[str, Any]:
        async with db.session() as session:
            return {"profile_id": profile_id, "items": await interaction_view(session, profile_id)}

    return routes
