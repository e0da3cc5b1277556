"""catalog's internal API (`/v1`): reads for the gateway, admin writes, bulk import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as FsPath
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.maturity import Rating as MaturityRating
from cinemesh.platform.auth import Principal
from cinemesh.platform.db import Database
from cinemesh.platform.errors import conflict
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.catalog.artwork import artwork_path, forget, render
from cinemesh.services.catalog.schemas import (
    ID_PATTERN,
    BatchRequest,
    BulkImport,
    EpisodeCreate,
    TitleCreate,
    TitleUpdate,
)
from cinemesh.services.catalog.service import Catalog
from cinemesh.services.catalog.views import detail, episode_view, summary

Kind = Literal["poster", "backdrop"]
ARTWORK_CACHE = "public, max-age=3600"


def title_id_path() -> Any:
    return Path(min_length=1, max_length=64, pattern=ID_PATTERN)


@asynccontextmanager
async def writing(db: Database) -> AsyncIterator[AsyncSession]:
    """A transaction whose unique-key clash (two writers racing) is a 409, not a 500."""
    try:
        async with db.transaction() as session:
            yield session
    except IntegrityError:
        raise conflict("CONFLICT", "a concurrent change clashed with this one; retry") from None


def catalog_router(runtime: ServiceRuntime, catalog: Catalog, artwork_dir: FsPath) -> APIRouter:
    router = APIRouter(prefix="/v1")
    db = runtime.db
    assert db is not None
    admin = Depends(runtime.admin)

    @router.get("/titles")
    async def browse(
        genre: str | None = Query(None, min_length=1, max_length=40),
        max_maturity: MaturityRating | None = None,
        sort: Literal["popularity", "year", "title"] = "popularity",
        limit: int = Query(40, ge=1, le=200),
        offset: int = Query(0, ge=0, le=100_000),
    ) -> dict[str, Any]:
        """Available titles by genre, most popular first, up to a maturity rating."""
        async with db.session() as session:
            return await catalog.browse(
                session,
                genre=genre,
                max_maturity=max_maturity,
                sort=sort,
                limit=limit,
                offset=offset,
            )

    @router.get("/genres")
    async def genres() -> dict[str, Any]:
        async with db.session() as session:
            return {"genres": await catalog.genres(session)}

    @router.get("/titles/{title_id}")
    async def get_title(title_id: str = title_id_path()) -> dict[str, Any]:
        async with db.session() as session:
            return await catalog.detail(session, title_id)

    @router.post("/titles/batch")
    async def batch(body: BatchRequest) -> dict[str, Any]:
        """Hydrate a row: the titles for up to 200 ids in one query, in order."""
        async with db.session() as session:
            return {"titles": await catalog.batch(session, body.ids)}

    @router.post("/titles", status_code=201)
    async def create(body: TitleCreate, _admin: Principal = admin) -> dict[str, Any]:
        async with writing(db) as session:
            title = await catalog.create(session, body)
            return detail(title, [])

    @router.put("/titles/bulk")
    async def bulk(body: BulkImport) -> dict[str, Any]:
        """Create or replace many titles with their episodes in one transaction (seeding and
        imports; the service credential, checked by the chassis, is the permission)."""
        async with writing(db) as session:
            for item in body.titles:
                await catalog.put(session, item)
        return {"ids": [item.id for item in body.titles]}

    @router.patch("/titles/{title_id}")
    async def update(
        body: TitleUpdate, title_id: str = title_id_path(), _admin: Principal = admin
    ) -> dict[str, Any]:
        async with writing(db) as session:
            title = await catalog.update(session, title_id, body)
            return summary(title)

    @router.delete("/titles/{title_id}", status_code=204)
    async def delete(title_id: str = title_id_path(), _admin: Principal = admin) -> None:
        async with writing(db) as session:
            await catalog.delete(session, title_id)
        await asyncio.to_thread(forget, artwork_dir, title_id)

    @router.post("/titles/{title_id}/episodes", status_code=201)
    async def add_episode(
        body: EpisodeCreate, title_id: str = title_id_path(), _admin: Principal = admin
    ) -> dict[str, Any]:
        async with writing(db) as session:
            return episode_view(await catalog.add_episode(session, title_id, body))

    async def artwork_file(title_id: str, kind: Kind) -> FileResponse:
        async with db.session() as session:
            name = (await catalog.get(session, title_id)).title
        path = artwork_path(artwork_dir, title_id, kind, name)
        if not path.exists():
            await asyncio.to_thread(render, name, title_id, kind, path)
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": ARTWORK_CACHE})

    @router.get("/artwork/{title_id}/{kind}.jpg")
    async def artwork_jpg(title_id: str = title_id_path(), kind: Kind = Path()) -> FileResponse:
        """The title's poster or backdrop, drawn with Pillow on first request."""
        return await artwork_file(title_id, kind)

    @router.get("/artwork/{title_id}/{kind}")
    async def artwork(title_id: str = title_id_path(), kind: Kind = Path()) -> FileResponse:
        return await artwork_file(title_id, kind)

    return router
