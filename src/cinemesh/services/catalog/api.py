"""catalog's internal API (`/v1`): reads for the gateway, admin writes, bulk import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.maturity import Rating as MaturityRating
from cinemesh.platform.db import Database
from cinemesh.platform.deps import Admin, Db, provided
from cinemesh.platform.errors import conflict
from cinemesh.services.catalog.artwork import ArtworkShelf
from cinemesh.services.catalog.markers import markers_of
from cinemesh.services.catalog.schemas import (
    ID_PATTERN,
    BatchRequest,
    BulkImport,
    EpisodeCreate,
    EpisodeUpdate,
    TitleCreate,
    TitleUpdate,
)
from cinemesh.services.catalog.service import Catalog
from cinemesh.services.catalog.views import detail, episode_view, summary

Kind = Literal["poster", "backdrop"]
ARTWORK_CACHE = "public, max-age=3600"

CatalogDep = Annotated[Catalog, provided(Catalog)]
Shelf = Annotated[ArtworkShelf, provided(ArtworkShelf)]
router = APIRouter(prefix="/v1")


def title_id_path() -> Any:
    return Path(min_length=1, max_length=64, pattern=ID_PATTERN)


def episode_id_path() -> Any:
    return Path(min_length=1, max_length=80, pattern=ID_PATTERN)


@asynccontextmanager
async def writing(db: Database) -> AsyncIterator[AsyncSession]:
    """A transaction whose unique-key clash (two writers racing) is a 409, not a 500."""
    try:
        async with db.transaction() as session:
            yield session
    except IntegrityError:
        raise conflict("CONFLICT", "a concurrent change clashed with this one; retry") from None


@router.get("/titles")
async def browse(
    db: Db,
    catalog: CatalogDep,
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
async def genres(db: Db, catalog: CatalogDep) -> dict[str, Any]:
    async with db.session() as session:
        return {"genres": await catalog.genres(session)}


@router.get("/titles/{title_id}")
async def get_title(db: Db, catalog: CatalogDep, title_id: str = title_id_path()) -> dict[str, Any]:
    async with db.session() as session:
        return await catalog.detail(session, title_id)


@router.post("/titles/batch")
async def batch(body: BatchRequest, db: Db, catalog: CatalogDep) -> dict[str, Any]:
    """Hydrate a row: the titles for up to 200 ids in one query, in order."""
    async with db.session() as session:
        return {"titles": await catalog.batch(session, body.ids)}


@router.post("/titles", status_code=201)
async def create(body: TitleCreate, db: Db, catalog: CatalogDep, _admin: Admin) -> dict[str, Any]:
    async with writing(db) as session:
        title = await catalog.create(session, body)
        return detail(title, [])


@router.put("/titles/bulk")
async def bulk(body: BulkImport, db: Db, catalog: CatalogDep) -> dict[str, Any]:
    """Create or replace many titles with their episodes in one transaction (seeding and
    imports; the service credential, checked by the chassis, is the permission)."""
    async with writing(db) as session:
        for item in body.titles:
            await catalog.put(session, item)
    return {"ids": [item.id for item in body.titles]}


@router.patch("/titles/{title_id}")
async def update(
    body: TitleUpdate,
    db: Db,
    catalog: CatalogDep,
    _admin: Admin,
    title_id: str = title_id_path(),
) -> dict[str, Any]:
    async with writing(db) as session:
        title = await catalog.update(session, title_id, body)
        return {**summary(title), **markers_of(title)}


@router.delete("/titles/{title_id}", status_code=204)
async def delete(
    db: Db, catalog: CatalogDep, shelf: Shelf, _admin: Admin, title_id: str = title_id_path()
) -> None:
    async with writing(db) as session:
        await catalog.delete(session, title_id)
    await shelf.forget(title_id)


@router.post("/titles/{title_id}/episodes", status_code=201)
async def add_episode(
    body: EpisodeCreate,
    db: Db,
    catalog: CatalogDep,
    _admin: Admin,
    title_id: str = title_id_path(),
) -> dict[str, Any]:
    async with writing(db) as session:
        return episode_view(await catalog.add_episode(session, title_id, body))


@router.patch("/titles/{title_id}/episodes/{episode_id}")
async def update_episode(
    body: EpisodeUpdate,
    db: Db,
    catalog: CatalogDep,
    _admin: Admin,
    title_id: str = title_id_path(),
    episode_id: str = episode_id_path(),
) -> dict[str, Any]:
    """Change an episode: its name, synopsis, runtime, intro and credits markers."""
    async with writing(db) as session:
        episode = await catalog.update_episode(
            session, title_id=title_id, episode_id=episode_id, body=body
        )
        return episode_view(episode)


async def artwork_file(
    db: Database, catalog: Catalog, shelf: ArtworkShelf, title_id: str, kind: Kind
) -> FileResponse:
    async with db.session() as session:
        name = (await catalog.get(session, title_id)).title
    path = await shelf.image(title_id, kind, name)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": ARTWORK_CACHE})


@router.get("/artwork/{title_id}/{kind}.jpg")
async def artwork_jpg(
    db: Db, catalog: CatalogDep, shelf: Shelf, title_id: str = title_id_path(), kind: Kind = Path()
) -> FileResponse:
    """The title's poster or backdrop, drawn with Pillow on first request."""
    return await artwork_file(db, catalog, shelf, title_id, kind)


@router.get("/artwork/{title_id}/{kind}")
async def artwork(
    db: Db, catalog: CatalogDep, shelf: Shelf, title_id: str = title_id_path(), kind: Kind = Path()
) -> FileResponse:
    return await artwork_file(db, catalog, shelf, title_id, kind)
