"""profiles.* events: the recommender learns from ratings and list changes."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel


class ProfileUpserted(BaseModel):
    TYPE: ClassVar[str] = "profiles.profile.upserted"
    VERSION: ClassVar[int] = 1
    profile_id: str
    account_id: str
    name: str
    kids: bool
    maturity: str


class ProfileDeleted(BaseModel):
    TYPE: ClassVar[str] = "profiles.profile.deleted"
    VERSION: ClassVar[int] = 1
    profile_id: str
    account_id: str


class TitleRated(BaseModel):
    TYPE: ClassVar[str] = "profiles.rating.set"
    VERSION: ClassVar[int] = 1
    profile_id: str
    title_id: str
    rating: Literal["up", "down", "none"]
    at: str


class MyListChanged(BaseModel):
    TYPE: ClassVar[str] = "profiles.mylist.changed"
    VERSION: ClassVar[int] = 1
    profile_id: str
    title_id: str
    action: Literal["added", "removed"]
    at: str
