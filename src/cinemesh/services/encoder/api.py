"""encoder's internal API (`/v1`): upload a source for a title, read a job, read an asset."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from cinemesh.platform.auth import Principal
from cinemesh.platform.deps import Runtime, provided
from cinemesh.platform.errors import ApiError
from cinemesh.platform.observability import logger
from cinemesh.services.encoder.package import MediaFolders
from cinemesh.services.encoder.probe import ProbeError, probe
from cinemesh.services.encoder.service import Jobs, view
from cinemesh.services.encoder.settings import EncoderSettings
from cinemesh.services.encoder.upload import receive_upload
from cinemesh.services.encoder.worker import QUEUE

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"


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
Folders = Annotated[MediaFolders, provided(MediaFolders)]
Settings = Annotated[EncoderSettings, provided(EncoderSettings)]
router = APIRouter(prefix="/v1")


@router.post("/titles/{title_id}/media", status_code=202)
async def upload(
    request: Request,
    runtime: Runtime,
    jobs: JobsDep,
    folders: Folders,
    settings: Settings,
    _who: Operator,
    title_id: str = id_path(),
    episode_id: str | None = Query(None, max_length=64, pattern=ID_PATTERN),
) -> dict[str, Any]:
    """Stream a source video in (multipart field `file`), probe it, queue its encode."""
    received = await receive_upload(request, folders.sources, limit=settings.max_upload_bytes)
    try:
        info = await asyncio.to_thread(probe, received.path)
    except ProbeError as exc:
        received.path.unlink(missing_ok=True)
        raise ApiError(422, exc.code, exc.message) from None
    source = f"src-{received.path.name.removeprefix('.incoming-')}"
    os.rename(received.path, folders.sources / source)
    job = await jobs.create(title_id=title_id, episode_id=episode_id, source=source, info=info)
    try:
        queue = await asyncio.wait_for(runtime.work_queue(QUEUE), timeout=5.0)
        await queue.enqueue(job.id, {"job_id": job.id})
    except Exception as exc:
        log.error("could not queue an encode job", job_id=job.id, error=str(exc))
        await jobs.fail(job.id, "the job queue was unavailable; upload again")
        raise ApiError(
            503,
            "QUEUE_UNAVAILABLE",
            "the encode queue is unavailable; try the upload again shortly",
            headers={"Retry-After": "5"},
        ) from None
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
