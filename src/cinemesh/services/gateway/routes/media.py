"""/api/v1 media ingest (admin only): upload a title's source video, follow its encode job
(encoder behind it). The upload streams through to the encoder as it arrives."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request, Response

from cinemesh.platform.errors import ApiError, error_codes
from cinemesh.services.gateway.core import Gateway, relay
from cinemesh.services.gateway.deps import AdminMember, GatewayDep
from cinemesh.services.gateway.links import link, links

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"


def id_path() -> Any:
    """A fresh Path() for each parameter (FastAPI binds one to the first name it meets)."""
    return Path(min_length=1, max_length=64, pattern=ID_PATTERN)


UPLOAD_TIMEOUT_S = 6 * 3600.0
UPLOAD_CODES = {
    "FILE_REQUIRED": "the multipart body has no `file` field",
    "MALFORMED_MULTIPART": "the multipart body is malformed",
    "EMPTY_FILE": "the file is empty",
    "NOT_A_VIDEO": "the file is not a video cinemesh can read, or it has no video stream",
    "UNSUPPORTED_RESOLUTION": "the video's picture size is outside what cinemesh encodes",
    "TRUNCATED_VIDEO": "the video is cut short",
    "TOO_SHORT": "the video is shorter than half a second",
    "CORRUPT_VIDEO": "the video stream cannot be decoded",
}
MULTIPART_OVERHEAD = 64 * 1024
EpisodeQuery = Query(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def refuse_oversized(request: Request, limit: int) -> None:
    """413 at once when the declared size is over the gateway's limit (the encoder enforces
    its own limit on the bytes as they arrive)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise ApiError(
            413,
            "FILE_TOO_LARGE",
            f"the upload is larger than the limit of {limit} bytes",
            details={"limit_bytes": limit},
        )


router = APIRouter(prefix="/api/v1/admin", tags=["admin", "media"])


async def require_title(gateway: Gateway, request: Request, title_id: str) -> None:
    """404 for a title the catalog does not know; if the catalog is down, go ahead (it
    links the asset once `media.asset.ready` reaches it)."""
    try:
        found = await gateway.call(
            "catalog", "GET", f"/v1/titles/{title_id}", request=request, timeout_s=2.0
        )
    except ApiError:
        return
    if found.status == 404:
        raise ApiError(404, "TITLE_NOT_FOUND", f"there is no title {title_id}")


@router.post(
    "/titles/{title_id}/media",
    status_code=202,
    responses={
        **error_codes(422, UPLOAD_CODES),
        **links(
            202,
            {
                "GetJob": link(
                    "GET /api/v1/admin/jobs/{job_id}", {"path.job_id": "$response.body#/job_id"}
                )
            },
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def upload_media(
    request: Request,
    gateway: GatewayDep,
    _admin: AdminMember,
    title_id: str = id_path(),
    episode_id: str | None = EpisodeQuery,
) -> Response:
    """Upload a source video (multipart field `file`) → 202 `{job_id}`."""
    refuse_oversized(request, gateway.settings.max_upload_bytes)
    await require_title(gateway, request, title_id)
    path = f"/v1/titles/{title_id}/media"
    return await stream_to_encoder(gateway, request, path, episode_id, UPLOAD_TIMEOUT_S)


async def stream_to_encoder(
    gateway: Gateway, request: Request, path: str, episode_id: str | None, timeout_s: float
) -> Response:
    """The request's multipart body, streamed to the encoder as it arrives, and its answer."""
    headers = {
        name: request.headers[name]
        for name in ("content-type", "content-length")
        if name in request.headers
    }
    return relay(
        await gateway.call(
            "encoder",
            "POST",
            path,
            request=request,
            params={"episode_id": episode_id} if episode_id else None,
            headers=headers,
            body=request.stream(),
            timeout_s=timeout_s,
        )
    )


@router.get("/jobs/{job_id}")
async def get_job(
    request: Request, gateway: GatewayDep, _admin: AdminMember, job_id: str = id_path()
) -> Any:
    """An encode job: state, percent and, once ready, the ladder decision."""
    return relay(await gateway.call("encoder", "GET", f"/v1/jobs/{job_id}", request=request))


SUBTITLE_LIMIT = 4 * 1024**2
SUBTITLE_TIMEOUT_S = 120.0
SUBTITLE_CODES = {
    "SUBTITLES_EMPTY": "the file is empty",
    "SUBTITLES_TOO_LARGE": "the file is over 4 MiB or holds too many cues",
    "NOT_SUBTITLES": "the file is binary, or text that is not SRT or WebVTT",
    "SUBTITLES_NOT_UTF8": "the file is not UTF-8 (or UTF-16 with a byte order mark)",
    "SUBTITLES_MALFORMED": "a cue's timing line is malformed or negative",
    "SUBTITLES_NO_CUES": "the file holds no cues",
    "SUBTITLES_BAD_CUE_TIMES": "a cue ends at or before its start",
    "SUBTITLES_OUT_OF_ORDER": "a cue starts before the one ahead of it",
    "SUBTITLES_OVERLAP": "a cue starts while the one ahead of it is still shown",
}


@router.post(
    "/titles/{title_id}/subtitles",
    status_code=201,
    responses=error_codes(422, SUBTITLE_CODES),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "language"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "language": {"type": "string", "example": "en"},
                            "kind": {
                                "type": "string",
                                "enum": ["subtitles", "captions", "forced"],
                                "default": "subtitles",
                            },
                            "name": {"type": "string"},
                            "publish": {"type": "boolean", "default": True},
                        },
                    }
                }
            },
        }
    },
)
async def upload_subtitles(
    request: Request,
    gateway: GatewayDep,
    _admin: AdminMember,
    title_id: str = id_path(),
    episode_id: str | None = EpisodeQuery,
) -> Response:
    """Upload an SRT or WebVTT file (multipart `file`, `language`, `kind`: subtitles, captions
    for the deaf and hard of hearing, or forced) → 201 the track, and the `job_id` of the
    package that publishes it when the title already plays."""
    refuse_oversized(request, SUBTITLE_LIMIT)
    await require_title(gateway, request, title_id)
    path = f"/v1/titles/{title_id}/subtitles"
    return await stream_to_encoder(gateway, request, path, episode_id, SUBTITLE_TIMEOUT_S)


@router.get("/titles/{title_id}/subtitles")
async def list_subtitles(
    request: Request,
    gateway: GatewayDep,
    _admin: AdminMember,
    title_id: str = id_path(),
    episode_id: str | None = EpisodeQuery,
) -> Any:
    """The subtitle tracks the title's (or episode's) next package publishes."""
    return relay(
        await gateway.call(
            "encoder",
            "GET",
            f"/v1/titles/{title_id}/subtitles",
            request=request,
            params={"episode_id": episode_id} if episode_id else None,
        )
    )
