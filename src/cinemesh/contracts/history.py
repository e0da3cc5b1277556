"""history.* events."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

FINISHED_FRACTION = 0.95


class TitleWatched(BaseModel):
    """A profile watched a title (or an episode of it) past FINISHED_FRACTION."""

    TYPE: ClassVar[str] = "history.watched"
    VERSION: ClassVar[int] = 1
    profile_id: str
    title_id: str
    episode_id: str | None = None
    at: str
