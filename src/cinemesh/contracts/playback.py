"""playback.* events: history keeps resume positions, the recommender takes implicit signal."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel


class PlaybackStarted(BaseModel):
    TYPE: ClassVar[str] = "playback.started"
    VERSION: ClassVar[int] = 1
    session_id: str
    account_id: str
    profile_id: str
    title_id: str
    episode_id: str | None = None
    at: str
    # the home row the play was started from (contracts/rows.py); None when it was not
    # started from a row (search, a link, a player that does not say)
    row: str | None = None


class PlaybackProgress(BaseModel):
    TYPE: ClassVar[str] = "playback.progress"
    VERSION: ClassVar[int] = 1
    session_id: str
    account_id: str
    profile_id: str
    title_id: str
    episode_id: str | None = None
    position_s: float
    duration_s: float
    at: str


class PlaybackStopped(PlaybackProgress):
    TYPE: ClassVar[str] = "playback.stopped"
    VERSION: ClassVar[int] = 1
