"""Intro and credits markers: where a movie's or an episode's intro runs (the player offers
"Skip intro" inside it) and where its credits start (an episode's "Next episode" countdown
begins there). Admins set them; they only have to make sense together."""

from __future__ import annotations

from typing import Any, Protocol

from cinemesh.platform.errors import ApiError

MARKERS = ("intro_start_s", "intro_end_s", "credits_start_s")


class Marked(Protocol):
    """A title or an episode: both carry the three markers and maybe an asset."""

    intro_start_s: float | None
    intro_end_s: float | None
    credits_start_s: float | None
    asset: dict[str, Any] | None


def markers_of(item: Marked) -> dict[str, float | None]:
    return {name: getattr(item, name) for name in MARKERS}


def set_markers(item: Marked, changes: dict[str, Any]) -> None:
    """Apply the markers named in `changes` (None clears one), then check they fit together."""
    for name in MARKERS:
        if name in changes:
            setattr(item, name, changes[name])
    check_markers(item)


def check_markers(item: Marked) -> None:
    """422 INVALID_MARKERS unless the intro has both ends in order, the credits start after
    it, and every marker falls inside the video when its length is known."""
    start, end, credits = item.intro_start_s, item.intro_end_s, item.credits_start_s
    if (start is None) != (end is None):
        raise invalid("an intro needs both intro_start_s and intro_end_s (or neither)")
    if start is not None and end is not None and start >= end:
        raise invalid("intro_start_s must be before intro_end_s")
    if credits is not None and end is not None and credits < end:
        raise invalid("credits_start_s must not be before intro_end_s")
    duration = (item.asset or {}).get("duration_s")
    latest = max((m for m in (start, end, credits) if m is not None), default=None)
    if duration and latest is not None and latest > float(duration):
        raise invalid(f"a marker is past the end of the video ({float(duration):.1f} s)")


def invalid(message: str) -> ApiError:
    return ApiError(422, "INVALID_MARKERS", message)
