"""The gateway's shedding order: what a viewer needs to keep watching is kept longest."""

from __future__ import annotations

import pytest

from cinemesh.platform.concurrency import PRIORITY_HEADER, Priority
from cinemesh.services.gateway.priorities import priority_of


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
    assert priority_of({"method": method, "path": path}, {}) is priority


def test_a_client_cannot_raise_its_own_priority() -> None:
    scope = {"method": "GET", "path": "/api/v1/home"}
    assert priority_of(scope, {PRIORITY_HEADER: "critical"}) is Priority.NORMAL


def test_uploads_and_peer_calls_are_not_limited() -> None:
    upload = {"content-length": str(50 * 1024**2)}
    assert priority_of({"method": "POST", "path": "/api/v1/admin/titles/t/media"}, upload) is None
    assert priority_of({"method": "GET", "path": "/internal/ops/local"}, {}) is None
