"""/api/v1/playback/sessions: press play, heartbeat, stop (playback behind it)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from cinemesh.contracts.rows import ROW_ID_MAX, ROW_ID_PATTERN
from cinemesh.platform.bodies import RequestBody
from cinemesh.services.gateway.core import relay
from cinemesh.services.gateway.deps import GatewayDep, Member
from cinemesh.services.gateway.links import link, links, session_uses

SessionId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class StartBody(RequestBody):
    profile_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    title_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    episode_id: str | None = Field(None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")
    # the player's device (an id it keeps): where its earlier plays measured the link
    device: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    # the home row the member pressed play from (its id on the home page), for experiments
    row: str | None = Field(None, min_length=1, max_length=ROW_ID_MAX, pattern=ROW_ID_PATTERN)


class HeartbeatBody(RequestBody):
    position_s: float = Field(ge=0, le=24 * 3600)
    # the player's estimate of the link, bits a second: where the next play starts
    bandwidth_bps: int | None = Field(None, ge=1_000, le=10_000_000_000)


class Started(BaseModel):
    session_id: str
    manifest_url: str
    manifest_path: str
    edge_urls: list[str]
    resume_position_s: float
    max_height: int
    duration_s: float
    expires_at: datetime
    lease_expires_at: datetime
    heartbeat_interval_s: float
    start_bandwidth_bps: int | None = None
    start_bandwidth_measured: bool | None = None
    # the master playlist, the start rendition's playlist ({"text"}) and init segment
    # ({"base64"}) by URI relative to the manifest, so the player asks the link only for video
    start_files: dict[str, dict[str, str]] = {}


class Beat(BaseModel):
    session_id: str
    position_s: float
    lease_expires_at: datetime


router = APIRouter(prefix="/api/v1/playback", tags=["playback"])


@router.post(
    "/sessions",
    status_code=201,
    response_model=Started,
    responses=links(
        201,
        session_uses("$response.body#/session_id"),
        {
            "GetProgress": link(
                "GET /api/v1/profiles/{profile_id}/progress/{title_id}",
                {
                    "path.profile_id": "$request.body#/profile_id",
                    "path.title_id": "$request.body#/title_id",
                },
            )
        },
    ),
)
async def start(body: StartBody, request: Request, gateway: GatewayDep, who: Member) -> Response:
    """403 MATURITY_RESTRICTED, 409 NOT_PLAYABLE, 429 STREAM_LIMIT over the plan's screens."""
    await gateway.require_profile(request, who, body.profile_id)
    # The session id is chosen here so that a retry on another instance, after one died
    # mid-call, finds the session the first attempt made instead of taking a second stream.
    start_once = {**body.model_dump(exclude_none=True), "session_id": uuid.uuid4().hex}
    return relay(
        await gateway.call(
            "playback",
            "POST",
            "/v1/sessions",
            request=request,
            json=start_once,
            timeout_s=2,
            idempotent=True,
        )
    )


@router.post(
    "/sessions/{session_id}/heartbeat",
    response_model=Beat,
    responses=links(200, session_uses("$response.body#/session_id")),
)
async def heartbeat(
    body: HeartbeatBody,
    request: Request,
    gateway: GatewayDep,
    _who: Member,
    session_id: str = SessionId,
) -> Response:
    return relay(
        await gateway.call(
            "playback",
            "POST",
            f"/v1/sessions/{session_id}/heartbeat",
            request=request,
            json=body.model_dump(exclude_none=True),
            idempotent=True,
        )
    )


@router.delete("/sessions/{session_id}", status_code=204)
async def stop(
    request: Request, gateway: GatewayDep, _who: Member, session_id: str = SessionId
) -> Response:
    return relay(
        await gateway.call(
            "playback",
            "DELETE",
            f"/v1/sessions/{session_id}",
            request=request,
            idempotent=True,  # stopping twice is stopping once
        )
    )
