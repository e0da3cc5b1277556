"""The routes every instance has of its own, whatever its service: liveness, readiness,
Prometheus metrics, and the fault switches chaos tests flip (`/internal/faults`, service
credential only)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cinemesh.platform.deps import Runtime
from cinemesh.platform.faults import FaultSpec

health_router = APIRouter(include_in_schema=False)
faults_router = APIRouter(prefix="/internal/faults", tags=["internal"], include_in_schema=False)


@health_router.get("/health/live")
async def live(runtime: Runtime) -> dict[str, str]:
    return {
        "status": "ok",
        "service": runtime.name,
        "instance": runtime.instance_id,
        "version": runtime.version,
    }


@health_router.get("/health/ready")
async def ready(runtime: Runtime) -> JSONResponse:
    ok, checks = await runtime.readiness()
    body = {
        "status": "ok" if ok else "unavailable",
        "service": runtime.name,
        "instance": runtime.instance_id,
        "version": runtime.version,
        "checks": checks,
        "concurrency": runtime.limiter.describe() if runtime.limiter else None,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@health_router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@faults_router.get("")
async def read_faults(runtime: Runtime) -> dict[str, float]:
    return asdict(runtime.faults)


@faults_router.put("")
async def set_faults(spec: FaultSpec, runtime: Runtime) -> dict[str, float]:
    state = runtime.faults
    state.latency_ms, state.error_rate, state.abort_rate = (
        spec.latency_ms,
        spec.error_rate,
        spec.abort_rate,
    )
    return asdict(state)


@faults_router.delete("")
async def clear_faults(runtime: Runtime) -> dict[str, float]:
    state = runtime.faults
    state.latency_ms = state.error_rate = state.abort_rate = 0.0
    return asdict(state)
