"""The catalog domain: titles with genres, seasons and episodes, their assets, and the events
that tell search and the recommender what changed."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.maturity import level
from cinemesh.contracts.media import MarkersDetected
from cinemesh.platform.errors import ApiError, conflict, not_found
from cinemesh.services.catalog.markers import MARKERS, check_markers, markers_of, set_markers
from cinemesh.services.catalog.models import Episode, Title, TitleGenre
from cinemesh.services.catalog.schemas import (
    EpisodeCreate,
    EpisodeUpdate,
    Markers,
    TitleCreate,
    TitleImport,
    TitleUpdate,
)
from cinemesh.services.catalog.views import detail, summary

Stage = Callable[..., Awaitable[Any]]
SORTS: dict[str, tuple[Any, ...]] = {
    "popularity": (Title.popularity.desc(), Title.title.asc()),
    "year": (Title.year.desc(), Title.popularity.desc()),
    "title": (Title.title.asc(),),
}
NULLABLE = ("year", "runtime_min", *MARKERS)
ADMIN, DETECTED = "admin", "detected"  # who set an episode's markers


def _now() -> datetime:
    return datetime.now(UTC)


def revision() -> int:
    """A number that grows with each change (microseconds), so consumers can drop stale events."""
    return time.time_ns() // 1000


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "title"


def episode_id(title_id: str, season: int, number: int) -> str:
    return f"{title_id}-s{season:02d}e{number:02d}"


@dataclass
class Catalog:
    stage: Stage

    async def get(self, session: AsyncSession, title_id: str) -> Title:
        title = await session.get(Title, title_id)
        if title is None:
            raise not_found("title")
        return title

    async def detail(self, session: AsyncSession, title_id: str) -> dict[str, Any]:
        title = await self.get(session, title_id)
        return detail(title, await self._episodes(session, title_id))

    async def _episodes(self, session: AsyncSession, title_id: str) -> list[Episode]:
        return list(await session.scalars(select(Episode).where(Episode.title_id == title_id)))

    async def batch(self, session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
        """Titles for `ids` in one query, in the order asked, unknown ids left out."""
        found = {
            t.id: t for t in await session.scalars(select(Title).where(Title.id.in_(set(ids))))
        }
        return [summary(found[i]) for i in dict.fromkeys(ids) if i in found]

    async def browse(
        self,
        session: AsyncSession,
        *,
        genre: str | None,
        max_maturity: str | None,
        sort: str,
        limit: int,
        offset: int,
    ) -> dict[str, Any]:
        """Available titles, optionally of one genre and up to a maturity, one page."""
        query = select(Title).where(Title.available.is_(True))
        if genre:
            in_genre = select(TitleGenre.title_id).where(
                func.lower(TitleGenre.genre) == genre.strip().lower()
            )
            query = query.where(Title.id.in_(in_genre))
        if max_maturity:
            query = query.where(Title.maturity_level <= level(max_maturity))
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(
            query.order_by(*SORTS[sort], Title.id).limit(limit).offset(offset)
        )
        return {
            "items": [summary(t) for t in rows],
            "total": total or 0,
            "limit": limit,
            "offset": offset,
        }

    async def genres(self, session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(TitleGenre.genre, func.count())
            .join(Title, Title.id == TitleGenre.title_id)
            .where(Title.available.is_(True))
            .group_by(TitleGenre.genre)
            .order_by(func.count().desc(), TitleGenre.genre)
        )
        return [{"name": name, "count": count} for name, count in rows]

    async def create(self, session: AsyncSession, body: TitleCreate) -> Title:
        title_id = body.id or f"{slug(body.title)}-{uuid.uuid4().hex[:8]}"
        if await session.get(Title, title_id) is not None:
            raise conflict("TITLE_EXISTS", f"a title with id {title_id} exists")
        title = Title(id=title_id, kind=body.kind, asset=None, created_at=_now())
        self._fill(title, body)
        session.add(title)
        session.add_all(TitleGenre(title_id=title.id, genre=g) for g in title.genres)
        await self.announce(session, title)
        return title

    def _fill(self, title: Title, body: TitleCreate) -> None:
        title.title = body.title.strip()
        title.year = body.year
        title.runtime_min = body.runtime_min
        title.maturity_rating = body.maturity_rating
        title.maturity_level = level(body.maturity_rating)
        title.synopsis = body.synopsis
        title.genres = _unique(body.genres)
        title.cast = body.cast
        title.crew = body.crew
        title.popularity = body.popularity
        title.available = body.available
        set_markers(title, markers_given(body))
        title.updated_at = _now()

    async def put(self, session: AsyncSession, body: TitleImport) -> Title:
        """Create or replace a title with a fixed id and its episodes; assets stay linked."""
        title = await session.get(Title, body.id)
        if title is None:
            return await self._import_new(session, body)
        if title.kind != body.kind:
            raise conflict("KIND_CHANGED", f"{body.id} is a {title.kind}, not a {body.kind}")
        self._fill(title, body)
        await self._set_genres(session, title)
        await self._put_episodes(session, title, body.episodes)
        await self.announce(session, title)
        return title

    async def _import_new(self, session: AsyncSession, body: TitleImport) -> Title:
        title = await self.create(session, body)
        await self._put_episodes(session, title, body.episodes)
        return title

    async def _put_episodes(
        self, session: AsyncSession, title: Title, episodes: list[EpisodeCreate]
    ) -> None:
        if episodes and title.kind != "series":
            raise conflict("NOT_A_SERIES", "episodes belong to series")
        for body in episodes:
            found = await session.get(Episode, episode_id(title.id, body.season, body.number))
            if found is None:
                session.add(self._episode(title.id, body))
            else:
                found.name, found.runtime_min = body.name, body.runtime_min
                found.synopsis = body.synopsis
                mark_by_admin(found, markers_given(body))

    async def _set_genres(self, session: AsyncSession, title: Title) -> None:
        await session.execute(delete(TitleGenre).where(TitleGenre.title_id == title.id))
        session.add_all(TitleGenre(title_id=title.id, genre=g) for g in title.genres)

    async def update(self, session: AsyncSession, title_id: str, body: TitleUpdate) -> Title:
        title = await self.get(session, title_id)
        changes = body.model_dump(exclude_unset=True)
        for name, value in changes.items():
            if value is not None or name in NULLABLE:
                setattr(title, name, _unique(value) if name == "genres" else value)
        if body.maturity_rating:
            title.maturity_level = level(body.maturity_rating)
        if body.title:
            title.title = body.title.strip()
        if body.genres is not None:
            await self._set_genres(session, title)
        check_markers(title)
        title.updated_at = _now()
        await self.announce(session, title)
        return title

    async def delete(self, session: AsyncSession, title_id: str) -> None:
        title = await self.get(session, title_id)
        await session.execute(delete(Episode).where(Episode.title_id == title_id))
        await session.execute(delete(TitleGenre).where(TitleGenre.title_id == title_id))
        await session.delete(title)
        gone = TitleDeleted(title_id=title_id, revision=revision())
        await self.stage(session, TitleDeleted.TYPE, gone.model_dump(mode="json"), key=title_id)

    async def add_episode(
        self, session: AsyncSession, title_id: str, body: EpisodeCreate
    ) -> Episode:
        title = await self.get(session, title_id)
        if title.kind != "series":
            raise conflict("NOT_A_SERIES", "episodes belong to series")
        if await session.get(Episode, episode_id(title_id, body.season, body.number)):
            raise conflict(
                "EPISODE_EXISTS", f"season {body.season} already has episode {body.number}"
            )
        episode = self._episode(title_id, body)
        session.add(episode)
        title.updated_at = _now()
        await self.announce(session, title)
        return episode

    async def update_episode(
        self, session: AsyncSession, *, title_id: str, episode_id: str, body: EpisodeUpdate
    ) -> Episode:
        """Rename, describe or mark an episode; its markers must still fit together."""
        title = await self.get(session, title_id)
        episode = await session.get(Episode, episode_id)
        if episode is None or episode.title_id != title_id:
            raise not_found("episode")
        changes = body.model_dump(exclude_unset=True)
        for name in ("name", "synopsis"):
            if changes.get(name) is not None:
                setattr(episode, name, changes[name])
        if "runtime_min" in changes:
            episode.runtime_min = changes["runtime_min"]
        mark_by_admin(episode, changes)
        title.updated_at = _now()
        return episode

    @staticmethod
    def _episode(title_id: str, body: EpisodeCreate) -> Episode:
        episode = Episode(
            id=episode_id(title_id, body.season, body.number),
            title_id=title_id,
            season=body.season,
            number=body.number,
            name=body.name,
            runtime_min=body.runtime_min,
            synopsis=body.synopsis,
            asset=None,
        )
        mark_by_admin(episode, markers_given(body))
        return episode

    async def link_asset(
        self, session: AsyncSession, *, title_id: str, episode_id: str | None, asset: dict[str, Any]
    ) -> bool:
        """Attach a ready asset to its title or episode; False when either is gone."""
        title = await session.get(Title, title_id)
        if title is None:
            return False
        if episode_id:
            episode = await session.get(Episode, episode_id)
            if episode is None or episode.title_id != title_id:
                return False
            episode.asset = asset
        else:
            title.asset = asset
        title.updated_at = _now()
        await self.announce(session, title, playable=True)
        return True

    async def take_detected(self, session: AsyncSession, found: MarkersDetected) -> bool:
        """The encoder's markers for an episode, unless an admin set its markers (or they do not
        fit the video); False when the episode keeps the ones it had."""
        episode = await session.get(Episode, found.episode_id)
        if episode is None or episode.title_id != found.title_id:
            return False
        if episode.markers_source == ADMIN:
            return False
        before = markers_of(episode)
        try:
            set_markers(episode, found.model_dump(include=set(MARKERS)))
        except ApiError:
            set_markers_unchecked(episode, before)
            return False
        episode.markers_source = DETECTED
        return True

    async def announce(
        self, session: AsyncSession, title: Title, *, playable: bool | None = None
    ) -> None:
        """Stage `catalog.title.upserted` with the whole searchable view of the title."""
        if playable is None:
            playable = bool(title.asset) or await self._has_playable_episode(session, title.id)
        event = TitleUpserted(
            title_id=title.id,
            title=title.title,
            kind=title.kind,
            genres=title.genres,
            year=title.year,
            maturity_rating=title.maturity_rating,
            synopsis=title.synopsis,
            cast=title.cast,
            crew=title.crew,
            runtime_min=title.runtime_min,
            popularity=title.popularity,
            playable=playable,
            available=title.available,
            revision=revision(),
        )
        await self.stage(session, TitleUpserted.TYPE, event.model_dump(mode="json"), key=title.id)

    async def _has_playable_episode(self, session: AsyncSession, title_id: str) -> bool:
        assets = await session.scalars(select(Episode.asset).where(Episode.title_id == title_id))
        return any(assets)


def mark_by_admin(episode: Episode, changes: dict[str, Any]) -> None:
    """Markers an admin gave or cleared (a null for a marker there is none of changes nothing):
    detection never overwrites them afterwards."""
    given = [n for n in MARKERS if n in changes]
    changed = any(changes[n] is not None or getattr(episode, n) is not None for n in given)
    set_markers(episode, changes)
    if changed:
        episode.markers_source = ADMIN


def set_markers_unchecked(episode: Episode, values: dict[str, float | None]) -> None:
    for name, value in values.items():
        setattr(episode, name, value)


def markers_given(body: Markers) -> dict[str, Any]:
    """The markers a body names: an import that leaves them out keeps the ones set before."""
    return body.model_dump(include=set(MARKERS) & body.model_fields_set)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))
