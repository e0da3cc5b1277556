"""encoder's internal API (`/v1`): upload a source for a title, read a job, read an asset."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile

from cinemesh.platform.auth import Principal
from cinemesh.platform.deps import Runtime, provided
from cinemesh.platform.errors import ApiError, unavailable
from cinemesh.platform.media_store import OriginUnavailable
from cinemesh.platform.observability import logger
from cinemesh.services.encoder.embedded_subtitles import EmbeddedTrack, extract_subtitles
from cinemesh.services.encoder.models import Job
from cinemesh.services.encoder.package import MediaFolders
from cinemesh.services.encoder.probe import ProbeError, SourceInfo, probe
from cinemesh.services.encoder.service import Jobs, SubtitleTracks, track_view, view
from cinemesh.services.encoder.settings import EncoderSettings
from cinemesh.services.encoder.sources import SourceShelf
from cinemesh.services.encoder.subtitles import MAX_BYTES, SubtitleError, parse_subtitles
from cinemesh.services.encoder.tracks import LANGUAGE_PATTERN, normal_language, track_name
from cinemesh.services.encoder.upload import receive_upload
from cinemesh.services.encoder.worker import QUEUE

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


def id_path() -> Any:
    """A fresh Path() for each parameter (FastAPI binds one to the first name it meets)."""
    return Path(min_length=1, max_length=64, pattern=ID_PATTERN)


log = logger("cinemesh.encoder.api")


async def operator(request: Request, runtime: Runtime) -> Principal | None:
    """An admin's token, or no token at all: a service call (the credential is checked
    by the chassis) such as first-run seeding."""
    if not request.headers.get("authorization"):
        return None
    return await runtime.admin(request)


Operator = Annotated[Principal | None, Depends(operator)]
JobsDep = Annotated[Jobs, provided(Jobs)]
TracksDep = Annotated[SubtitleTracks, provided(SubtitleTracks)]
Folders = Annotated[MediaFolders, provided(MediaFolders)]
Sources = Annotated[SourceShelf, provided(SourceShelf)]
Settings = Annotated[EncoderSettings, provided(EncoderSettings)]
router = APIRouter(prefix="/v1")


@router.post("/titles/{title_id}/media", status_code=202)
async def upload(
    request: Request,
    runtime: Runtime,
    jobs: JobsDep,
    tracks: TracksDep,
    folders: Folders,
    sources: Sources,
    settings: Settings,
    _who: Operator,
    title_id: str = id_path(),
    episode_id: str | None = Query(None, max_length=64, pattern=ID_PATTERN),
) -> dict[str, Any]:
    """Stream a source video in (multipart field `file`), probe it, take its text subtitle
    streams as tracks, keep it in the media store, queue its encode."""
    received = await receive_upload(request, folders.sources, limit=settings.max_upload_bytes)
    try:
        info = await asyncio.to_thread(probe, received.path)
    except ProbeError as exc:
        received.path.unlink(missing_ok=True)
        raise ApiError(422, exc.code, exc.message) from None
    embedded = await extract_subtitles(received.path)
    source = f"src-{received.path.name.removeprefix('.incoming-')}"
    try:
        await sources.keep(received.path, source)
    except OriginUnavailable:
        raise ApiError(
            503, "MEDIA_STORE_UNAVAILABLE", "the media store cannot take the source now; try again"
        ) from None
    await _keep_embedded(tracks, embedded, title_id=title_id, episode_id=episode_id)
    job = await _queue_package(
        runtime, jobs, tracks, title_id=title_id, episode_id=episode_id, source=source, info=info
    )
    log.info("source received", job_id=job.id, title_id=title_id, bytes=received.size)
    return {
        "job_id": job.id,
        "asset_id": job.asset_id,
        "state": job.state,
        "source": info.to_dict(),
    }


@router.get("/jobs/{job_id}")
async def get_job(jobs: JobsDep, _who: Operator, job_id: str = id_path()) -> dict[str, Any]:
    return view(await jobs.get(job_id))


@router.get("/assets/{asset_id}")
async def get_asset(jobs: JobsDep, asset_id: str = id_path()) -> dict[str, Any]:
    asset = await jobs.asset(asset_id)
    return {
        "asset_id": asset.id,
        "title_id": asset.title_id,
        "episode_id": asset.episode_id,
        "duration_s": asset.duration_s,
        "renditions": asset.renditions,
        "ladder": asset.ladder,
        "master_playlist": "master.m3u8",
    }


async def _keep_embedded(
    tracks: SubtitleTracks, embedded: list[EmbeddedTrack], *, title_id: str, episode_id: str | None
) -> None:
    """The source's own subtitle streams as tracks, where no track of that language and kind
    was uploaded for the title (an uploaded file wins)."""
    given = {
        (t.language, t.kind) for t in await tracks.current(title_id=title_id, episode_id=episode_id)
    }
    for track in embedded:
        if (track.language, track.kind) in given:
            continue
        given.add((track.language, track.kind))
        await tracks.add(
            title_id=title_id,
            episode_id=episode_id,
            language=track.language,
            kind=track.kind,
            name=track_name(track.language, track.kind),
            subtitles=track.subtitles,
        )


async def _queue_package(
    runtime: Runtime,
    jobs: Jobs,
    tracks: SubtitleTracks,
    *,
    title_id: str,
    episode_id: str | None,
    source: str,
    info: SourceInfo,
) -> Job:
    """A job packaging `source` with the title's (or episode's) current subtitle tracks, queued."""
    current = await tracks.current(title_id=title_id, episode_id=episode_id)
    job = await jobs.create(
        title_id=title_id,
        episode_id=episode_id,
        source=source,
        info=info,
        subtitles=[t.id for t in current],
    )
    try:
        queue = await asyncio.wait_for(runtime.work_queue(QUEUE), timeout=5.0)
        await queue.enqueue(job.id, {"job_id": job.id})
    except Exception as exc:
        log.error("could not queue an encode job", job_id=job.id, error=str(exc))
        await jobs.fail(job.id, "the job queue was unavailable; upload again")
        raise unavailable(
            "QUEUE_UNAVAILABLE", "the encode queue is unavailable; try the upload again shortly"
        ) from None
    return job


@router.post("/titles/{title_id}/subtitles", status_code=201)
async def upload_subtitles(
    runtime: Runtime,
    jobs: JobsDep,
    tracks: TracksDep,
    _who: Operator,
    title_id: str = id_path(),
    episode_id: str | None = Query(None, max_length=64, pattern=ID_PATTERN),
    file: UploadFile = File(...),
    language: str = Form(..., max_length=35, pattern=LANGUAGE_PATTERN),
    kind: Literal["subtitles", "captions", "forced"] = Form("subtitles"),
    name: str | None = Form(None, min_length=1, max_length=100, pattern=PRINTABLE),
    publish: bool = Form(True),
) -> dict[str, Any]:
    """A subtitle or caption file (SRT or WebVTT, multipart field `file`) for a title or an
    episode: checked and kept as WebVTT. When the title already plays and `publish` is true,
    its source is packaged again with every current track (a new asset replaces the old one);
    otherwise the next upload of its video publishes it."""
    data = await file.read(MAX_BYTES + 1)
    try:
        parsed = await asyncio.to_thread(parse_subtitles, data)
    except SubtitleError as exc:
        raise ApiError(422, exc.code, exc.message) from None
    language = normal_language(language)
    track = await tracks.add(
        title_id=title_id,
        episode_id=episode_id,
        language=language,
        kind=kind,
        name=name or track_name(language, kind),
        subtitles=parsed,
    )
    body = {**track_view(track), "source_format": parsed.source_format, "job_id": None}
    previous = (
        await jobs.latest_ready(title_id=title_id, episode_id=episode_id) if publish else None
    )
    if previous is not None:
        job = await _queue_package(
            runtime,
            jobs,
            tracks,
            title_id=title_id,
            episode_id=episode_id,
            source=previous.source,
            info=SourceInfo.from_dict(previous.source_info),
        )
        body["job_id"] = job.id
    log.info("subtitles received", title_id=title_id, language=language, kind=kind)
    return body


@router.get("/titles/{title_id}/subtitles")
async def list_subtitles(
    tracks: TracksDep,
    _who: Operator,
    title_id: str = id_path(),
    episode_id: str | None = Query(None, max_length=64, pattern=ID_PATTERN),
) -> dict[str, Any]:
    """The tracks the next package of this title (or episode) publishes."""
    current = await tracks.current(title_id=title_id, episode_id=episode_id)
    return {"subtitles": [track_view(t) for t in current]}
