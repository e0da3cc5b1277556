"""The gateway's shedding order: what a viewer needs to keep watching is kept longest."""

from __future__ import annotations

from typing import Any

import pytest

from cinemesh.platform.concurrency import PRIORITY_HEADER, Priority
from cinemesh.services.gateway.priorities import priority_of


def scope(method: str, path: str, **headers: str) -> dict[str, Any]:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"method": method, "path": path, "headers": raw}


@pytest.mark.parametrize(
    ("method", "path", "priority"),
    [
        ("POST", "/api/v1/playback/sessions", Priority.CRITICAL),
        ("POST", "/api/v1/playback/sessions/s1/heartbeat", Priority.CRITICAL),
        ("DELETE", "/api/v1/playback/sessions/s1", Priority.CRITICAL),
        ("POST", "/api/v1/auth/login", Priority.CRITICAL),
        ("POST", "/api/v1/auth/refresh", Priority.CRITICAL),
        ("GET", "/api/v1/ops/services", Priority.CRITICAL),
        ("GET", "/api/v1/home", Priority.NORMAL),
        ("GET", "/api/v1/search", Priority.NORMAL),
        ("GET", "/api/v1/titles/t1", Priority.NORMAL),
        ("GET", "/", Priority.NORMAL),
        ("POST", "/api/v1/telemetry/play", Priority.BACKGROUND),
    ],
)
def test_each_route_sheds_at_its_priority(method: str, path: str, priority: Priority) -> None:
    assert priority_of(scope(method, path)) is priority


def test_a_client_cannot_raise_its_own_priority() -> None:
    asking = scope("GET", "/api/v1/home", **{PRIORITY_HEADER.replace("-", "_"): "critical"})
    assert priority_of(asking) is Priority.NORMAL


def test_uploads_and_peer_calls_are_not_limited() -> None:
    upload = scope("POST", "/api/v1/admin/titles/t/media", content_length=str(50 * 1024**2))
    assert priority_of(upload) is None
    assert priority_of(scope("GET", "/internal/ops/local")) is None
