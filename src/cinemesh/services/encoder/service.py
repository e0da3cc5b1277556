"""The encoder's domain: ingest jobs and their states, published once as events, and the
assets they produce (one `media.asset.ready` per asset, whatever the redeliveries)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.media import AssetReady, JobStateChanged, MarkersDetected
from cinemesh.platform.db import Database
from cinemesh.platform.errors import not_found
from cinemesh.services.encoder.models import Asset, Job, SubtitleTrack
from cinemesh.services.encoder.probe import SourceInfo
from cinemesh.services.encoder.subtitles import Subtitles

Stage = Callable[..., Awaitable[Any]]
FINAL_STATES = frozenset({"ready", "failed"})


def _now() -> datetime:
    return datetime.now(UTC)


def view(job: Job) -> dict[str, Any]:
    """A job as the API shows it; with the ladder decision once it is ready."""
    body: dict[str, Any] = {
        "id": job.id,
        "job_id": job.id,
        "title_id": job.title_id,
        "episode_id": job.episode_id,
        "asset_id": job.asset_id,
        "state": job.state,
        "percent": round(job.percent, 1),
        "error": job.error,
        "attempts": job.attempts,
        "worker": job.worker,
        "source": job.source_info,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }
    if job.result is not None:
        body["result"] = job.result
    body["subtitles"] = job.subtitles or []
    return body


def track_view(track: SubtitleTrack) -> dict[str, Any]:
    return {
        "id": track.id,
        "title_id": track.title_id,
        "episode_id": track.episode_id,
        "language": track.language,
        "kind": track.kind,
        "name": track.name,
        "cues": track.cues,
        "created_at": track.created_at.isoformat(),
    }


class Jobs:
    """Job records in the encoder's database, with their events staged in the same commit."""

    def __init__(self, db: Database, stage: Stage) -> None:
        self.db = db
        self.stage = stage

    async def create(
        self,
        *,
        title_id: str,
        episode_id: str | None,
        source: str,
        info: SourceInfo,
        subtitles: list[str] | None = None,
    ) -> Job:
        now = _now()
        job = Job(
            id=uuid.uuid4().hex,
            title_id=title_id,
            episode_id=episode_id,
            asset_id=uuid.uuid4().hex,
            source=source,
            source_info=info.to_dict(),
            state="queued",
            percent=0.0,
            attempts=0,
            subtitles=subtitles or [],
            created_at=now,
            updated_at=now,
        )
        async with self.db.transaction() as session:
            session.add(job)
            await self._announce(session, job)
        return job

    async def get(self, job_id: str) -> Job:
        async with self.db.session() as session:
            job = await session.get(Job, job_id)
        if job is None:
            raise not_found("job")
        return job

    async def find(self, job_id: str) -> Job | None:
        async with self.db.session() as session:
            return await session.get(Job, job_id)

    async def latest_ready(self, *, title_id: str, episode_id: str | None) -> Job | None:
        """The newest job that published this title's (or episode's) current asset."""
        query = (
            select(Job)
            .where(Job.title_id == title_id, Job.episode_id == episode_id, Job.state == "ready")
            .order_by(Job.created_at.desc())
            .limit(1)
        )
        async with self.db.session() as session:
            return (await session.execute(query)).scalar_one_or_none()

    async def start_attempt(self, job_id: str, *, worker: str) -> Job:
        async with self.db.transaction() as session:
            job = await self._locked(session, job_id)
            job.attempts += 1
            job.worker = worker
            job.error = None
            job.updated_at = _now()
            return job

    async def progress(self, job_id: str, *, state: str, percent: float) -> None:
        """Record progress; a change of state is also announced as an event."""
        async with self.db.transaction() as session:
            job = await self._locked(session, job_id)
            if job.state in FINAL_STATES:
                return
            changed = job.state != state
            job.state, job.percent, job.updated_at = state, percent, _now()
            if changed:
                await self._announce(session, job)

    async def fail(self, job_id: str, error: str) -> None:
        async with self.db.transaction() as session:
            job = await self._locked(session, job_id)
            if job.state in FINAL_STATES:
                return
            job.state, job.error, job.updated_at = "failed", error[:2000], _now()
            await self._announce(session, job)

    async def complete(self, job_id: str, manifest: dict[str, Any]) -> None:
        """Mark ready and publish the asset: the asset row makes `media.asset.ready` once."""
        async with self.db.transaction() as session:
            job = await self._locked(session, job_id)
            ready = AssetReady(
                asset_id=job.asset_id,
                title_id=job.title_id,
                episode_id=job.episode_id,
                duration_s=float(manifest["duration_s"]),
                renditions=manifest["renditions"],
            )
            if await session.get(Asset, job.asset_id) is None:
                session.add(
                    Asset(
                        id=job.asset_id,
                        job_id=job.id,
                        title_id=job.title_id,
                        episode_id=job.episode_id,
                        duration_s=ready.duration_s,
                        renditions=[r.model_dump(mode="json") for r in ready.renditions],
                        ladder=manifest["ladder"],
                        created_at=_now(),
                    )
                )
                await session.flush()
                await self.stage(
                    session, AssetReady.TYPE, ready.model_dump(mode="json"), key=job.asset_id
                )
            if job.state == "ready":
                return
            job.state, job.percent, job.error, job.updated_at = "ready", 100.0, None, _now()
            job.result = manifest
            await self._announce(session, job)

    async def announce_markers(self, detected: list[MarkersDetected]) -> None:
        """Publish a season's detected markers, every episode's in one commit."""
        async with self.db.transaction() as session:
            for markers in detected:
                data = markers.model_dump(mode="json")
                await self.stage(session, MarkersDetected.TYPE, data, key=markers.episode_id)

    async def asset(self, asset_id: str) -> Asset:
        async with self.db.session() as session:
            found = await session.get(Asset, asset_id)
        if found is None:
            raise not_found("asset")
        return found

    async def _locked(self, session: AsyncSession, job_id: str) -> Job:
        job = (
            await session.execute(select(Job).where(Job.id == job_id).with_for_update())
        ).scalar_one_or_none()
        if job is None:
            raise not_found("job")
        return job

    async def _announce(self, session: AsyncSession, job: Job) -> None:
        change = JobStateChanged(
            job_id=job.id,
            title_id=job.title_id,
            state=job.state,
            percent=round(job.percent, 1),
            error=job.error,
        )
        await self.stage(session, JobStateChanged.TYPE, change.model_dump(mode="json"), key=job.id)


class SubtitleTracks:
    """Checked subtitle and caption files per title or episode, kept as WebVTT."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        *,
        title_id: str,
        episode_id: str | None,
        language: str,
        kind: str,
        name: str,
        subtitles: Subtitles,
    ) -> SubtitleTrack:
        track = SubtitleTrack(
            id=uuid.uuid4().hex,
            title_id=title_id,
            episode_id=episode_id,
            language=language,
            kind=kind,
            name=name,
            webvtt=subtitles.to_webvtt(),
            cues=len(subtitles.cues),
            created_at=_now(),
        )
        async with self.db.transaction() as session:
            session.add(track)
        return track

    async def current(self, *, title_id: str, episode_id: str | None) -> list[SubtitleTrack]:
        """The newest track of each language and kind, in the order they were first given."""
        query = (
            select(SubtitleTrack)
            .where(SubtitleTrack.title_id == title_id, SubtitleTrack.episode_id == episode_id)
            .order_by(SubtitleTrack.created_at)
        )
        async with self.db.session() as session:
            found = (await session.execute(query)).scalars().all()
        newest: dict[tuple[str, str], SubtitleTrack] = {}
        for track in found:
            newest[(track.language, track.kind)] = track
        return list(newest.values())

    async def get_many(self, ids: list[str]) -> list[SubtitleTrack]:
        """The tracks named, in that order (ids no longer known are skipped)."""
        if not ids:
            return []
        async with self.db.session() as session:
            found = (
                (await session.execute(select(SubtitleTrack).where(SubtitleTrack.id.in_(ids))))
                .scalars()
                .all()
            )
        by_id = {t.id: t for t in found}
        return [by_id[i] for i in ids if i in by_id]
