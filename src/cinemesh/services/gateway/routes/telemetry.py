"""/api/v1/telemetry/play: the player's QoE beacons for the caller's own sessions, on to the
telemetry service; /api/v1/ops/telemetry: its QoE figures for the ops page.

How a beacon is authenticated. The player sends its beacons with `fetch` about every ten
seconds, the access token in `Authorization` like any other call. When the page is hidden or
closed it sends what is left with `navigator.sendBeacon`, which cannot set a header, so that
request carries the same access token in its body (`access_token`). The gateway verifies it
exactly as it verifies the header (`Gateway.principal`: signature against identity's keys,
expiry, then the account's rate limit); when both are there, the header wins. Carrying it in
the body is safe here: cinemesh keeps no cookies, so a page on another site cannot make the
browser send a beacon as the member (nothing to forge with), the URL carries nothing, and the
logs redact `access_token` wherever it appears. A token names an account, not a session: the
telemetry service checks every beacon's session against the account (sessions it learns from
playback's events), so another account's session is a 403 and one it has not heard of yet a
404 the player retries. sendBeacon sends a typeless Blob, so no Content-Type (a simple request,
no preflight): on this route a body without one is read as JSON.

What reaches telemetry: only batches that pass the published schema here (422 otherwise,
never forwarded), at most MAX_BODY_BYTES (413). Telemetry answers within BEACON_DEADLINE_S or
the batch is dropped: the player gets 202 all the same and the drop is counted. Playback never
calls telemetry, so losing it loses beacons, never a stream. Every batch's fate is counted in
`cinemesh_gateway_beacon_batches_total{outcome}`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import Counter
from pydantic import BaseModel, Field

from cinemesh.contracts.telemetry import BeaconBatch
from cinemesh.platform.auth import bearer_token
from cinemesh.platform.errors import ApiError
from cinemesh.platform.http import ServiceUnavailable
from cinemesh.services.gateway.core import Gateway, relay
from cinemesh.services.gateway.deps import GatewayDep

BEACON_DEADLINE_S = 0.5
OPS_DEADLINE_S = 0.5
MAX_BODY_BYTES = 64 * 1024
NAMED_TITLES = 20
OUTCOMES = {202: "forwarded", 401: "unauthorized", 403: "not_yours", 404: "unknown_session"}

BATCHES = Counter(
    "cinemesh_gateway_beacon_batches_total",
    "Batches of play beacons at the gateway, by what became of them",
    ["outcome"],
)


class BeaconBody(BeaconBatch):
    access_token: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="only with navigator.sendBeacon, which cannot send Authorization",
    )


class BeaconsAnswer(BaseModel):
    accepted: int
    duplicates: int = 0
    dropped: int = Field(0, description="beacons lost because telemetry did not answer in time")


class CountedBeaconRoute(APIRoute):
    """Counts the batches refused before the handler runs: too large, or not the schema."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def counted(request: Request) -> Response:
            if declared_length(request) > MAX_BODY_BYTES:
                BATCHES.labels("too_large").inc()
                raise ApiError(
                    413, "TOO_LARGE", f"a batch of beacons is at most {MAX_BODY_BYTES} bytes"
                )
            try:
                return await handle(request)
            except RequestValidationError:
                BATCHES.labels("invalid").inc()
                raise

        return counted


def declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        return MAX_BODY_BYTES + 1


router = APIRouter(tags=["telemetry"])


async def play(body: BeaconBody, request: Request, gateway: GatewayDep) -> Response:
    """Batched QoE beacons for the caller's own sessions (module docstring: authentication).
    202 even when telemetry is away (`dropped` says how many were lost); 403 SESSION_NOT_YOURS;
    404 SESSION_UNKNOWN until telemetry has heard of the session (send them again)."""
    token = await signed_in_sender(gateway, request, body)
    beacons = [b.model_dump(mode="json", exclude_none=True) for b in body.beacons]
    try:
        answer = await gateway.runtime.clients("telemetry").request(
            "POST",
            "/v1/beacons",
            json={"beacons": beacons},
            headers={"Authorization": f"Bearer {token}"},
            timeout_s=BEACON_DEADLINE_S,
            idempotent=True,  # telemetry stores a (session, seq) once
        )
    except ServiceUnavailable:
        BATCHES.labels("dropped").inc()
        return JSONResponse({"accepted": 0, "duplicates": 0, "dropped": len(beacons)}, 202)
    BATCHES.labels(OUTCOMES.get(answer.status, "refused")).inc()
    if answer.status != 202:
        return relay(answer)
    taken = answer.json()
    return JSONResponse(
        {"accepted": taken["accepted"], "duplicates": taken["duplicates"], "dropped": 0}, 202
    )


async def signed_in_sender(gateway: Gateway, request: Request, body: BeaconBody) -> str:
    """The sender's access token, from the header or else the body, checked as `Member`
    checks it (401 without a valid one) and within the account's rate limit (429)."""
    try:
        if request.headers.get("authorization") or body.access_token is None:
            token = bearer_token(request)
        else:
            token = body.access_token
        headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
        headers.append((b"authorization", f"Bearer {token}".encode()))
        await gateway.principal(Request({**request.scope, "headers": headers}))
    except ApiError as refused:
        BATCHES.labels("rate_limited" if refused.status == 429 else "unauthorized").inc()
        raise
    return token


router.add_api_route(
    "/api/v1/telemetry/play",
    play,
    methods=["POST"],
    status_code=202,
    response_model=BeaconsAnswer,
    route_class_override=CountedBeaconRoute,
    strict_content_type=False,  # sendBeacon: a typeless body, read as JSON
)


@router.get("/api/v1/ops/telemetry", tags=["ops"])
async def qoe(gateway: GatewayDep) -> dict[str, Any]:
    """QoE over the last minutes per title, edge and plan; `available` is false (and the lists
    empty) while telemetry does not answer."""
    try:
        answer = await gateway.runtime.clients("telemetry").request(
            "GET", "/v1/qoe", timeout_s=OPS_DEADLINE_S, idempotent=True
        )
    except ServiceUnavailable:
        answer = None
    if answer is None or answer.status != 200:
        return {"available": False, "by_title": [], "by_edge": [], "by_plan": []}
    figures: dict[str, Any] = answer.json()
    titles = figures.get("by_title") or []
    names = await title_names(gateway, [str(row["title"]) for row in titles[:NAMED_TITLES]])
    for row in titles:
        row["name"] = names.get(str(row["title"]))
    return {"available": True, **figures}


async def title_names(gateway: Gateway, ids: list[str]) -> dict[str, str]:
    """The titles' names from catalog; none when it cannot say in time (ids stand in)."""
    if not ids:
        return {}
    try:
        answer = await gateway.runtime.clients("catalog").request(
            "POST", "/v1/titles/batch", json={"ids": ids}, timeout_s=0.3, idempotent=True
        )
    except ServiceUnavailable:
        return {}
    if answer.status != 200:
        return {}
    return {str(t["id"]): str(t["title"]) for t in answer.json().get("titles", []) if t}
