"""Which requests the gateway keeps when it is past its concurrency limit: Zuul's prioritized
load shedding. A viewer pressing play, a playing video's heartbeats and signing in are kept
longest (the session start also hands out the signed media URLs the player needs); home,
search and the rest of browsing next; the player's telemetry beacons go first, since a lost
batch costs nobody a frame. The ops routes are critical too: an operator needs them most
during the overload. The priority travels to every service the request calls
(platform/concurrency.py), so theirs shed in the same order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cinemesh.platform.concurrency import Priority, is_bulk

CRITICAL_PREFIXES = ("/api/v1/playback/", "/api/v1/auth/", "/api/v1/ops/")
BACKGROUND_PREFIXES = ("/api/v1/telemetry/",)


def priority_of(scope: Mapping[str, Any]) -> Priority | None:
    """A public request's priority by its route (a client cannot choose it); None for the
    peers' /internal calls and for uploads, which the limit does not count."""
    path: str = scope["path"]
    if path.startswith("/internal/") or is_bulk(scope):
        return None
    if path.startswith(CRITICAL_PREFIXES):
        return Priority.CRITICAL
    if path.startswith(BACKGROUND_PREFIXES):
        return Priority.BACKGROUND
    return Priority.NORMAL
