"""catalog.title.* events: search indexes them, the recommender learns genres and maturity."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel


class TitleUpserted(BaseModel):
    """The whole searchable view of a title, so a consumer needs no call back. `revision`
    grows with every change of the title: a consumer ignores one older than what it holds."""

    TYPE: ClassVar[str] = "catalog.title.upserted"
    VERSION: ClassVar[int] = 1
    title_id: str
    title: str
    kind: str
    genres: list[str]
    year: int | None = None
    maturity_rating: str
    synopsis: str = ""
    cast: list[str] = []
    crew: list[str] = []
    runtime_min: int | None = None
    popularity: float = 0.0
    playable: bool = False
    available: bool = True
    revision: int = 0


class TitleDeleted(BaseModel):
    TYPE: ClassVar[str] = "catalog.title.deleted"
    VERSION: ClassVar[int] = 1
    title_id: str
    revision: int = 0
