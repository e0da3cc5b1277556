"""playback's API (`/v1/sessions`): start a stream, heartbeat it, stop it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam

from cinemesh.platform.auth import Principal, bearer_token
from cinemesh.platform.db import Database
from cinemesh.platform.deps import Db, Runtime, Who, provided
from cinemesh.platform.errors import ApiError, not_found
from cinemesh.platform.http import ServiceUnavailable
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.playback.schemas import Heartbeat, StartRequest
from cinemesh.services.playback.service import Playback, Viewer
from cinemesh.services.playback.settings import PlaybackSettings
from cinemesh.services.playback.start_files import StartFiles

log = logger("cinemesh.playback")

SessionId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PlaybackDep = Annotated[Playback, provided(Playback)]
Settings = Annotated[PlaybackSettings, provided(PlaybackSettings)]
StartFilesDep = Annotated[StartFiles, provided(StartFiles)]
router = APIRouter(prefix="/v1/sessions")


async def edge_urls(runtime: ServiceRuntime, settings: PlaybackSettings) -> list[str]:
    if settings.edge_urls:
        return settings.edge_urls
    try:
        instances = await runtime.discovery.instances("edge")
    except Exception as exc:  # the registry is down: no edges to offer, said as a 503
        log.warning("edge discovery failed", error=str(exc) or type(exc).__name__)
        return []
    # an edge replaced by a deploy hands its address to the new instance (runner/addresses.py):
    # for a moment both are listed under one URL
    return list(dict.fromkeys(inst.url for inst in instances))


async def viewer_of(
    request: Request,
    db: Database,
    runtime: ServiceRuntime,
    playback: Playback,
    who: Principal,
    profile_id: str,
) -> Viewer:
    """The profile from playback's own view (profiles' events); a profile created a moment
    ago whose event has not arrived yet is asked of the profiles service once."""
    async with db.session() as session:
        known = await playback.known_viewer(session, profile_id)
    if known is not None:
        if known.account_id != who.account_id:
            raise not_found("profile")
        return known
    headers = {"Authorization": f"Bearer {bearer_token(request)}"}
    try:
        answer = await runtime.clients("profiles").request(
            "GET", f"/v1/profiles/{profile_id}", headers=headers, timeout_s=0.5
        )
    except ServiceUnavailable:
        raise ApiError(
            503,
            "PROFILES_UNAVAILABLE",
            "this profile is not known yet and profiles are unavailable; try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    if answer.status != 200:
        raise not_found("profile")
    body: dict[str, Any] = answer.json()
    return Viewer(profile_id, who.account_id, str(body.get("maturity") or "NC-17"))


async def resume_point(
    request: Request,
    runtime: ServiceRuntime,
    settings: PlaybackSettings,
    body: StartRequest,
) -> float:
    """Where the profile left off; 0 when history cannot say in time."""
    params = {"episode_id": body.episode_id} if body.episode_id else None
    try:
        answer = await runtime.clients("history").request(
            "GET",
            f"/v1/profiles/{body.profile_id}/progress/{body.title_id}",
            params=params,
            headers={"Authorization": f"Bearer {bearer_token(request)}"},
            timeout_s=settings.resume_deadline_s,
            idempotent=True,
        )
    except ServiceUnavailable:
        return 0.0
    if answer.status != 200:
        return 0.0
    try:
        found = answer.json()
        return 0.0 if found.get("finished") else max(0.0, float(found.get("position_s") or 0))
    except (ValueError, TypeError, AttributeError):
        return 0.0


@router.post("", status_code=201)
async def start(
    body: StartRequest,
    request: Request,
    who: Who,
    db: Db,
    runtime: Runtime,
    playback: PlaybackDep,
    settings: Settings,
    start_files: StartFilesDep,
) -> dict[str, Any]:
    viewer = await viewer_of(request, db, runtime, playback, who, body.profile_id)
    resume = await resume_point(request, runtime, settings, body)
    urls = await edge_urls(runtime, settings)
    async with db.session() as session:
        started = await playback.start(
            session,
            who=who,
            viewer=viewer,
            title_id=body.title_id,
            episode_id=body.episode_id,
            edge_urls=urls,
            edges_configured=bool(settings.edge_urls),
            resume_s=resume,
            session_id=body.session_id,
            device=body.device or "",
            row=body.row,
        )
        await session.commit()
    # the master playlist, the start rendition's playlist and init segment: no round trip
    # over the member's link before the first byte of video
    started["start_files"] = await start_files.for_session(
        started["manifest_path"], started.get("start_bandwidth_bps")
    )
    return started


@router.post("/{session_id}/heartbeat")
async def heartbeat(
    body: Heartbeat, session_id: SessionId, who: Who, db: Db, playback: PlaybackDep
) -> dict[str, Any]:
    async with db.session() as session:
        beat = await playback.heartbeat(
            session,
            who=who,
            session_id=session_id,
            position_s=body.position_s,
            bandwidth_bps=body.bandwidth_bps,
        )
        await session.commit()
    return beat


@router.delete("/{session_id}", status_code=204)
async def stop(session_id: SessionId, who: Who, db: Db, playback: PlaybackDep) -> None:
    async with db.session() as session:
        await playback.stop(session, who=who, session_id=session_id)
        await session.commit()
