"""profiles' API payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from cinemesh.contracts.maturity import Rating as MaturityRating
from cinemesh.platform.bodies import RequestBody

# printable, and not only spaces
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
    ),
]
Avatar = Annotated[str, Field(max_length=40, pattern=r"^[a-z0-9-]*$")]
Language = Annotated[str, Field(max_length=16, pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]


class ProfileCreate(RequestBody):
    name: Name
    kids: bool = False
    maturity: MaturityRating | None = None
    avatar: Avatar = "red"
    language: Language = "en"
    audio_language: Language | None = None
    subtitle_language: Language | None = None
    autoplay_next_episode: bool = True


class ProfileUpdate(RequestBody):
    name: Name | None = None
    kids: bool | None = None
    maturity: MaturityRating | None = None
    avatar: Avatar | None = None
    language: Language | None = None
    audio_language: Language | None = None  # null: the title's own default
    subtitle_language: Language | None = None  # null: subtitles off
    autoplay_next_episode: bool | None = None


class ProfileView(BaseModel):
    id: str
    account_id: str
    name: str
    kids: bool
    maturity: MaturityRating
    avatar: str
    language: str
    audio_language: str | None = None
    subtitle_language: str | None = None
    autoplay_next_episode: bool = True


class ListItem(BaseModel):
    title_id: str
    added_at: datetime


class RatingBody(RequestBody):
    rating: Literal["up", "down", "none"]


class RatingView(BaseModel):
    title_id: str
    rating: Literal["up", "down"]
    rated_at: datetime
